"""The SMPP session base: requests and responses, window, timers, bad PDUs (StringTransport + Clock)."""

import pytest
from twisted.internet import task
from twisted.internet.testing import StringTransport

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU
from gateway.smpp.session import ResponseTimeout, SessionClosed, SMPPError, SMPPSession


class Echo(SMPPSession):
    """Answers every request with ESME_ROK and remembers it."""

    def __init__(self, clock, **kw):
        super().__init__(clock, **kw)
        self.requests = []

    def requestReceived(self, pdu):
        self.requests.append(pdu)
        return pdu.resp()


def connect(session):
    transport = StringTransport()
    session.makeConnection(transport)
    return transport


def sent(transport):
    """The PDUs written since the last call."""
    data = transport.value()
    transport.clear()
    return Framer().feed(data)


def test_request_gets_response_with_same_sequence():
    clock = task.Clock()
    session = Echo(clock)
    t = connect(session)
    session.dataReceived(encode(PDU(CommandId.query_sm, 42, params={"message_id": "abc"})))
    [resp] = sent(t)
    assert resp.command_id == CommandId.query_sm_resp and resp.sequence_number == 42


def test_many_pdus_in_one_chunk_and_one_pdu_byte_by_byte():
    session = Echo(task.Clock())
    t = connect(session)
    stream = b"".join(encode(PDU(CommandId.enquire_link, n)) for n in range(1, 51))
    session.dataReceived(stream)
    assert [p.sequence_number for p in sent(t)] == list(range(1, 51))
    for byte in encode(PDU(CommandId.enquire_link, 77)):
        session.dataReceived(bytes([byte]))
    assert [p.sequence_number for p in sent(t)] == [77]


def test_response_fires_the_request_deferred_and_errors_become_smpp_error():
    session = Echo(task.Clock())
    t = connect(session)
    ok = session.sendRequest(PDU(CommandId.enquire_link))
    bad = session.sendRequest(PDU(CommandId.deliver_sm, params={"short_message": b"x"}))
    first, second = sent(t)
    session.dataReceived(encode(second.resp(CommandStatus.ESME_RX_T_APPN)))
    session.dataReceived(encode(first.resp()))
    assert ok.result.command_id == CommandId.enquire_link_resp
    failure = bad.result
    bad.addErrback(lambda f: None)
    assert failure.check(SMPPError) and failure.value.status == CommandStatus.ESME_RX_T_APPN


def test_unanswered_request_times_out_and_closes_without_unbind():
    clock = task.Clock()
    session = Echo(clock, response_timeout=60)
    t = connect(session)
    d = session.sendRequest(PDU(CommandId.deliver_sm))
    sent(t)
    clock.advance(59.9)
    assert not d.called and not t.disconnecting
    clock.advance(0.2)
    assert d.result.check(ResponseTimeout)
    d.addErrback(lambda f: None)
    assert t.disconnecting
    assert sent(t) == []  # no unbind


def test_window_holds_requests_until_responses_free_it():
    session = Echo(task.Clock(), window=2)
    t = connect(session)
    ds = [session.sendRequest(PDU(CommandId.enquire_link)) for _ in range(5)]
    first = sent(t)
    assert len(first) == 2 and session.windowFree == 0
    session.dataReceived(encode(first[0].resp()))
    [third] = sent(t)
    assert third.sequence_number == 3
    assert ds[0].called and not ds[2].called


def test_connection_lost_fails_outstanding_and_waiting_requests():
    session = Echo(task.Clock(), window=1)
    connect(session)
    d1 = session.sendRequest(PDU(CommandId.enquire_link))
    d2 = session.sendRequest(PDU(CommandId.enquire_link))
    session.connectionLost(None)
    for d in (d1, d2):
        assert d.result.check(SessionClosed)
        d.addErrback(lambda f: None)


def test_inactivity_closes_and_traffic_postpones_it():
    clock = task.Clock()
    session = Echo(clock, inactivity_timeout=120)
    t = connect(session)
    clock.advance(100)
    session.dataReceived(encode(PDU(CommandId.enquire_link, 1)))
    clock.advance(100)
    assert not t.disconnecting
    clock.advance(21)
    assert t.disconnecting


def test_keepalive_sends_enquire_link_when_idle():
    clock = task.Clock()
    session = Echo(clock, enquire_link_interval=30, inactivity_timeout=0)
    t = connect(session)
    clock.advance(30)
    [ping] = sent(t)
    assert ping.command_id == CommandId.enquire_link


def test_unknown_command_gets_generic_nack_and_connection_stays():
    session = Echo(task.Clock())
    t = connect(session)
    header = (16).to_bytes(4, "big") + (0x00000077).to_bytes(4, "big") + bytes(4) + (9).to_bytes(4, "big")
    session.dataReceived(header + encode(PDU(CommandId.enquire_link, 10)))
    nack, resp = sent(t)
    assert nack.command_id == CommandId.generic_nack
    assert nack.command_status == CommandStatus.ESME_RINVCMDID and nack.sequence_number == 9
    assert resp.command_id == CommandId.enquire_link_resp
    assert not t.disconnecting


def test_absurd_command_length_gets_generic_nack_and_close():
    session = Echo(task.Clock(), max_pdu_size=1024)
    t = connect(session)
    session.dataReceived((10_000_000).to_bytes(4, "big") + bytes(12))
    [nack] = sent(t)
    assert nack.command_id == CommandId.generic_nack
    assert nack.command_status == CommandStatus.ESME_RINVCMDLEN
    assert t.disconnecting


def test_handler_exception_answers_syserr_and_keeps_session():
    class Broken(SMPPSession):
        def requestReceived(self, pdu):
            raise RuntimeError("boom")

    session = Broken(task.Clock())
    t = connect(session)
    session.dataReceived(encode(PDU(CommandId.query_sm, 5, params={"message_id": "x"})))
    [resp] = sent(t)
    assert resp.command_status == CommandStatus.ESME_RSYSERR and not t.disconnecting


def test_unbind_is_answered_and_closes():
    session = Echo(task.Clock())
    t = connect(session)
    session.dataReceived(encode(PDU(CommandId.unbind, 3)))
    [resp] = sent(t)
    assert resp.command_id == CommandId.unbind_resp and t.disconnecting


def test_sequence_numbers_wrap_before_0x80000000():
    session = Echo(task.Clock())
    session._sequence = 0x7FFFFFFF
    assert session.nextSequence() == 1


class CountingTransport(StringTransport):
    """Counts the calls to write, not just the octets."""

    writes = 0

    def write(self, data):
        self.writes += 1
        super().write(data)


def test_requests_sent_together_go_out_in_one_write():
    session = Echo(task.Clock(), window=2)
    t = CountingTransport()
    session.makeConnection(t)
    ds = session.sendRequests([PDU(CommandId.enquire_link) for _ in range(3)])
    assert t.writes == 1
    assert [p.sequence_number for p in sent(t)] == [1, 2]  # the third waits for room in the window
    session.dataReceived(encode(PDU(CommandId.enquire_link_resp, 1)))
    assert [p.sequence_number for p in sent(t)] == [3]
    assert ds[0].result.sequence_number == 1 and not ds[1].called and not ds[2].called


def test_requests_postpone_the_keepalive():
    clock = task.Clock()
    session = Echo(clock, enquire_link_interval=30, inactivity_timeout=0)
    t = connect(session)
    clock.advance(20)
    session.sendRequest(PDU(CommandId.query_sm, params={"message_id": "x"}))
    sent(t)
    clock.advance(29)
    assert sent(t) == []
    clock.advance(1)
    [ping] = sent(t)
    assert ping.command_id == CommandId.enquire_link
