"""The ESME session and its reconnecting link as state machines: StringTransport + task.Clock."""

from __future__ import annotations

import pytest
from twisted.internet import defer, task
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from gateway.smpp.client import BindFailed, BindMode, BindParams, ClientLink, ESMESession, LinkState, NotBound, SessionState
from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU


def sent(transport):
    data = transport.value()
    transport.clear()
    return Framer().feed(data)


def session_for(mode=BindMode.TRANSCEIVER, on_request=None, **options):
    clock = task.Clock()
    session = ESMESession(clock, BindParams(mode, "esme", "secret", "MCON2"), on_request=on_request, **options)
    transport = StringTransport()
    session.makeConnection(transport)
    return session, transport, clock


def bind(session, transport):
    d = session.bind()
    [request] = sent(transport)
    session.dataReceived(encode(request.resp(system_id="SMSC")))
    return d, request


def test_bind_sends_the_credentials_and_binds():
    session, transport, _ = session_for()
    d, request = bind(session, transport)
    assert request.command_id == CommandId.bind_transceiver
    assert (request.params["system_id"], request.params["password"], request.params["system_type"]) == \
        ("esme", "secret", "MCON2")
    assert request.params["interface_version"] == 0x34
    assert d.result is session and session.state is SessionState.BOUND
    assert session.smsc_system_id == "SMSC"


def test_refused_bind_fails_with_the_status_and_closes():
    session, transport, _ = session_for(BindMode.TRANSMITTER)
    d = session.bind()
    [request] = sent(transport)
    assert request.command_id == CommandId.bind_transmitter
    session.dataReceived(encode(request.resp(CommandStatus.ESME_RINVPASWD)))
    failure = d.result
    d.addErrback(lambda f: None)
    assert failure.check(BindFailed) and failure.value.status == CommandStatus.ESME_RINVPASWD
    assert transport.disconnecting


def test_submit_needs_a_bind_that_transmits():
    session, transport, _ = session_for(BindMode.RECEIVER)
    early = session.submit(PDU(CommandId.submit_sm))
    assert early.result.check(NotBound)
    early.addErrback(lambda f: None)
    bind(session, transport)
    late = session.submit(PDU(CommandId.submit_sm))
    assert late.result.check(NotBound)
    late.addErrback(lambda f: None)


def test_deliver_sm_is_answered_with_the_handlers_status():
    statuses = iter([CommandStatus.ESME_ROK, defer.fail(RuntimeError("sink down"))])
    session, transport, _ = session_for(on_request=lambda s, pdu: next(statuses))
    session.dataReceived(encode(PDU(CommandId.deliver_sm, 1)))
    [early] = sent(transport)
    assert early.command_status == CommandStatus.ESME_RINVBNDSTS
    bind(session, transport)
    session.dataReceived(encode(PDU(CommandId.deliver_sm, 2)))
    session.dataReceived(encode(PDU(CommandId.data_sm, 3)))
    ok, failed = sent(transport)
    assert (ok.command_id, ok.command_status) == (CommandId.deliver_sm_resp, CommandStatus.ESME_ROK)
    assert (failed.command_id, failed.command_status) == (CommandId.data_sm_resp, CommandStatus.ESME_RX_T_APPN)


def test_deliver_sm_on_a_transmitter_bind_is_refused():
    session, transport, _ = session_for(BindMode.TRANSMITTER, on_request=lambda s, p: 0)
    bind(session, transport)
    session.dataReceived(encode(PDU(CommandId.deliver_sm, 9)))
    [resp] = sent(transport)
    assert resp.command_status == CommandStatus.ESME_RINVBNDSTS


def test_enquire_link_when_idle_and_an_unanswered_one_closes_the_link():
    session, transport, clock = session_for(enquire_link_interval=30, response_timeout=10)
    bind(session, transport)
    clock.advance(30)
    [ping] = sent(transport)
    assert ping.command_id == CommandId.enquire_link
    session.dataReceived(encode(ping.resp()))
    clock.advance(30)
    [again] = sent(transport)
    clock.advance(10)
    assert transport.disconnecting


def test_unknown_request_from_the_smsc_gets_generic_nack():
    session, transport, _ = session_for()
    bind(session, transport)
    session.dataReceived(encode(PDU(CommandId.query_sm, 4, params={"message_id": "x"})))
    [nack] = sent(transport)
    assert nack.command_id == CommandId.generic_nack and nack.command_status == CommandStatus.ESME_RINVCMDID


def test_connection_lost_fails_outstanding_submits_after_telling_the_owner():
    seen = []
    session, transport, _ = session_for()
    session.on_lost = lambda s, reason: seen.append(s.state)
    bind(session, transport)
    d = session.submit(PDU(CommandId.submit_sm))
    d.addErrback(lambda f: seen.append(type(f.value).__name__))
    session.connectionLost(Failure(ConnectionDone()))
    assert seen == [SessionState.CLOSED, "SessionClosed"]


# -- the reconnecting link


class FakeEndpoint:
    """Connects every attempt to a StringTransport, or refuses while ``refuse`` is set."""

    def __init__(self):
        self.connections = []
        self.attempts = 0
        self.refuse = False

    def connect(self, factory):
        self.attempts += 1
        if self.refuse:
            return defer.fail(ConnectionRefusedError("nobody home"))
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.connections.append((protocol, transport))
        return defer.succeed(protocol)

    def answer_bind(self, status=0):
        protocol, transport = self.connections[-1]
        [request] = sent(transport)
        protocol.dataReceived(encode(request.resp(status, system_id="SMSC") if not status else request.resp(status)))

    def drop(self):
        protocol, _ = self.connections[-1]
        protocol.connectionLost(Failure(ConnectionDone()))


@pytest.fixture
def link():
    clock = task.Clock()
    endpoint = FakeEndpoint()
    link = ClientLink("test", endpoint, BindParams(system_id="esme"), clock, backoff=(1.0, 10.0, 2.0),
                      jitter=lambda: 0.0)
    link.startService()
    yield link
    link.stopService()


def attempts_after(link, seconds):
    before = link.endpoint.attempts
    link.clock.advance(seconds)
    return link.endpoint.attempts - before


def test_refused_binds_back_off_exponentially_and_a_bind_resets_it(link):
    endpoint = link.endpoint
    assert endpoint.attempts == 1 and link.state is LinkState.BINDING
    endpoint.answer_bind(CommandStatus.ESME_RINVPASWD)
    endpoint.drop()
    assert link.failures == 1 and "ESME_RINVPASWD" in link.last_error
    assert attempts_after(link, 1.99) == 0 and attempts_after(link, 0.02) == 1  # 1 × 2¹
    endpoint.answer_bind(CommandStatus.ESME_RINVPASWD)
    endpoint.drop()
    assert attempts_after(link, 3.99) == 0 and attempts_after(link, 0.02) == 1  # 1 × 2²
    endpoint.answer_bind()
    assert link.state is LinkState.BOUND and link.failures == 0 and link.session is not None
    endpoint.drop()
    assert link.session is None and link.state is LinkState.CONNECTING
    assert attempts_after(link, 1.99) == 0 and attempts_after(link, 0.02) == 1  # from the start again


def test_unreachable_smsc_backs_off_up_to_the_maximum(link):
    endpoint = link.endpoint
    endpoint.refuse = True
    endpoint.answer_bind()
    endpoint.drop()
    delays = []
    for _ in range(5):
        waited = 0.0
        while not attempts_after(link, 0.5) and waited < 30:
            waited += 0.5
        delays.append(waited + 0.5)
    assert delays == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert "cannot connect" in link.last_error


def test_when_bound_fires_at_the_next_bind(link):
    d = link.whenBound()
    assert not d.called
    link.endpoint.answer_bind()
    assert d.result is link.session


def test_stop_unbinds_and_stops_reconnecting(link):
    link.endpoint.answer_bind()
    protocol, transport = link.endpoint.connections[-1]
    stopped = link.stopService()
    [unbind] = sent(transport)
    assert unbind.command_id == CommandId.unbind
    protocol.dataReceived(encode(unbind.resp()))
    assert transport.disconnecting
    protocol.connectionLost(Failure(ConnectionDone()))
    assert stopped.called and link.state is LinkState.STOPPED
    assert attempts_after(link, 100) == 0


def test_stop_gives_up_on_an_unanswered_unbind(link):
    link.endpoint.answer_bind()
    protocol, transport = link.endpoint.connections[-1]
    stopped = link.stopService()
    [unbind] = sent(transport)
    assert unbind.command_id == CommandId.unbind and not transport.disconnecting
    link.clock.advance(5)
    assert transport.disconnecting  # aborted after stop_timeout
    protocol.connectionLost(Failure(ConnectionDone()))
    assert stopped.called and link.state is LinkState.STOPPED


def test_smsc_unbinding_us_is_answered_and_we_bind_again(link):
    endpoint = link.endpoint
    endpoint.answer_bind()
    protocol, transport = endpoint.connections[-1]
    protocol.dataReceived(encode(PDU(CommandId.unbind, 77)))
    [resp] = sent(transport)
    assert resp.command_id == CommandId.unbind_resp and transport.disconnecting
    endpoint.drop()
    assert link.last_error == "" and link.session is None
    assert attempts_after(link, 2.01) == 1
