"""
The ESME side of SMPP: `ESMESession`, one connection to an SMSC, and
`ClientLink`, a connection that keeps itself bound.

`ESMESession` adds the client role to `SMPPSession`: bind (transmitter,
receiver or transceiver), submit_sm while bound, deliver_sm / data_sm from the
SMSC handed to ``on_request`` (which answers with a command_status), and an
explicit `SessionState`.  It decides nothing about messages.

`ClientLink` is a `Service` around Twisted's `ClientService`: it connects
through any client endpoint (TCP, TLS), binds in ``prepareConnection``, and
reconnects with `backoffPolicy` (exponential, with jitter) on the injected
clock.  A failed bind closes the connection and counts as a failed attempt, so
wrong credentials back off like an unreachable host.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from twisted.application import service
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer, protocol
from twisted.python.failure import Failure

from gateway.logs import Logger
from gateway.smpp.constants import CommandId, CommandStatus, InterfaceVersion
from gateway.smpp.pdu import PDU
from gateway.smpp.session import SessionClosed, SMPPError, SMPPSession

__all__ = [
    "BindMode", "BindParams", "SessionState", "LinkState", "BindFailed", "NotBound",
    "ESMESession", "ClientLink",
]


class BindMode(str, enum.Enum):
    """How an ESME binds: what it may send and receive."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"

    @property
    def command(self) -> CommandId:
        return _BIND_COMMANDS[self]

    @property
    def transmits(self) -> bool:
        return self is not BindMode.RECEIVER

    @property
    def receives(self) -> bool:
        return self is not BindMode.TRANSMITTER


_BIND_COMMANDS = {
    BindMode.TRANSMITTER: CommandId.bind_transmitter,
    BindMode.RECEIVER: CommandId.bind_receiver,
    BindMode.TRANSCEIVER: CommandId.bind_transceiver,
}


@dataclass(frozen=True)
class BindParams:
    """What goes into the bind PDU."""

    mode: BindMode = BindMode.TRANSCEIVER
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = InterfaceVersion.SMPP_3_4
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def pdu(self) -> PDU:
        return PDU(self.mode.command, params={
            "system_id": self.system_id, "password": self.password,
            "system_type": self.system_type, "interface_version": self.interface_version,
            "addr_ton": self.addr_ton, "addr_npi": self.addr_npi,
            "address_range": self.address_range,
        })


class SessionState(enum.Enum):
    """Where one connection is: connected but not bound, binding, bound, unbinding, closed."""

    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    CLOSED = "closed"


class BindFailed(Exception):
    """The SMSC refused the bind (``status``) or the connection ended during it (``status`` None)."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.status = status


class NotBound(Exception):
    """A submit on a session that is not bound for transmitting."""


class ESMESession(SMPPSession):
    """One client connection to an SMSC; see the module docstring.

    ``on_request(session, pdu)`` gets every deliver_sm and data_sm received
    while bound for receiving and returns a command_status (or a Deferred of
    one) for the response.  ``on_lost(session, reason)`` is called once the
    connection is gone, before the pending requests are failed.
    """

    def __init__(self, clock, bind: BindParams, *, on_request=None, on_lost=None,
                 on_connected=None, **options):
        options.setdefault("inactivity_timeout", None)  # enquire_link + response timeout detect dead links
        super().__init__(clock, **options)
        self.bind_params = bind
        self.on_request = on_request
        self.on_lost = on_lost
        self.on_connected = on_connected
        self.state = SessionState.CLOSED
        self.ended_in = SessionState.CLOSED  # the state the connection was lost in
        self.smsc_system_id = ""
        self.lost_reason: Failure | None = None
        self._closed: list[defer.Deferred] = []

    # -- connection

    def connectionMade(self):
        super().connectionMade()
        self.state = SessionState.OPEN
        if self.on_connected is not None:
            self.on_connected(self)

    def connectionLost(self, reason=protocol.connectionDone):
        self.ended_in = self.state
        self.state = SessionState.CLOSED
        self.lost_reason = reason
        if self.on_lost is not None:  # first: whoever sees a request fail must find the session gone
            self.on_lost(self, reason)
        super().connectionLost(reason)
        waiting, self._closed = self._closed, []
        for d in waiting:
            d.callback(self)

    def whenClosed(self) -> defer.Deferred:
        """Fires (with the session) once the connection is gone."""
        if self.state is SessionState.CLOSED and not self.connected:
            return defer.succeed(self)
        d = defer.Deferred()
        self._closed.append(d)
        return d

    @property
    def bound(self) -> bool:
        return self.state is SessionState.BOUND

    @property
    def transmitting(self) -> bool:
        return self.bound and self.bind_params.mode.transmits

    # -- bind / unbind

    def bind(self) -> defer.Deferred:
        """Send the bind; fires with the session once bound, fails with `BindFailed`."""
        if self.state is not SessionState.OPEN:
            return defer.fail(BindFailed(f"cannot bind in state {self.state.value}"))
        self.state = SessionState.BINDING
        d = self.sendRequest(self.bind_params.pdu())
        d.addCallbacks(self._bound, self._bind_failed)
        return d

    def _bound(self, response: PDU):
        self.state = SessionState.BOUND
        self.smsc_system_id = response.params.get("system_id", "")
        self.log.info("bound as {mode} {system_id} to {smsc} at {peer}", mode=self.bind_params.mode.value,
                      system_id=self.bind_params.system_id, smsc=self.smsc_system_id, peer=self.peer)
        return self

    def _bind_failed(self, failure: Failure):
        if failure.check(SMPPError):
            status = failure.value.status
            self.close(f"bind refused: {failure.value}")
            raise BindFailed(f"bind refused: {_status_name(status)}", status)
        self.close("bind did not complete")
        why = failure.getErrorMessage()
        if self.lost_reason is not None and failure.check(SessionClosed):
            why = _describe(self.lost_reason)
        raise BindFailed(f"bind did not complete: {why}")

    def unbind(self) -> defer.Deferred:
        self.state = SessionState.UNBINDING
        return super().unbind()

    def unbindReceived(self, pdu: PDU):
        self.state = SessionState.UNBINDING
        super().unbindReceived(pdu)

    # -- requests to the SMSC

    def submit(self, pdu: PDU) -> defer.Deferred:
        """Send a submit_sm (or data_sm); fires with the response, fails as `sendRequest` does."""
        if not self.transmitting:
            return defer.fail(NotBound(f"session is {self.state.value} as {self.bind_params.mode.value}"))
        return self.sendRequest(pdu)

    # -- requests from the SMSC

    def requestReceived(self, pdu: PDU):
        command = pdu.command_id
        if command in _INCOMING:
            if not (self.bound and self.bind_params.mode.receives):
                return pdu.resp(CommandStatus.ESME_RINVBNDSTS)
            return self._incoming(pdu)
        if command in (CommandId.alert_notification, CommandId.outbind):
            self.log.info("{command} from {peer} ignored", command=command.name, peer=self.peer)
            return None
        return PDU(CommandId.generic_nack, pdu.sequence_number, CommandStatus.ESME_RINVCMDID)

    def _incoming(self, pdu: PDU):
        """The response to a deliver_sm / data_sm: now, or answered once the handler's Deferred fires."""
        if self.on_request is None:
            return pdu.resp(CommandStatus.ESME_RX_T_APPN, message_id="")
        try:
            status = self.on_request(self, pdu)
        except Exception:
            return self._handler_failed(Failure(), pdu)
        if isinstance(status, defer.Deferred):
            # Answered from here rather than handed back as a Deferred of a PDU: one callback, not two.
            status.addCallbacks(self._answer_status, self._status_failed, (pdu,), None, (pdu,))
            return None
        return _response(status, pdu)

    def _answer_status(self, status, pdu: PDU) -> None:
        self._answer(_response(status, pdu))

    def _status_failed(self, failure: Failure, pdu: PDU) -> None:
        self._answer(self._handler_failed(failure, pdu))

    def _handler_failed(self, failure: Failure, pdu: PDU) -> PDU:
        self.log.failure("handling {command} from {peer} failed", failure, command=pdu.command_id.name,
                         peer=self.peer)
        return _response(CommandStatus.ESME_RX_T_APPN, pdu)


_INCOMING = frozenset({CommandId.deliver_sm, CommandId.data_sm})


def _response(status, pdu: PDU) -> PDU:
    """The deliver_sm_resp / data_sm_resp with ``status`` (the handler's answer)."""
    return pdu.resp(int(status), message_id="")


def _describe(reason: Failure) -> str:
    """A readable one-line reason for a lost connection (TLS errors are nested lists)."""
    text = reason.getErrorMessage()
    return text if len(text) <= 300 else text[:297] + "..."


def _status_name(status: int) -> str:
    try:
        return f"{CommandStatus(status).name} (0x{status:08X})"
    except ValueError:
        return f"0x{status:08X}"


class LinkState(str, enum.Enum):
    """What a `ClientLink` is doing (shown by the admin console)."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"


class _SessionFactory(protocol.Factory):
    """Builds the sessions of one `ClientLink`."""

    noisy = False  # the listener and the session log what matters

    def __init__(self, link: "ClientLink"):
        self.link = link

    def buildProtocol(self, addr):
        link = self.link
        session = ESMESession(link.clock, link.bind_params, on_request=link.on_request,
                              on_lost=link._lost, on_connected=link._connected, **link.session_options)
        session.factory = self
        return session


class _RecordingEndpoint:
    """Passes connection attempts through, remembering why one failed (for `ClientLink.status`)."""

    def __init__(self, endpoint, link: "ClientLink"):
        self.endpoint = endpoint
        self.link = link

    def connect(self, factory):
        self.link._set(LinkState.CONNECTING)
        return self.endpoint.connect(factory).addErrback(self._failed)

    def _failed(self, failure: Failure) -> Failure:
        self.link.last_error = f"cannot connect: {failure.getErrorMessage()}"
        return failure


class ClientLink(service.Service):
    """A connection to an SMSC that keeps itself bound; see the module docstring.

    ``on_bound(session)`` / ``on_unbound(session)`` tell the owner when a
    bound session appears and goes.  ``backoff`` is ``(initial, maximum,
    factor)`` seconds for `backoffPolicy`; ``jitter`` a 0-argument callable
    returning the random part added to each delay (by default up to one
    ``initial`` delay; seeded in tests).
    """

    log = Logger()

    def __init__(self, name: str, endpoint, bind: BindParams, clock, *, on_request=None,
                 on_bound=None, on_unbound=None, session_options=None, backoff=(1.0, 60.0, 2.0),
                 jitter=None, stop_timeout: float = 5.0):
        self.name = name
        self.endpoint = endpoint
        self.bind_params = bind
        self.clock = clock
        self.on_request = on_request
        self.on_bound = on_bound
        self.on_unbound = on_unbound
        self.session_options = dict(session_options or {})
        self.stop_timeout = stop_timeout
        initial, maximum, factor = backoff
        if jitter is None:
            rng = random.Random()
            jitter = lambda: rng.random() * initial  # noqa: E731
        self._policy = backoffPolicy(initial, maximum, factor, jitter=jitter)
        self.state = LinkState.STOPPED
        self.since = clock.seconds()
        self.last_error = ""
        self.failures = 0
        self.session: ESMESession | None = None  # the bound one
        self._current: ESMESession | None = None  # the connected one, bound or not
        self._client: ClientService | None = None
        self._bound_waiters: list[defer.Deferred] = []

    def whenBound(self) -> defer.Deferred:
        """Fires with the bound session: now if bound, else at the next successful bind."""
        if self.session is not None:
            return defer.succeed(self.session)
        d = defer.Deferred(lambda d: self._bound_waiters.remove(d) if d in self._bound_waiters else None)
        self._bound_waiters.append(d)
        return d

    # -- policy

    def retry_delay(self, attempt: int) -> float:
        """Seconds before connection attempt ``attempt``: TCP failures and failed binds both count."""
        return self._policy(max(attempt, self.failures))

    # -- life cycle

    def startService(self):
        super().startService()
        self._set(LinkState.CONNECTING)
        endpoint = _RecordingEndpoint(self.endpoint, self)
        self._client = ClientService(endpoint, _SessionFactory(self), retryPolicy=self.retry_delay,
                                     clock=self.clock, prepareConnection=self._bind)
        self._client.startService()

    @defer.inlineCallbacks
    def stopService(self):
        """Unbind politely (bounded by ``stop_timeout``), then stop reconnecting."""
        super().stopService()
        session, client = self._current, self._client
        self._client = None
        if session is not None and session.connected:
            if session.bound:
                self._set(LinkState.UNBINDING)
                session.unbind().addErrback(lambda f: None)
            else:
                session.close("connector stopping")
            closed = session.whenClosed()
            closed.addTimeout(self.stop_timeout, self.clock, onTimeoutCancel=lambda *a: session.transport.abortConnection())
            yield closed.addErrback(lambda f: None)
        if client is not None:
            yield client.stopService()
        self._set(LinkState.STOPPED)

    def _set(self, state: LinkState) -> None:
        if state is not self.state:
            self.state = state
            self.since = self.clock.seconds()

    # -- connection events

    def _connected(self, session: ESMESession) -> None:
        self._current = session
        self._set(LinkState.BINDING)

    def _bind(self, session) -> defer.Deferred:
        """``prepareConnection``: bind; a refusal closes the connection (and never fails here).

        ClientService cannot take a failed preparation whose connection closes
        afterwards (its state machine has no transition for that disconnect),
        so a failed bind is reported as a made connection that then drops, and
        `retry_delay` uses our own count of consecutive failures.
        """
        d = session.bind()
        d.addCallbacks(self._bound, self._bind_failed)
        return d

    def _bound(self, session: ESMESession) -> None:
        self.session = session
        self.failures = 0
        self.last_error = ""
        self._set(LinkState.BOUND)
        if self.on_bound is not None:
            self.on_bound(session)
        waiters, self._bound_waiters = self._bound_waiters, []
        for d in waiters:
            d.callback(session)

    def _bind_failed(self, failure: Failure) -> None:
        self.failures += 1
        self.last_error = failure.getErrorMessage()
        self.log.warn("{link}: {error}; attempt {attempt}", link=self.name, error=self.last_error,
                      attempt=self.failures)

    def _lost(self, session: ESMESession, reason: Failure) -> None:
        if session is self._current:
            self._current = None
        was_bound = session is self.session
        if was_bound:
            self.session = None
            if session.ended_in is not SessionState.UNBINDING:
                self.last_error = f"connection lost: {_describe(reason)}"
            self.log.info("{link}: unbound from {peer}", link=self.name, peer=session.peer)
        if self.running:
            self._set(LinkState.CONNECTING)
        if was_bound and self.on_unbound is not None:
            self.on_unbound(session)
