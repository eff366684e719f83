"""
Reports (DLRs and MO messages) from an account's outbox to one of its
receiver / transceiver binds, as deliver_sm.

A `ReportPump` per bind takes leased reports from the outbox — woken by the
outbox pub/sub channel, and polling in case a wake-up was lost — a window's
worth ahead of what the bind's window has room for, and sends each as a
deliver_sm as soon as there is room.  A deliver_sm_resp with
status 0 acknowledges the report for good (acknowledgements of one reactor
turn go to Redis together); an error status, a generic_nack, a missing answer
or a lost connection leaves it in the outbox: released after ``retry_delay``
(or at once when the bind ends), it goes again to this or any other bind of
the account, on any node.

`report_pdu` builds the deliver_sm: a receipt in the DESIGN.md format with
receipted_message_id, message_state and network_error_code (esm_class 0x04),
or the MO text in GSM 03.38 (Latin-1 with ``ISO``) or UCS2, in message_payload
when it does not fit a short_message.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timezone
from functools import lru_cache

from twisted.internet import defer, task

from gateway.logs import Logger
from gateway.channels.hlr import hlr_text, is_hlr
from gateway.model import State
from gateway.smpp.constants import CommandId, DataCoding
from gateway.smpp.pdu import PDU
from gateway.smpp.receipt import receipt_text, text_deliver_sm
from gateway.smpp.session import SessionClosed
from gateway.smpp.text import TextError, encode_text, is_gsm
from gateway.store.outbox import Report

__all__ = ["ReportPump", "report_pdu", "receipt_pdu", "mo_pdu", "MULTI_KEY"]

#: Message.extra key with the submit_multi id a destination's DLR names.
MULTI_KEY = "multi"
_MAX_SHORT_MESSAGE = 254


def _utc(ms: int):
    """The UTC minute of ``ms`` (receipt dates are YYMMDDhhmm), None for 0."""
    return _utc_minute(ms // 60_000) if ms else None


@lru_cache(maxsize=256)
def _utc_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, timezone.utc).replace(tzinfo=None)


def receipt_pdu(report: Report, tlvs: bool = True) -> PDU:
    """The deliver_sm receipt of a DLR report (without TLVs for an SMPP 3.3 bind)."""
    m = report.message
    extra = m.extra
    state = State(report.state)
    error = report.error or 0
    receipt_id = extra.get(MULTI_KEY) or report.message_id
    text = receipt_text(receipt_id, state.stat, err=f"{min(error, 999):03d}", sub=1,
                        dlvrd=1 if state == State.DELIVERED else 0, submit_date=_utc(m.created),
                        done_date=_utc(report.at), text=m.text[:20])
    pdu = text_deliver_sm(
        text, receipt_id or "", state, error, source_addr=m.destination, destination_addr=m.source,
        source_addr_ton=extra.get("da_ton", 1), source_addr_npi=extra.get("da_npi", 1),
        dest_addr_ton=extra.get("sa_ton", 0), dest_addr_npi=extra.get("sa_npi", 0),
    )
    if is_hlr(report):  # an __HLR__ request: the receipt text is the HLR result (DESIGN "Channels")
        text = hlr_text(report, receipt_id).encode("ascii", "replace")
        if len(text) > _MAX_SHORT_MESSAGE and tlvs:
            pdu.params["short_message"], pdu.tlvs["message_payload"] = b"", text
        else:
            pdu.params["short_message"] = text[:_MAX_SHORT_MESSAGE]
    if not tlvs:
        pdu.tlvs = {}
    return pdu


def mo_pdu(report: Report, iso: bool = False, tlvs: bool = True) -> PDU:
    """The deliver_sm carrying an incoming message."""
    m = report.message
    data_coding, octets = _encode_mo(m.text, m.raw, m.data_coding, iso)
    params = {
        "service_type": "", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": m.source,
        "dest_addr_ton": 0, "dest_addr_npi": 0, "destination_addr": m.destination, "esm_class": 0,
        "protocol_id": 0, "priority_flag": 0, "schedule_delivery_time": "", "validity_period": "",
        "registered_delivery": 0, "replace_if_present_flag": 0, "data_coding": data_coding,
        "sm_default_msg_id": 0, "short_message": octets,
    }
    options = {}
    if len(octets) > _MAX_SHORT_MESSAGE and tlvs:
        params["short_message"], options["message_payload"] = b"", octets
    elif len(octets) > _MAX_SHORT_MESSAGE:  # SMPP 3.3 has no message_payload: cut
        params["short_message"] = octets[:_MAX_SHORT_MESSAGE]
    return PDU(CommandId.deliver_sm, 0, 0, params, options)


def _encode_mo(text: str, raw, data_coding: int, iso: bool):
    """(data_coding, octets) for an MO text: as received when we can, else GSM/Latin-1, else UCS2."""
    if raw is not None and data_coding in (DataCoding.IA5, DataCoding.LATIN_1, DataCoding.UCS2):
        return data_coding, raw
    if iso:
        try:
            return DataCoding.DEFAULT, encode_text(text, DataCoding.DEFAULT, iso=True)
        except TextError:
            pass
    elif is_gsm(text):
        return DataCoding.DEFAULT, encode_text(text, DataCoding.DEFAULT)
    return DataCoding.UCS2, encode_text(text, DataCoding.UCS2)


def report_pdu(report: Report, iso: bool = False, tlvs: bool = True) -> PDU:
    """The deliver_sm for any report."""
    return mo_pdu(report, iso, tlvs) if report.kind == "mo" else receipt_pdu(report, tlvs)


class ReportPump:
    """Feeds one bind with its account's reports; see the module docstring.

    ``session`` needs ``sendRequests(pdus)``, ``windowFree``, ``flags`` (``iso``),
    ``tlvs_allowed`` and ``peer``.
    """

    log = Logger()

    def __init__(self, session, account: str, outbox, clock, notifier=None, poll_interval: float = 2.0,
                 retry_delay: float = 5.0, coalesce: float = 0.005, max_hold: float = 20.0):
        self.session = session
        self.account = account
        self.outbox = outbox
        self.clock = clock
        self.notifier = notifier
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        self.coalesce = coalesce
        #: Reports are taken a window ahead of the bind's window: a deliver_sm_resp frees room
        #: for the next report at once, not a take's round trip to Redis later (at thousands a
        #: second, the round trip, not the client, would set the pace).  A report taken ahead
        #: and not sent within ``max_hold`` seconds goes back to the outbox, long before its
        #: lease lapses.  Takes come in at least ``min_batch`` (fewer, larger takes).
        self.ahead = max(1, getattr(session, "window", 4))
        self.min_batch = max(1, self.ahead // 4)
        self.max_hold = max_hold
        self._ready: deque = deque()  # (report, taken at): taken ahead, not sent yet
        self.delivered = 0
        self.running = False
        self._taking = False
        self._again = False
        self._acks: list[str] = []
        self._releases: list[str] = []
        self._held: dict[str, object] = {}  # report id -> delayed release
        self._flush_call = None
        self._writes: set[defer.Deferred] = set()
        self._poll = None
        self._wake_call = None

    @property
    def channel(self) -> str:
        return self.outbox.wake_channel(self.account)

    def start(self) -> None:
        self.running = True
        if self.notifier is not None:
            self.notifier.subscribe(self.channel, self._woken)
        if self.poll_interval:
            self._poll = task.LoopingCall(self.pump)
            self._poll.clock = self.clock
            self._poll.start(self.poll_interval, now=False)
        self.pump()

    def stop(self) -> defer.Deferred:
        """Take no more; release what waits for a retry; fires when acks and releases are written."""
        if self.running:
            self.running = False
            if self.notifier is not None:
                self.notifier.unsubscribe(self.channel, self._woken)
            if self._poll is not None and self._poll.running:
                self._poll.stop()
            if self._wake_call is not None and self._wake_call.active():
                self._wake_call.cancel()
            self._wake_call = None
            for rid, call in list(self._held.items()):
                call.cancel()
                self._releases.append(rid)
            self._held.clear()
            self._releases.extend(report.id for report, _ in self._ready)
            self._ready.clear()
        self._flush()
        if not self._writes:
            return defer.succeed(None)
        return defer.DeferredList(list(self._writes), consumeErrors=True).addCallback(lambda _: None)

    def _woken(self, channel, message) -> None:
        # Reports are published one by one: gather the wake-ups of a few milliseconds into one take.
        if self._wake_call is None and self.running:
            self._wake_call = self.clock.callLater(self.coalesce, self._wake)

    def _wake(self) -> None:
        self._wake_call = None
        self.pump()

    def pump(self) -> None:
        """Send the reports at hand as the bind's window has room; take more to keep `ahead` at hand."""
        if not self.running:
            return
        self._send_ready()
        if self._taking:
            self._again = True
            return
        want = self.ahead - len(self._ready)
        if want < self.min_batch:
            return  # enough at hand: responses call pump() again as they free room
        self._taking, self._again = True, False
        d = self.outbox.take(self.account, want)
        d.addCallbacks(self._taken, self._take_failed, (want,))
        d.addBoth(self._took)

    def _took(self, _) -> None:
        self._taking = False
        if self._again:
            self.pump()

    def _take_failed(self, failure) -> None:
        self.log.warn("taking reports of {system_id} failed: {error}", system_id=self.account,
                      error=failure.getErrorMessage())

    def _taken(self, reports, want: int) -> None:
        if len(reports) >= want:
            self._again = True  # there may be more
        if not self.running:
            self._releases.extend(report.id for report in reports)
        else:
            now = self.clock.seconds()
            self._ready.extend((report, now) for report in reports)
            self._send_ready()
        self._schedule_flush()

    def _send_ready(self) -> None:
        """A deliver_sm for each report at hand while the window has room (written together)."""
        room = self.session.windowFree
        if self._ready and room:
            reports, pdus = self._batch(room)
            for report, d in zip(reports, self.session.sendRequests(pdus)):
                d.addCallbacks(self._answered, self._not_answered, (report,), None, (report,))
        self._schedule_flush()

    def _batch(self, room: int) -> tuple[list[Report], list[PDU]]:
        """Up to ``room`` of the reports at hand, with their deliver_sm."""
        stale = self.clock.seconds() - self.max_hold
        iso, tlvs = self.session.flags.iso, self.session.tlvs_allowed
        reports, pdus = [], []
        while self._ready and len(pdus) < room:
            report, taken = self._ready.popleft()
            if taken < stale:
                self._releases.append(report.id)  # taken again later, with a fresh lease
                continue
            try:
                pdu = report_pdu(report, iso, tlvs)
            except Exception:  # a report we cannot encode must not stop the others
                self.log.failure("cannot build the deliver_sm of report {report_id} ({message_id})",
                                 report_id=report.id, message_id=report.message_id)
                self._hold(report.id)
                continue
            reports.append(report)
            pdus.append(pdu)
        return reports, pdus

    def _answered(self, response, report: Report) -> None:
        self.delivered += 1
        self._acks.append(report.id)
        self._schedule_flush()
        self.pump()

    def _not_answered(self, failure, report: Report) -> None:
        if failure.check(SessionClosed):
            self._releases.append(report.id)  # another bind may take it at once
        else:
            self.log.warn("deliver_sm of {kind} {message_id} to {system_id} at {peer} not accepted: {error}",
                          kind=report.kind, message_id=report.message_id, system_id=self.account,
                          peer=self.session.peer, error=failure.getErrorMessage())
            self._hold(report.id)
            self.pump()  # its room goes to the next report
        self._schedule_flush()

    def _hold(self, rid: str) -> None:
        """Keep a refused report leased for a while, then offer it again (no hot retry loop)."""
        if not self.running:
            self._releases.append(rid)
            return
        self._held[rid] = self.clock.callLater(self.retry_delay, self._retry, rid)

    def _retry(self, rid: str) -> None:
        self._held.pop(rid, None)
        self._releases.append(rid)
        self._flush()

    def _schedule_flush(self) -> None:
        if self._flush_call is None and (self._acks or self._releases):
            self._flush_call = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        for ids, write, what in ((self._acks, self.outbox.ack, "acknowledge"),
                                 (self._releases, self.outbox.release, "release")):
            if not ids:
                continue
            batch = list(ids)
            ids.clear()
            d = write(self.account, batch)
            self._writes.add(d)
            d.addErrback(self._write_failed, what, len(batch))
            d.addBoth(self._written, d)

    def _written(self, _, d) -> None:
        self._writes.discard(d)

    def _write_failed(self, failure, what: str, count: int) -> None:
        # The leases lapse and the outbox offers the reports again: a duplicate at worst, never a loss.
        self.log.warn("could not {what} {count} reports of {system_id}: {error}", what=what, count=count,
                      system_id=self.account, error=failure.getErrorMessage())
