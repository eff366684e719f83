"""
The SMPP server for client applications (ESMEs): one `SMPPServerSession` per
connection, made by an `SMPPServerFactory`, listened for by an `SMPPServer`
service on any number of Twisted endpoint strings (``tcp:2775``, ``ssl:3443:…``).

A session is a state machine::

    OPEN ──bind──▶ BINDING ──ok──▶ BOUND_TX / BOUND_RX / BOUND_TRX ──unbind──▶ UNBINDING ──▶ CLOSED
      ▲              │ refused                    │ replaced, shutdown
      └──────────────┘                            └─────────────▶ UNBINDING (we unbind)

with the timers of DESIGN.md: no bind within ``bind_timeout`` → close; a
request of ours unanswered for ``response_timeout`` → close without unbind; no
PDU at all for ``inactivity_timeout`` → close.

Backpressure keeps a flooding client from growing the gateway's memory: the
session stops reading from its socket while ``max_pending`` requests wait for
the store, or while its answers pile up unread in the transport (the session
is the transport's push producer: the transport pauses it when its write
buffer is full), and reads again once both have drained.  Binds go through the
twisted.cred portal (`gateway.smpp.auth`); a bind of a login beyond its
``MCONn`` (default one) replaces the oldest.  Message operations are in
`gateway.smpp.operations`, reports to the client in `gateway.smpp.reports`.
"""

from __future__ import annotations

import enum

from twisted.application import service
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, protocol
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from gateway.interfaces import ISMPPAccount
from gateway.logs import Logger
from gateway.smpp.auth import BindPeer, BindRefused, FailedBinds, WrongPassword
from gateway.smpp.binds import BadSystemType, BindFlags, BindRegistry, parse_system_type
from gateway.smpp.constants import CommandId, CommandStatus, InterfaceVersion
from gateway.smpp.operations import MessageOperations
from gateway.smpp.pdu import PDU
from gateway.smpp.reports import ReportPump
from gateway.smpp.session import SMPPSession
from gateway.store.control import MessageControl
from gateway.store.scripting import StoreUnavailable
from gateway.store.throttle import SharedFailures

__all__ = ["BindState", "SMPPServerSession", "SMPPServerFactory", "SMPPServer", "engine_factory",
           "DEFAULT_SETTINGS"]

#: The ``[smpp]`` settings the server reads, with their defaults (seconds, counts, octets).
DEFAULT_SETTINGS = {
    "bind_timeout": 10.0, "response_timeout": 60.0, "inactivity_timeout": 120.0, "window": 100,
    "max_pdu_size": 65536, "max_binds": 1000, "failed_bind_limit": 5, "failed_bind_account_limit": 10,
    "failed_bind_delay": 60.0,
    "unbind_timeout": 5.0, "report_poll": 2.0, "report_retry": 5.0, "max_pending": 2000,
    "system_id": "smsgw",
}


class BindState(enum.Enum):
    OPEN = "open"
    BINDING = "binding"
    BOUND_TX = "transmitter"
    BOUND_RX = "receiver"
    BOUND_TRX = "transceiver"
    UNBINDING = "unbinding"
    CLOSED = "closed"


_BIND_STATES = {
    CommandId.bind_transmitter: BindState.BOUND_TX,
    CommandId.bind_receiver: BindState.BOUND_RX,
    CommandId.bind_transceiver: BindState.BOUND_TRX,
}
BOUND = frozenset(_BIND_STATES.values())
SENDS = frozenset({BindState.BOUND_TX, BindState.BOUND_TRX})
RECEIVES = frozenset({BindState.BOUND_RX, BindState.BOUND_TRX})


@implementer(IPushProducer)
class SMPPServerSession(SMPPSession):
    """One client connection; see the module docstring for its states and timers."""

    log = Logger()

    def __init__(self, factory: "SMPPServerFactory"):
        s = factory.settings
        super().__init__(factory.clock, max_pdu_size=int(s["max_pdu_size"]),
                         response_timeout=float(s["response_timeout"]),
                         inactivity_timeout=float(s["inactivity_timeout"]), window=int(s["window"]))
        self.factory = factory
        self.state = BindState.OPEN
        self.account = None
        self.flags = BindFlags()
        self.bind_id = ""
        self.bound_at = 0.0
        self.interface_version = InterfaceVersion.SMPP_3_4
        self.reports = None
        self._bind_timer = None
        self._why = ""
        self._pending: set[defer.Deferred] = set()
        self._paused = False          # reading paused: too many requests pending
        self._write_blocked = False   # reading paused: the client does not read our answers
        self._closed: list[defer.Deferred] = []
        ops = factory.operations
        self._handlers = {
            CommandId.submit_sm: (SENDS, lambda pdu: ops.submit(self.account, self.flags, pdu)),
            CommandId.data_sm: (SENDS, lambda pdu: ops.submit(self.account, self.flags, pdu)),
            CommandId.submit_multi: (SENDS, lambda pdu: ops.submit_multi(self.account, self.flags, pdu)),
            CommandId.query_sm: (SENDS, lambda pdu: ops.query(self.account, pdu)),
            CommandId.cancel_sm: (SENDS, lambda pdu: ops.cancel(self.account, pdu)),
            CommandId.replace_sm: (SENDS, lambda pdu: ops.replace(self.account, self.flags, pdu)),
        }

    # -- what other parts read

    @property
    def mode(self) -> str:
        return self.state.value

    @property
    def system_id(self) -> str:
        return self.account.name if self.account is not None else ""

    @property
    def host(self) -> str:
        return getattr(self.transport.getPeer(), "host", "") if self.transport is not None else ""

    @property
    def tlvs_allowed(self) -> bool:
        """SMPP 3.3 peers know no TLVs (SMPP 3.4 section 5.3)."""
        return self.interface_version >= InterfaceVersion.SMPP_3_4

    def whenClosed(self) -> defer.Deferred:
        """Fires once the connection is gone."""
        if self.state is BindState.CLOSED:
            return defer.succeed(None)
        d = defer.Deferred()
        self._closed.append(d)
        return d

    # -- connection

    def connectionMade(self):
        super().connectionMade()
        self.transport.registerProducer(self, True)
        self.factory.sessions.add(self)
        timeout = float(self.factory.settings["bind_timeout"])
        if timeout:
            self._bind_timer = self.clock.callLater(timeout, self._bind_timed_out)

    def _bind_timed_out(self):
        self._bind_timer = None
        if self.state in (BindState.OPEN, BindState.BINDING):
            self.close(f"no bind within {self.factory.settings['bind_timeout']:g} s")

    def close(self, why: str) -> None:
        """Drop the connection now (no unbind), logging why with the login."""
        self._why = self._why or why
        if self.connected and not self._closing:
            self._closing = True
            self.log.info("closing SMPP connection of {system_id} from {peer}: {why}",
                          system_id=self.system_id or "(not bound)", peer=self.peer, why=why)
            self.transport.loseConnection()

    def connectionLost(self, reason=protocol.connectionDone):
        was = self.state
        self.state = BindState.CLOSED
        if self._bind_timer is not None and self._bind_timer.active():
            self._bind_timer.cancel()
        if was in BOUND or was is BindState.UNBINDING:
            self.factory.registry.remove(self)
        if not self._why and was is not BindState.UNBINDING:
            self.log.info("SMPP connection of {system_id} from {peer} closed by the peer: {reason}",
                          peer=self.peer, system_id=self.system_id or "(not bound)",
                          reason=reason.getErrorMessage() if reason is not None else "")
        self.factory.sessions.discard(self)
        super().connectionLost(reason)  # fails the deliver_sm still unanswered: the pump releases them
        self._stop_reports()
        closed, self._closed = self._closed, []
        for d in closed:
            d.callback(None)

    # -- requests

    def enquireLinkAllowed(self) -> bool:
        return self.state is not BindState.CLOSED

    def unbindAllowed(self) -> bool:
        return self.state in BOUND

    def requestReceived(self, pdu: PDU):
        if pdu.command_id in _BIND_STATES:
            return self._bind(pdu)
        entry = self._handlers.get(pdu.command_id)
        if entry is None:
            if pdu.command_id == CommandId.unbind:  # both ends unbinding at once is fine
                ok = self.state is BindState.UNBINDING
                return pdu.resp(CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RINVBNDSTS)
            self.log.info("{peer} sent {command}, which an ESME may not send: generic_nack",
                          peer=self.peer, command=pdu.command_id.name)
            return PDU(CommandId.generic_nack, pdu.sequence_number, CommandStatus.ESME_RINVCMDID)
        states, handler = entry
        if self.state not in states:
            return pdu.resp(CommandStatus.ESME_RINVBNDSTS)
        return self._track(handler(pdu))

    def _track(self, d: defer.Deferred) -> defer.Deferred:
        """Count requests being answered; stop reading while too many are (backpressure)."""
        self._pending.add(d)
        d.addBoth(self._untrack, d)
        if not self._paused and len(self._pending) >= self.factory.settings["max_pending"]:
            self._paused = True
            self._reading()
        return d

    def _untrack(self, result, d):
        self._pending.discard(d)
        if self._paused and len(self._pending) <= self.factory.settings["max_pending"] // 2:
            self._paused = False
            self._reading()
        return result

    def _reading(self) -> None:
        """Read from the socket unless requests pile up or the client does not read our answers."""
        if not self.connected or self.transport is None:
            return
        if self._paused or self._write_blocked:
            self.transport.pauseProducing()
        else:
            self.transport.resumeProducing()

    # -- IPushProducer: the transport pauses us while its write buffer is full

    def pauseProducing(self):
        if not self._write_blocked:
            self._write_blocked = True
            self._reading()

    def resumeProducing(self):
        if self._write_blocked:
            self._write_blocked = False
            self._reading()

    def stopProducing(self):
        pass

    def _drain(self) -> defer.Deferred:
        """Fires when every request received so far has been answered."""
        pending = [d for d in self._pending if not d.called]
        if not pending:
            return defer.succeed(None)
        # Added after the session's own answer callbacks: fires once the responses are written.
        return defer.DeferredList(pending, consumeErrors=True).addCallback(lambda _: None)

    # -- bind

    def _bind(self, pdu: PDU):
        if self.state in BOUND or self.state is BindState.BINDING:
            return pdu.resp(CommandStatus.ESME_RALYBND)
        if self.state is not BindState.OPEN:
            return pdu.resp(CommandStatus.ESME_RINVBNDSTS)
        p, factory = pdu.params, self.factory
        system_id, host = p.get("system_id", ""), self.host
        if factory.failed_binds.blocked(host):
            return self._refuse(pdu, system_id, CommandStatus.ESME_RBINDFAIL, "too many failed binds")
        if factory.failed_account_binds.blocked(system_id):
            return self._refuse(pdu, system_id, CommandStatus.ESME_RBINDFAIL, "too many wrong passwords")
        try:
            flags = parse_system_type(p.get("system_type", ""))
        except BadSystemType as e:
            return self._refuse(pdu, system_id, e.status, str(e))
        max_binds = int(factory.settings["max_binds"])
        if max_binds and len(factory.registry) >= max_binds:
            return self._refuse(pdu, system_id, CommandStatus.ESME_RBINDFAIL, f"{max_binds} binds on this node")
        self.state = BindState.BINDING
        # A block set by another node is looked up alongside the login (no added wait); a node
        # that learns of one refuses the next binds unseen, like its own blocks.
        blocks = defer.gatherResults([factory.failed_binds.check(host),
                                      factory.failed_account_binds.check(system_id)])
        login = factory.portal.login(UsernamePassword(system_id, p.get("password", "")), BindPeer(host),
                                     ISMPPAccount)
        d = defer.DeferredList([blocks, login], consumeErrors=True)
        d.addCallback(self._bind_checked, pdu, flags, system_id)
        return d

    def _bind_checked(self, results, pdu: PDU, flags: BindFlags, system_id: str):
        (checked, blocks), (ok, login) = results
        if checked and (blocks[0] or blocks[1]):
            if self.state is BindState.BINDING:
                self.state = BindState.OPEN
            reason = "too many failed binds" if blocks[0] else "too many wrong passwords"
            return self._refuse(pdu, system_id, CommandStatus.ESME_RBINDFAIL, reason)
        return self._bound(login, pdu, flags) if ok else self._bind_failed(login, pdu, system_id)

    def _bound(self, result, pdu: PDU, flags: BindFlags):
        _, account, _logout = result
        if self.state is not BindState.BINDING:  # the connection went away meanwhile
            return None
        factory = self.factory
        factory.failed_binds.succeeded(self.host)
        factory.failed_account_binds.succeeded(account.name)
        if self._bind_timer is not None and self._bind_timer.active():
            self._bind_timer.cancel()
        self.account = account
        self.flags = flags.merged(_account_flags(account))
        self.state = _BIND_STATES[pdu.command_id]
        self.interface_version = pdu.params.get("interface_version", 0)
        self.bind_id, self.bound_at = factory.registry.new_id(), self.clock.seconds()
        replaced = factory.registry.add(self, self.flags.limit(account.max_connections))
        self.log.info("{system_id} bound as {mode} from {peer} (interface 0x{version:02x}, flags {flags})",
                      system_id=account.name, mode=self.mode, peer=self.peer, version=self.interface_version,
                      flags=str(self.flags) or "none")
        for old in replaced:
            old.shutdown(f"replaced by a new bind of {account.name} from {self.peer}")
        if self.state in RECEIVES:
            self.clock.callLater(0, self._start_reports)
        tlvs = None
        if self.tlvs_allowed:
            version = min(self.interface_version, InterfaceVersion.SMPP_5_0)
            tlvs = {"sc_interface_version": InterfaceVersion.SMPP_5_0 if version >= 0x50 else 0x34}
        return pdu.resp(system_id=factory.system_id, tlvs=tlvs)

    def _bind_failed(self, failure, pdu: PDU, system_id: str):
        if self.state is BindState.BINDING:
            self.state = BindState.OPEN
        if failure.check(BindRefused):
            counted = [self.factory.failed_binds.failed(self.host)]
            if failure.check(WrongPassword):
                counted.append(self.factory.failed_account_binds.failed(system_id))
            return self._refuse_counted(counted, pdu, system_id, failure.value.status, failure.value.reason)
        if failure.check(StoreUnavailable):
            return self._refuse(pdu, system_id, CommandStatus.ESME_RSYSERR, "store unavailable")
        if failure.check(UnauthorizedLogin):
            counted = [self.factory.failed_binds.failed(self.host)]
            return self._refuse_counted(counted, pdu, system_id, CommandStatus.ESME_RBINDFAIL,
                                        failure.getErrorMessage())
        self.log.failure("bind of {system_id} from {peer} failed", failure, system_id=system_id, peer=self.peer)
        return pdu.resp(CommandStatus.ESME_RSYSERR)

    def _refuse_counted(self, counted: list, pdu: PDU, system_id: str, status, reason: str):
        """Refuse once the failure is counted (by all nodes: the block, if any, is then in force
        before the client can try again; the counts never fail)."""
        d = defer.gatherResults(counted)
        return d.addCallback(lambda _: self._refuse(pdu, system_id, status, reason))

    def _refuse(self, pdu: PDU, system_id: str, status, reason: str) -> PDU:
        self.log.info("bind of {system_id} from {peer} refused: {reason} ({status})", system_id=system_id,
                      peer=self.peer, reason=reason, status=CommandStatus(status).name)
        return pdu.resp(status)

    # -- reports

    def _start_reports(self):
        if self.state in RECEIVES and self.reports is None:
            s = self.factory.settings
            self.reports = ReportPump(self, self.account.name, self.factory.outbox, self.clock,
                                      self.factory.notifier, float(s["report_poll"]), float(s["report_retry"]))
            self.reports.start()

    def _stop_reports(self) -> defer.Deferred:
        if self.reports is None:
            return defer.succeed(None)
        d = self.reports.stop()
        self.factory.track(d)
        return d

    # -- unbind, both ways

    def unbindReceived(self, pdu: PDU):
        """The client unbinds: finish what it sent, answer, close."""
        self.state = BindState.UNBINDING
        self.factory.registry.remove(self)
        self._stop_reports()
        self.log.info("{system_id} unbound from {peer}", system_id=self.system_id, peer=self.peer)

        def answer(_):
            if self.connected:
                self.sendPDU(pdu.resp())
                self.transport.loseConnection()

        self._drain().addCallback(answer)

    def shutdown(self, why: str) -> defer.Deferred:
        """Unbind from our side (replaced bind, gateway stopping): finish pending requests, send
        unbind, close on its answer or after ``unbind_timeout``.  Fires once closed."""
        closed = self.whenClosed()
        if self.state in (BindState.OPEN, BindState.BINDING):
            self.close(why)
        if self.state not in BOUND:
            return closed
        self.state = BindState.UNBINDING
        self._why = why
        self.factory.registry.remove(self)
        self._stop_reports()
        self.log.info("unbinding {system_id} at {peer}: {why}", system_id=self.system_id, peer=self.peer, why=why)
        timer = self.clock.callLater(float(self.factory.settings["unbind_timeout"]), self.close,
                                     f"{why}; no unbind_resp in time")
        closed.addBoth(lambda result: (timer.cancel() if timer.active() else None, result)[1])

        def unbind(_):
            if self.connected:
                self.unbind().addErrback(lambda f: None)

        self._drain().addCallback(unbind)
        return closed


def _account_flags(account) -> BindFlags:
    """Flags set on the account itself (its ``system_type`` setting); bad ones are ignored."""
    try:
        return parse_system_type(account.system_type or "")
    except BadSystemType:
        return BindFlags()


class SMPPServerFactory(protocol.Factory):
    """Makes server sessions; holds what they share (store, portal, settings, binds).

    ``acceptor`` (`IAcceptor`: accept, and accept_part for long messages sent in
    parts), ``messages`` (`MessageStore`), ``outbox`` (`Outbox`), ``portal``
    (`gateway.smpp.auth.make_portal`), ``clock`` (the reactor), ``settings`` (the
    ``[smpp]`` section; see `DEFAULT_SETTINGS`), ``node`` (the node name),
    ``notifier`` (`Notifier`, optional: reports are also polled).  ``assembler``
    (accept_part; default the acceptor), ``control`` (`MessageControl`) and
    ``registry`` (`BindRegistry`) default to ones over the acceptor's Redis.
    """

    noisy = False  # the listener and the sessions log what matters

    log = Logger()

    def __init__(self, *, acceptor, messages, outbox, portal, clock, settings=None, node="smsgw",
                 notifier=None, assembler=None, control=None, registry=None):
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.clock = clock
        self.node = node
        self.system_id = str(self.settings["system_id"])[:15]
        self.acceptor, self.outbox, self.portal, self.notifier = acceptor, outbox, portal, notifier
        control = control or MessageControl(acceptor.redis, clock)
        self.operations = MessageOperations(acceptor, assembler or acceptor, messages, control, clock)
        self.registry = registry or BindRegistry(acceptor.redis, clock, node, notifier=notifier)
        delay = float(self.settings["failed_bind_delay"])
        limit, account_limit = int(self.settings["failed_bind_limit"]), int(self.settings["failed_bind_account_limit"])
        redis = acceptor.redis
        self.failed_binds = FailedBinds(clock, limit, delay,
                                        shared=SharedFailures(redis, clock, "bind_ip") if redis else None)
        #: wrong passwords in a row per system_id, whatever the address (guessing spread over many)
        self.failed_account_binds = FailedBinds(
            clock, account_limit, delay, what="system_id",
            shared=SharedFailures(redis, clock, "bind_account") if redis else None)
        self.sessions: set[SMPPServerSession] = set()
        self.stopping = False
        self._writes: set[defer.Deferred] = set()

    def buildProtocol(self, addr):
        if self.stopping:
            return None
        return SMPPServerSession(self)

    def startFactory(self):
        self.registry.start()

    def stopFactory(self):
        self.registry.stop()

    def track(self, d: defer.Deferred) -> None:
        """A store write the shutdown must wait for (acks and releases of reports)."""
        if not d.called:
            self._writes.add(d)
            d.addBoth(lambda result: (self._writes.discard(d), result)[1])

    def shutdown(self, why: str = "gateway stopping") -> defer.Deferred:
        """Unbind every client, wait until they are gone and the last writes are done."""
        self.stopping = True
        sessions = [s.shutdown(why) for s in list(self.sessions)]
        d = defer.DeferredList(sessions, consumeErrors=True)
        d.addCallback(lambda _: defer.DeferredList(list(self._writes), consumeErrors=True))
        return d.addCallback(lambda _: self.log.info("SMPP server stopped: {count} sessions closed",
                                                     count=len(sessions)))


class SMPPServer(service.Service):
    """The SMPP listeners (any number of Twisted endpoint strings) and a clean stop.

    ``factory`` is an `SMPPServerFactory`, or a callable returning a Deferred
    of one (built once Redis is connected); listening starts when it is
    there, and `ready` fires with the listening ports.  Stopping closes the
    listeners, then unbinds every client and waits for the last writes.
    A listener that cannot listen stops the reactor: a gateway that cannot
    serve must not pretend to run.
    """

    name = "smpp"
    log = Logger()

    def __init__(self, factory, listen, reactor=None, stop_on_failure=True):
        self._source = factory
        self.listen = list(listen)
        self.reactor = reactor
        self.stop_on_failure = stop_on_failure
        self.factory = None
        self.ports: list = []
        self.ready: defer.Deferred = defer.Deferred()

    def startService(self):
        super().startService()
        if self.reactor is None:
            from twisted.internet import reactor
            self.reactor = reactor
        source = self._source
        d = defer.maybeDeferred(source) if callable(source) else defer.succeed(source)
        d.addCallback(self._listen)
        d.addCallbacks(self.ready.callback, self._failed)
        return d

    @defer.inlineCallbacks
    def _listen(self, factory):
        self.factory = factory
        for description in self.listen:
            port = yield serverFromString(self.reactor, description).listen(factory)
            self.ports.append(port)
            address = port.getHost()
            self.log.info("SMPP listening on {host}:{port} ({description})", host=getattr(address, "host", ""),
                          port=getattr(address, "port", address), description=description)
        return self.ports

    def _failed(self, failure):
        self.log.critical("the SMPP server cannot listen: {error}", error=failure.getErrorMessage())
        self.ready.errback(failure)
        if self.stop_on_failure and self.reactor.running:
            self.reactor.stop()

    @defer.inlineCallbacks
    def stopService(self):
        super().stopService()
        ports, self.ports = self.ports, []
        for port in ports:
            yield defer.maybeDeferred(port.stopListening)
        if self.factory is not None:
            yield self.factory.shutdown()


def engine_factory(engine, config, reactor=None) -> defer.Deferred:
    """An `SMPPServerFactory` over the store objects of a `gateway.engine.Engine`, once it is
    ready, with the ``[smpp]`` settings of ``config``: the ``factory`` of an `SMPPServer`."""
    from gateway.smpp.auth import make_portal

    def build(engine):
        return SMPPServerFactory(
            acceptor=engine.acceptor, messages=engine.messages, outbox=engine.outbox,
            portal=make_portal(engine.accounts), clock=reactor or engine.reactor, settings=config.smpp,
            node=engine.node, notifier=engine.notifier)

    return engine.whenReady().addCallback(build)
