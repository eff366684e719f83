"""
The message operations of a bound client — submit_sm, data_sm, submit_multi,
query_sm, cancel_sm, replace_sm — each a function of (account, flags, PDU)
that fires with the response PDU.

The protocol decodes and encodes; these ask the store: `Acceptor` (every
account rule, and the durable write: a message id is answered only after
Redis acknowledged it), `PartAssembler` (long messages sent part by part: the
same id for every part, unless ``SINGLE``), `MessageStore` (query_sm) and
`MessageControl` (cancel_sm, replace_sm).  Redis being unreachable answers
ESME_RMSGQFUL (temporary: the client resubmits later), never 0.
"""

from __future__ import annotations

from twisted.internet import defer

from gateway.logs import Logger
from gateway.model import Account, split_comment
from gateway.smpp.binds import BindFlags
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import UnsuccessSme
from gateway.smpp.reports import MULTI_KEY
from gateway.smpp.split import count_parts
from gateway.smpp.submit import SubmitRefused, read_submit, read_text
from gateway.smpp.text import TextError
from gateway.smpp.times import BadTime, format_absolute, parse_time
from gateway.store.accept import AcceptError
from gateway.store.control import ControlError
from gateway.store.schedule import quiet_end
from gateway.store.scripting import StoreUnavailable

__all__ = ["MessageOperations", "STORE_DOWN_STATUS", "MULTI_KEY"]

#: The answer while the store is unreachable: a temporary error every ESME retries.
STORE_DOWN_STATUS = CommandStatus.ESME_RMSGQFUL


class MessageOperations:
    """What a bound client can do with messages; shared by every session of a factory."""

    log = Logger()

    def __init__(self, acceptor, assembler, messages, control, clock):
        self.acceptor = acceptor
        self.assembler = assembler
        self.messages = messages
        self.control = control
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    # -- submit_sm / data_sm

    def submit(self, account: Account, flags: BindFlags, pdu) -> defer.Deferred:
        """submit_sm or data_sm → its resp with our message id once the message is stored."""
        try:
            incoming = read_submit(pdu, flags, self.now_ms())
        except SubmitRefused as e:
            return defer.succeed(self._refused(account, pdu, e.status, e.reason))
        d = self._accept(account, flags, incoming)
        return d.addCallbacks(lambda m: pdu.resp(message_id=m.id), self._failed, errbackArgs=(account, pdu))

    def _accept(self, account: Account, flags: BindFlags, incoming) -> defer.Deferred:
        submit, concat = incoming
        if concat is None or flags.single:
            return self.acceptor.accept(account, submit)
        return self.assembler.accept_part(account, submit, concat.reference, concat.total, concat.seqnum)

    # -- submit_multi

    def submit_multi(self, account: Account, flags: BindFlags, pdu) -> defer.Deferred:
        """Each SME destination accepted as its own message; refused ones listed in unsuccess_sme.

        The first accepted destination's id is the answer; the others get
        ``<id>.<n>`` and carry the first id in ``extra`` so that their DLRs name it.
        """
        now, first = self.now_ms(), self.acceptor.ids.next(self.now_ms())
        accepted, refused = [], []
        for n, dest in enumerate(pdu.params.get("dest_address", ())):
            name = getattr(dest, "destination_addr", None)
            if name is None:  # a distribution list: there are none here
                refused.append(UnsuccessSme(0, 0, dest.dl_name, CommandStatus.ESME_RINVDLNAME))
                continue
            try:
                submit = read_submit(pdu, flags, now, destination=name).submit
            except SubmitRefused as e:
                if e.status in (CommandStatus.VENDOR_MESSAGE_TOO_LONG, CommandStatus.VENDOR_BAD_ENCODING):
                    return defer.succeed(self._refused(account, pdu, e.status, e.reason))
                refused.append(UnsuccessSme(dest.dest_addr_ton, dest.dest_addr_npi, name, e.status))
                continue
            submit.extra = {**submit.extra, MULTI_KEY: first}
            accepted.append((dest, self.acceptor.accept(account, submit, first if not accepted else f"{first}.{n}")))
        if not accepted and not refused:
            return defer.succeed(pdu.resp(CommandStatus.ESME_RINVNUMDESTS))
        return self._multi_result(account, pdu, first, accepted, refused)

    @defer.inlineCallbacks
    def _multi_result(self, account, pdu, first, accepted, refused):
        results = yield defer.DeferredList([d for _, d in accepted], consumeErrors=True)
        ok = False
        for (dest, _), (success, value) in zip(accepted, results):
            if success:
                ok = True
                continue
            status = self._status_of(value, account, pdu)
            refused.append(UnsuccessSme(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, status))
        if not ok and all(r.error_status_code == STORE_DOWN_STATUS for r in refused):
            return pdu.resp(STORE_DOWN_STATUS)
        return pdu.resp(message_id=first if ok else "", unsuccess_sme=refused)

    # -- query_sm, cancel_sm, replace_sm

    def query(self, account: Account, pdu) -> defer.Deferred:
        """query_sm → state, final date and error of a message of this account."""
        msg_id = pdu.params.get("message_id", "")
        d = self.messages.get(msg_id)

        def found(message):
            if message is None or message.account != account.name:
                return pdu.resp(CommandStatus.ESME_RQUERYFAIL)
            final = message.history[-1][1] if message.state.is_final and message.history else 0
            return pdu.resp(message_id=msg_id, final_date=format_absolute(final) if final else "",
                            message_state=int(message.state), error_code=min(message.error, 0xFF))

        return d.addCallbacks(found, self._failed, errbackArgs=(account, pdu))

    def cancel(self, account: Account, pdu) -> defer.Deferred:
        """cancel_sm (SMPP 3.4 section 4.9) of a message of this account still waiting in its queue.

        With a message_id, that message, if source_addr and destination_addr, when
        given, match its own (many clients send the id alone: an empty source_addr is
        not a mismatch); without, every such message from source_addr to
        destination_addr (and of service_type, when given).  ESME_RCANCELFAIL when
        nothing was cancelled.
        """
        p = pdu.params
        msg_id, source, destination = p.get("message_id", ""), p.get("source_addr", ""), p.get("destination_addr", "")
        if msg_id:
            d = self.control.cancel(account.name, msg_id, source=source or None, destination=destination)
            return d.addCallbacks(lambda _: pdu.resp(), self._failed, errbackArgs=(account, pdu))
        if not destination:
            return defer.succeed(self._refused(account, pdu, CommandStatus.ESME_RCANCELFAIL,
                                               "cancel_sm without message_id or destination_addr"))
        service_type = p.get("service_type", "")
        d = self.control.cancel_matching(account.name, source, destination, service_type)
        d.addCallback(self._cancelled, account, pdu, source, destination, service_type)
        return d.addErrback(self._failed, account, pdu)

    def _cancelled(self, cancelled, account, pdu, source, destination, service_type):
        self.log.info("cancel_sm of {system_id}: {count} messages from {source_addr!r} to {destination_addr!r}"
                      " (service_type {service_type!r}) cancelled{left}", system_id=account.name,
                      count=cancelled.count, source_addr=source, destination_addr=destination,
                      service_type=service_type,
                      left="" if cancelled.complete else "; stopped at the limit, more may be left")
        return pdu.resp(CommandStatus.ESME_ROK if cancelled.count else CommandStatus.ESME_RCANCELFAIL)

    def replace(self, account: Account, flags: BindFlags, pdu) -> defer.Deferred:
        """replace_sm: new text (and schedule, validity, registered_delivery when given)."""
        msg_id = pdu.params.get("message_id", "")
        d = self.messages.get(msg_id)
        d.addCallback(self._replace_found, account, flags, pdu)
        return d.addCallbacks(lambda _: pdu.resp(), self._failed, errbackArgs=(account, pdu))

    def _replace_found(self, message, account, flags, pdu):
        p, now = pdu.params, self.now_ms()
        if message is None or message.account != account.name:
            raise ControlError(CommandStatus.ESME_RINVMSGID, pdu.params.get("message_id", ""))
        text, comment = split_comment(read_text(p.get("short_message", b""), message.data_coding, flags))
        try:
            parts = count_parts(text, message.data_coding, iso=flags.iso)
            schedule = parse_time(p.get("schedule_delivery_time", ""), now)
            validity = parse_time(p.get("validity_period", ""), now)
        except (TextError, BadTime) as e:
            raise SubmitRefused(CommandStatus.ESME_RREPLACEFAIL, str(e)) from None
        if parts > message.parts:  # it was paid for message.parts parts
            raise SubmitRefused(CommandStatus.ESME_RREPLACEFAIL, f"{parts} parts instead of {message.parts}")
        rd = p.get("registered_delivery", 0)
        changed = message.evolve(text=text, comment=comment or message.comment, registered_delivery=rd,
                                 schedule=schedule or message.schedule, validity=validity or message.validity)
        due = quiet_end(max(schedule, now), message.quiet_hours) if schedule else None
        return self.control.replace(changed, validity=validity or None, registered_delivery=rd, due=due)

    # -- answers for refusals

    def _refused(self, account, pdu, status, reason):
        self.log.debug("{command} of {system_id} refused: {reason}", command=pdu.command_id.name,
                       system_id=account.name, reason=reason)
        return pdu.resp(status)

    def _status_of(self, failure, account, pdu) -> int:
        error = failure.value
        if isinstance(error, (AcceptError, SubmitRefused, ControlError)):
            return error.status
        if isinstance(error, StoreUnavailable):
            self.log.warn("{command} of {system_id} not stored, Redis unavailable: {reason}",
                          command=pdu.command_id.name, system_id=account.name, reason=error.reason)
            return STORE_DOWN_STATUS
        self.log.failure("{command} of {system_id} failed", failure, command=pdu.command_id.name,
                         system_id=account.name)
        return CommandStatus.ESME_RSYSERR

    def _failed(self, failure, account, pdu):
        return pdu.resp(self._status_of(failure, account, pdu))
