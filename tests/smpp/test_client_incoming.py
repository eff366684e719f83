"""The ESME session answering deliver_sm from its handler, now or once a Deferred fires."""

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport

from gateway.smpp.client import BindParams, ESMESession
from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU


def sent(transport):
    data = transport.value()
    transport.clear()
    return Framer().feed(data)


def bound_session(on_request):
    session = ESMESession(task.Clock(), BindParams(), on_request=on_request)
    transport = StringTransport()
    session.makeConnection(transport)
    session.bind()
    [bind] = sent(transport)
    session.dataReceived(encode(bind.resp(system_id="SMSC")))
    return session, transport


def test_deliver_sm_is_answered_when_the_handlers_deferred_fires():
    pending = defer.Deferred()
    session, transport = bound_session(lambda s, pdu: pending)
    session.dataReceived(encode(PDU(CommandId.deliver_sm, 7)))
    assert sent(transport) == []
    pending.callback(CommandStatus.ESME_RX_P_APPN)
    [resp] = sent(transport)
    assert (resp.command_id, resp.sequence_number) == (CommandId.deliver_sm_resp, 7)
    assert resp.command_status == CommandStatus.ESME_RX_P_APPN and resp.params == {"message_id": ""}


def test_a_failing_handler_answers_rx_t_appn_now_or_later():
    def handler(session, pdu):
        if pdu.sequence_number == 1:
            raise RuntimeError("sink down")
        return failing

    failing = defer.Deferred()
    session, transport = bound_session(handler)
    session.dataReceived(encode(PDU(CommandId.deliver_sm, 1)) + encode(PDU(CommandId.data_sm, 2)))
    [now] = sent(transport)
    assert (now.sequence_number, now.command_status) == (1, CommandStatus.ESME_RX_T_APPN)
    failing.errback(RuntimeError("sink down"))
    [later] = sent(transport)
    assert (later.command_id, later.sequence_number) == (CommandId.data_sm_resp, 2)
    assert later.command_status == CommandStatus.ESME_RX_T_APPN


def test_no_answer_after_the_connection_is_gone():
    pending = defer.Deferred()
    session, transport = bound_session(lambda s, pdu: pending)
    session.dataReceived(encode(PDU(CommandId.deliver_sm, 3)))
    session.connectionLost(None)
    pending.callback(CommandStatus.ESME_ROK)
    assert sent(transport) == []
