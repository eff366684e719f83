"""
What both ends of an SMPP connection do, whatever their role: framing,
sequence numbers, outstanding requests with a response timeout and a window,
enquire_link, the inactivity timer, and unbind.

`SMPPSession` is a `Protocol` with no business logic.  A role (the server
session for client applications, the client session towards an SMSC) subclasses
it and implements `requestReceived`, which returns the response PDU (or a
Deferred of it).  Timers come from an injected `IReactorTime`, so tests drive
them with `task.Clock`; the only I/O is ``self.transport``.
"""

from __future__ import annotations

from collections import deque

from twisted.internet import defer, protocol
from twisted.python.failure import Failure

from gateway import logs
from gateway.logs import Logger
from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU, PDUError

__all__ = ["SMPPSession", "SMPPError", "SessionClosed", "ResponseTimeout"]

# The commands every PDU is checked against (an enum member lookup costs more than the test).
_ENQUIRE_LINK = CommandId.enquire_link
_UNBIND = CommandId.unbind
_GENERIC_NACK = CommandId.generic_nack


class SMPPError(Exception):
    """The peer answered a request with a non-zero command_status (or generic_nack)."""

    def __init__(self, response: PDU):
        self.response = response
        self.status = response.command_status
        try:
            name = CommandStatus(self.status).name
        except ValueError:
            name = hex(self.status)
        super().__init__(f"{response.command_id.name} {name}")


class SessionClosed(Exception):
    """The connection went away before the request was answered."""


class ResponseTimeout(Exception):
    """The peer did not answer a request in time; the connection is being closed."""


class SMPPSession(protocol.Protocol):
    """One SMPP connection: framing, requests and responses, timers."""

    log = Logger()

    #: sequence numbers run 1 … 0x7FFFFFFF, then wrap
    _MAX_SEQUENCE = 0x7FFFFFFF

    def __init__(self, clock, *, max_pdu_size=65536, response_timeout=60.0, inactivity_timeout=120.0,
                 enquire_link_interval=None, window=100):
        self.clock = clock
        self.framer = Framer(max_length=max_pdu_size)
        self.response_timeout = response_timeout
        self.inactivity_timeout = inactivity_timeout
        self.enquire_link_interval = enquire_link_interval
        self.window = window
        self.connected = False
        self.peer = "?"
        self._sequence = 0
        #: sent and unanswered: sequence → (request, response deadline, Deferred), oldest first
        self._outstanding: dict[int, tuple[PDU, float, defer.Deferred]] = {}
        self._waiting: deque[tuple[PDU, defer.Deferred]] = deque()
        self._deadline_call = None
        self._inactivity = None
        self._keepalive = None
        self._keepalive_due = 0.0  # enquire_link_interval after the last request sent
        self._held: list[bytes] | None = None  # PDUs to write together (sendRequests)
        self._closing = False
        self._trace = False  # log every PDU (debug level): decided once per connection

    # -- connection ----------------------------------------------------------------

    def connectionMade(self):
        self.connected = True
        self._trace = logs.enabled(logs.LogLevel.debug, self.log.namespace)
        peer = self.transport.getPeer()
        self.peer = f"{getattr(peer, 'host', peer)}:{getattr(peer, 'port', '')}"
        self._touch()
        self._arm_keepalive()

    def connectionLost(self, reason=protocol.connectionDone):
        self.connected = False
        for call in (self._inactivity, self._keepalive, self._deadline_call):
            if call is not None and call.active():
                call.cancel()
        outstanding, self._outstanding = self._outstanding, {}
        waiting, self._waiting = self._waiting, deque()
        for pdu, _, d in outstanding.values():
            d.errback(Failure(SessionClosed(f"connection lost before {pdu.command_id.name} was answered")))
        for pdu, d in waiting:
            d.errback(Failure(SessionClosed(f"connection lost before {pdu.command_id.name} was sent")))

    def close(self, why: str) -> None:
        """Drop the connection now (no unbind), logging why."""
        if self.connected and not self._closing:
            self._closing = True
            self.log.info("closing SMPP connection from {peer}: {why}", peer=self.peer, why=why)
            self.transport.loseConnection()

    # -- timers ----------------------------------------------------------------------

    def _touch(self):
        """Something arrived: restart the inactivity timer."""
        if not self.inactivity_timeout:
            return
        if self._inactivity is not None and self._inactivity.active():
            self._inactivity.reset(self.inactivity_timeout)
        else:
            self._inactivity = self.clock.callLater(self.inactivity_timeout, self._inactive)

    def _inactive(self):
        self.close(f"no PDU for {self.inactivity_timeout:g} s")

    def _arm_keepalive(self, now=None):
        """Connected, or a request went out (at ``now``): enquire_link is due an interval later.

        One timer that checks the due time when it fires, rather than a timer reset per
        request (as for the response deadlines).
        """
        if not self.enquire_link_interval:
            return
        if now is None:
            now = self.clock.seconds()
        self._keepalive_due = now + self.enquire_link_interval
        if self._keepalive is None:
            self._keepalive = self.clock.callLater(self.enquire_link_interval, self._send_keepalive)

    def _send_keepalive(self):
        self._keepalive = None
        wait = self._keepalive_due - self.clock.seconds()
        if wait > 0:  # requests went out meanwhile
            self._keepalive = self.clock.callLater(wait, self._send_keepalive)
        elif self.connected and not self._closing:
            self.sendRequest(PDU(CommandId.enquire_link)).addErrback(lambda f: None)

    # -- receiving ---------------------------------------------------------------------

    def dataReceived(self, data: bytes):
        self._touch()
        while True:
            try:
                pdus = self.framer.feed(data)
            except PDUError as e:
                for pdu in e.pdus:
                    self._dispatch(pdu)
                self._bad_pdu(e)
                if not e.intact or not self.connected:
                    return
                data = b""  # the framer kept what follows the bad PDU
                continue
            for pdu in pdus:
                self._dispatch(pdu)
            return

    def _bad_pdu(self, error: PDUError):
        self.log.warn("bad PDU from {peer}: {error} → {status}", peer=self.peer, error=error,
                      status=error.status.name)
        self.sendPDU(error.response())
        if not error.intact:
            self.close("PDU framing lost")

    def _dispatch(self, pdu: PDU):
        if self._closing:
            return
        if self._trace:
            self.log.debug("{peer} → {pdu!r}", peer=self.peer, pdu=pdu)
        command_id = pdu.command_id
        if pdu.is_resp:
            self._response(pdu)
        elif command_id == _ENQUIRE_LINK and self.enquireLinkAllowed():
            self.sendPDU(pdu.resp())
        elif command_id == _UNBIND and self.unbindAllowed():
            self.unbindReceived(pdu)
        else:
            self._request(pdu)

    def _response(self, pdu: PDU):
        entry = self._outstanding.pop(pdu.sequence_number, None)
        if entry is None:
            if pdu.command_id != _GENERIC_NACK:
                self.log.warn("{peer} answered unknown sequence {seq} with {pdu!r}", peer=self.peer,
                              seq=pdu.sequence_number, pdu=pdu)
            else:
                self.log.warn("generic_nack from {peer}: {pdu!r}", peer=self.peer, pdu=pdu)
            return
        _, _, d = entry
        if self._waiting:
            self._send_waiting()
        if pdu.command_status or pdu.command_id == _GENERIC_NACK:  # status 0 is ESME_ROK
            d.errback(Failure(SMPPError(pdu)))
        else:
            d.callback(pdu)

    def _request(self, pdu: PDU):
        try:
            result = self.requestReceived(pdu)
        except Exception:
            self.log.failure("handling {command} from {peer} failed", command=pdu.command_id.name, peer=self.peer)
            result = pdu.resp(CommandStatus.ESME_RSYSERR)
        if isinstance(result, defer.Deferred):
            result.addCallbacks(self._answer, self._answer_failure, errbackArgs=(pdu,))
        else:
            self._answer(result)

    def _answer(self, response):
        if response is not None and self.connected:
            self.sendPDU(response)

    def _answer_failure(self, failure, request):
        self.log.failure("handling {command} from {peer} failed", failure, command=request.command_id.name,
                         peer=self.peer)
        self._answer(request.resp(CommandStatus.ESME_RSYSERR))

    # -- hooks for roles -------------------------------------------------------------------

    def requestReceived(self, pdu: PDU):
        """Answer a request from the peer: return a response PDU, a Deferred of one, or None."""
        return PDU(CommandId.generic_nack, pdu.sequence_number, CommandStatus.ESME_RINVCMDID)

    def enquireLinkAllowed(self) -> bool:
        """May the peer enquire_link now?  (Servers refuse it before bind.)"""
        return True

    def unbindAllowed(self) -> bool:
        return True

    def unbindReceived(self, pdu: PDU):
        """The peer unbinds: answer and close."""
        self.sendPDU(pdu.resp())
        self.log.info("{peer} unbound", peer=self.peer)
        self._closing = True
        self.transport.loseConnection()

    # -- sending ---------------------------------------------------------------------------

    def sendPDU(self, pdu: PDU) -> None:
        """Write one PDU as it is: a response (requests go through `sendRequest`)."""
        if self._trace:
            self.log.debug("{peer} ← {pdu!r}", peer=self.peer, pdu=pdu)
        if self._held is None:
            self.transport.write(encode(pdu))
        else:
            self._held.append(encode(pdu))

    def nextSequence(self) -> int:
        self._sequence = self._sequence % self._MAX_SEQUENCE + 1
        return self._sequence

    @property
    def outstanding(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._outstanding)

    @property
    def windowFree(self) -> int:
        """How many more requests may be sent before they have to wait for responses."""
        return max(0, self.window - len(self._outstanding) - len(self._waiting))

    def sendRequest(self, pdu: PDU) -> defer.Deferred:
        """
        Send a request; the Deferred fires with its response, or fails with
        `SMPPError` (error status / generic_nack), `ResponseTimeout` or
        `SessionClosed`.  Beyond the window, requests wait their turn.
        """
        d = defer.Deferred()
        if not self.connected or self._closing:
            d.errback(Failure(SessionClosed(f"not connected; {pdu.command_id.name} not sent")))
            return d
        if len(self._outstanding) >= self.window:
            self._waiting.append((pdu, d))
        else:
            self._send_request(pdu, d)
        return d

    def sendRequests(self, pdus) -> list[defer.Deferred]:
        """`sendRequest` for each of ``pdus``; those sent now go out in one write, not one each."""
        self._held = held = []
        try:
            return [self.sendRequest(pdu) for pdu in pdus]
        finally:
            self._held = None
            if held:
                self.transport.write(b"".join(held))

    def _send_request(self, pdu: PDU, d: defer.Deferred):
        pdu.sequence_number = sequence = self.nextSequence()
        now = self.clock.seconds()
        self._outstanding[sequence] = (pdu, now + self.response_timeout, d)
        if self._deadline_call is None:
            self._deadline_call = self.clock.callLater(self.response_timeout, self._check_deadline)
        self.sendPDU(pdu)
        if self.enquire_link_interval:
            self._arm_keepalive(now)

    def _check_deadline(self):
        """One timer for every outstanding request rather than one each (a timer per PDU is a
        heap insertion and a cancellation at thousands a second): every request has the same
        timeout, so the oldest one unanswered is the first to run out."""
        self._deadline_call = None
        if not self._outstanding:
            return
        sequence, (_, deadline, _) = next(iter(self._outstanding.items()))
        now = self.clock.seconds()
        if deadline > now:
            self._deadline_call = self.clock.callLater(deadline - now, self._check_deadline)
        else:
            self._timed_out(sequence)

    def _send_waiting(self):
        while self._waiting and len(self._outstanding) < self.window and self.connected:
            pdu, d = self._waiting.popleft()
            self._send_request(pdu, d)

    def _timed_out(self, sequence: int):
        entry = self._outstanding.pop(sequence, None)
        if entry is None:
            return
        request, _, d = entry
        self.log.warn("{peer} did not answer {command} (sequence {seq}) within {timeout:g} s",
                      peer=self.peer, command=request.command_id.name, seq=sequence, timeout=self.response_timeout)
        # closing first: whatever the errback sends next must not go out on a dropped connection
        self.close("response timeout")
        d.errback(Failure(ResponseTimeout(f"no response to {request.command_id.name} in {self.response_timeout:g} s")))

    def unbind(self) -> defer.Deferred:
        """Unbind politely: send unbind, close when answered (or when it times out)."""
        d = self.sendRequest(PDU(CommandId.unbind))
        d.addBoth(lambda _: self.transport.loseConnection() if self.connected else None)
        return d
