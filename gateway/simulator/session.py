"""
One ESME connection to the simulator: the SMSC role of `SMPPSession`.

Binds (transmitter, receiver, transceiver) are checked by `SMSC.authenticate`;
no bind within ``bind_timeout`` closes the connection.  Before a bind every
request but enquire_link is ESME_RINVBNDSTS.  submit_sm and data_sm go to
`SMSC.submit`; query_sm, cancel_sm and replace_sm are answered with their
"failed" status (the simulator keeps no message store); submit_multi and
anything else unknown get ESME_RINVCMDID.
"""

from __future__ import annotations

from twisted.internet import protocol

from gateway.smpp.client import BindMode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.pdu import PDU
from gateway.smpp.session import SMPPSession

__all__ = ["SMSCSession", "SMSCFactory", "SMSC_SYSTEM_ID"]

_MODES = {
    CommandId.bind_transmitter: BindMode.TRANSMITTER,
    CommandId.bind_receiver: BindMode.RECEIVER,
    CommandId.bind_transceiver: BindMode.TRANSCEIVER,
}
_FAILED = {
    CommandId.query_sm: CommandStatus.ESME_RQUERYFAIL,
    CommandId.cancel_sm: CommandStatus.ESME_RCANCELFAIL,
    CommandId.replace_sm: CommandStatus.ESME_RREPLACEFAIL,
    CommandId.submit_multi: CommandStatus.ESME_RINVCMDID,
}


class SMSCSession(SMPPSession):
    """The simulator's side of one connection."""

    def __init__(self, smsc, clock, **options):
        super().__init__(clock, **options)
        self.smsc = smsc
        self.mode: BindMode | None = None
        self.system_id = ""
        self.unanswered = 0
        self._bind_timer = None

    @property
    def bound(self) -> bool:
        return self.mode is not None

    def connectionMade(self):
        super().connectionMade()
        self.factory.sessions.add(self)
        self.smsc.counters["connections"] += 1
        timeout = self.smsc.config.bind_timeout
        if timeout:
            self._bind_timer = self.clock.callLater(timeout, self._no_bind)

    def _no_bind(self):
        self._bind_timer = None
        self.close("no bind in time")

    def connectionLost(self, reason=protocol.connectionDone):
        if self._bind_timer is not None and self._bind_timer.active():
            self._bind_timer.cancel()
        super().connectionLost(reason)
        self.factory.sessions.discard(self)
        self.smsc.session_lost(self)

    def requestReceived(self, pdu: PDU):
        command = pdu.command_id
        if command in _MODES:
            return self._bind(pdu, _MODES[command])
        if not self.bound:
            return _refuse(pdu, CommandStatus.ESME_RINVBNDSTS)
        if command in (CommandId.submit_sm, CommandId.data_sm):
            if not self.mode.transmits:
                return pdu.resp(CommandStatus.ESME_RINVBNDSTS)
            return self.smsc.submit(self, pdu)
        if command in _FAILED:
            return pdu.resp(_FAILED[command])
        return PDU(CommandId.generic_nack, pdu.sequence_number, CommandStatus.ESME_RINVCMDID)

    def _bind(self, pdu: PDU, mode: BindMode) -> PDU:
        if self.bound:
            return pdu.resp(CommandStatus.ESME_RALYBND)
        system_id = pdu.params.get("system_id", "")
        status = self.smsc.authenticate(system_id, pdu.params.get("password", ""))
        if status:
            self.smsc.counters["binds_refused"] += 1
            self.log.info("simulator refused bind of {system_id} from {peer}", system_id=system_id, peer=self.peer)
            self.clock.callLater(0, self.close, "bind refused")
            return pdu.resp(status)
        if self._bind_timer is not None and self._bind_timer.active():
            self._bind_timer.cancel()
        self.mode, self.system_id = mode, system_id
        self.smsc.session_bound(self)
        return pdu.resp(system_id=SMSC_SYSTEM_ID)


#: The system_id the simulator answers binds with.
SMSC_SYSTEM_ID = "smsc-sim"


def _refuse(pdu: PDU, status: int) -> PDU:
    try:
        return pdu.resp(status)
    except ValueError:  # no response PDU of its own
        return PDU(CommandId.generic_nack, pdu.sequence_number, status)


class SMSCFactory(protocol.Factory):
    """Sessions of one `SMSC`."""

    noisy = False  # the listener and the session log what matters

    def __init__(self, smsc, clock):
        self.smsc = smsc
        self.clock = clock
        self.sessions: set = set()  # every open connection, bound or not

    def buildProtocol(self, addr):
        config = self.smsc.config
        session = SMSCSession(self.smsc, self.clock, window=max(1, config.deliver_window),
                              inactivity_timeout=config.inactivity_timeout or None,
                              response_timeout=30.0, max_pdu_size=70_000)
        session.factory = self
        return session
