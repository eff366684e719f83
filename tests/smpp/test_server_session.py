"""The SMPP server session as a state machine: StringTransport + task.Clock, bytes in, bytes out."""

from __future__ import annotations

import pytest

from gateway.model import Message, State
from gateway.smpp.binds import BadSystemType, BindFlags, parse_system_type
from gateway.smpp.constants import CommandId, CommandStatus as S, EsmClass
from gateway.smpp.codec import encode
from gateway.smpp.pdu import PDU, DestAddress, DistributionList
from gateway.smpp.server import BindState
from gateway.smpp.split import concat_udh
from gateway.smpp.text import gsm_encode
from gateway.store.scripting import StoreUnavailable
from tests.smpp.server_support import Server, account, dlr_report

BINDS = [CommandId.bind_transmitter, CommandId.bind_receiver, CommandId.bind_transceiver]


def gone(client):
    """Let a connection the server dropped finish closing (StringTransport does not)."""
    assert client.closed
    client.lose()


# -- timers -----------------------------------------------------------------------------------

def test_no_bind_within_bind_timeout_closes():
    server = Server(bind_timeout=10)
    c = server.connect()
    server.clock.advance(9.9)
    assert not c.closed
    server.clock.advance(0.2)
    assert c.closed and c.received() == []


def test_bind_in_time_cancels_the_bind_timer():
    server = Server(bind_timeout=10)
    c = server.connect()
    assert c.bind().command_status == S.ESME_ROK
    server.clock.advance(11)
    assert not c.closed


def test_inactivity_closes_and_enquire_link_keeps_alive():
    server = Server(inactivity_timeout=120)
    c = server.connect()
    c.bind()
    server.clock.advance(100)
    c.send(CommandId.enquire_link)
    assert c.one().command_id == CommandId.enquire_link_resp
    server.clock.advance(119)
    assert not c.closed
    server.clock.advance(2)
    assert c.closed


def test_unanswered_deliver_sm_closes_without_unbind_and_report_stays():
    server = Server(response_timeout=60)
    server.outbox.ready.append(dlr_report())
    c = server.connect()
    c.bind(CommandId.bind_receiver)
    server.clock.advance(0)
    [deliver] = c.received()
    assert deliver.command_id == CommandId.deliver_sm
    server.clock.advance(59)
    assert not c.closed
    server.clock.advance(2)
    assert c.closed and c.received() == []  # no unbind
    gone(c)
    server.clock.advance(10)
    assert server.outbox.acked == [] and server.outbox.released == ["r1"]


def test_timers_are_configurable_and_zero_disables():
    server = Server(bind_timeout=0, inactivity_timeout=0)
    c = server.connect()
    server.clock.advance(3600)
    assert not c.closed


# -- binds --------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", BINDS)
def test_bind_modes_answer_with_system_id_and_interface_version(command):
    server = Server()
    c = server.connect()
    resp = c.bind(command, interface_version=0x50)
    assert resp.command_id == command | 0x80000000 and resp.command_status == S.ESME_ROK
    assert resp.params["system_id"] == "smsgw" and resp.tlvs == {"sc_interface_version": 0x50}
    assert c.session.state is {CommandId.bind_transmitter: BindState.BOUND_TX,
                               CommandId.bind_receiver: BindState.BOUND_RX,
                               CommandId.bind_transceiver: BindState.BOUND_TRX}[command]


def test_smpp_33_bind_gets_no_tlvs_and_34_gets_34():
    server = Server(account("a"), account("b"))
    assert server.connect().bind(system_id="a", interface_version=0x33).tlvs == {}
    assert server.connect().bind(system_id="b").tlvs == {"sc_interface_version": 0x34}


@pytest.mark.parametrize("system_id, password, fields, status", [
    ("acme", "wrong", {}, S.ESME_RINVPASWD),
    ("nobody", "secret", {}, S.ESME_RINVSYSID),
    ("acme", "secret", {"enabled": False}, S.ESME_RBINDFAIL),
    ("acme", "secret", {"allowed_ips": ("10.0.0.0/8",)}, S.ESME_RBINDFAIL),
])
def test_bind_errors_are_precise(system_id, password, fields, status):
    server = Server(account(**fields))
    c = server.connect()
    resp = c.bind(system_id=system_id, password=password)
    assert resp.command_status == status and resp.params == {}
    assert c.session.state is BindState.OPEN and not c.closed


def test_allowlisted_address_binds():
    server = Server(account(allowed_ips=("127.0.0.0/8",)))
    assert server.connect().bind().command_status == S.ESME_ROK


def test_second_bind_on_a_bound_session_is_already_bound():
    c = Server().connect()
    c.bind()
    assert c.bind().command_status == S.ESME_RALYBND


def test_failed_binds_in_a_row_block_the_address_for_a_while():
    server = Server(failed_bind_limit=3, failed_bind_delay=60)
    c = server.connect()
    for _ in range(3):
        assert c.bind(password="nope").command_status == S.ESME_RINVPASWD
    assert server.connect().bind().command_status == S.ESME_RBINDFAIL  # right password, still blocked
    assert server.connect("10.1.1.1").bind().command_status == S.ESME_ROK  # other addresses are not
    server.clock.advance(61)
    assert server.connect().bind().command_status == S.ESME_ROK


def test_a_good_bind_resets_the_failure_count():
    server = Server(failed_bind_limit=2)
    server.connect().bind(password="nope")
    server.connect().bind()
    server.connect().bind(password="nope")
    assert server.connect().bind().command_status == S.ESME_ROK


def test_second_bind_replaces_first_without_mcon():
    server = Server(unbind_timeout=5)
    first, second = server.connect(), server.connect()
    first.bind()
    assert second.bind().command_status == S.ESME_ROK
    [unbind] = first.received()
    assert unbind.command_id == CommandId.unbind and first.session.state is BindState.UNBINDING
    first.send(CommandId.unbind_resp, seq=unbind.sequence_number)
    gone(first)
    assert server.factory.registry.sessions("acme") == [second.session]


def test_replaced_bind_that_never_answers_unbind_is_closed_after_unbind_timeout():
    server = Server(unbind_timeout=5)
    first = server.connect()
    first.bind()
    server.connect().bind()
    first.received()
    server.clock.advance(5.1)
    assert first.closed


def test_mcon2_allows_two_binds_and_a_third_replaces_the_oldest():
    server = Server()
    a, b, c = (server.connect() for _ in range(3))
    a.bind(system_type="MCON2")
    b.bind(system_type="MCON2")
    assert a.received() == [] and len(server.factory.registry.sessions("acme")) == 2
    c.bind(system_type="MCON2")
    assert [p.command_id for p in a.received()] == [CommandId.unbind]
    assert b.received() == []
    assert server.factory.registry.sessions("acme") == [b.session, c.session]


def test_account_max_connections_is_the_default_limit():
    server = Server(account(max_connections=2))
    a, b = server.connect(), server.connect()
    a.bind()
    b.bind()
    assert a.received() == []


def test_max_binds_per_node():
    server = Server(account("a"), account("b"), max_binds=1)
    server.connect().bind(system_id="a")
    assert server.connect().bind(system_id="b").command_status == S.ESME_RBINDFAIL


def test_system_type_flags():
    assert parse_system_type("ISO,SINGLE") == BindFlags(iso=True, single=True)
    assert parse_system_type(" iso , mcon3 ,SMPP") == BindFlags(iso=True, mcon=3)
    assert parse_system_type("") == BindFlags() and parse_system_type("VMA") == BindFlags()
    for bad in ("MCON0", "MCON10"):
        with pytest.raises(BadSystemType):
            parse_system_type(bad)
    assert BindFlags(mcon=3).limit(1) == 3 and BindFlags().limit(2) == 2
    assert BindFlags(single=True).merged(BindFlags(iso=True, mcon=2)) == BindFlags(True, True, 2)


def test_bad_mcon_is_an_invalid_system_type():
    assert Server().connect().bind(system_type="MCON12").command_status == S.ESME_RINVSYSTYP


def test_account_system_type_gives_default_flags():
    server = Server(account(system_type="ISO"))
    c = server.connect()
    c.bind(system_type="SINGLE")
    assert c.session.flags == BindFlags(iso=True, single=True)


# -- bind states --------------------------------------------------------------------------------

def test_before_bind_only_bind_and_enquire_link():
    c = Server().connect()
    c.send(CommandId.enquire_link)
    assert c.one().command_id == CommandId.enquire_link_resp
    c.submit()
    resp = c.one()
    assert resp.command_id == CommandId.submit_sm_resp and resp.command_status == S.ESME_RINVBNDSTS
    c.send(CommandId.unbind)
    assert c.one().command_status == S.ESME_RINVBNDSTS


@pytest.mark.parametrize("command, params", [
    (CommandId.submit_sm, {"destination_addr": "7900"}),
    (CommandId.query_sm, {"message_id": "x"}),
    (CommandId.cancel_sm, {"message_id": "x"}),
    (CommandId.data_sm, {"destination_addr": "7900"}),
])
def test_receiver_bind_may_not_send(command, params):
    c = Server().connect()
    c.bind(CommandId.bind_receiver)
    c.send(command, params)
    assert c.one().command_status == S.ESME_RINVBNDSTS


def test_unknown_and_smsc_only_commands_get_generic_nack():
    c = Server().connect()
    c.bind()
    c.raw((16).to_bytes(4, "big") + (0x77).to_bytes(4, "big") + bytes(4) + (9).to_bytes(4, "big"))
    nack = c.one()
    assert (nack.command_id, nack.command_status, nack.sequence_number) == (
        CommandId.generic_nack, S.ESME_RINVCMDID, 9)
    c.send(CommandId.deliver_sm, {"short_message": b"x"})
    assert c.one().command_id == CommandId.generic_nack
    assert not c.closed


def test_malformed_pdu_keeps_the_connection_when_framing_is_intact():
    c = Server().connect()
    c.bind()
    # a submit_sm whose body ends inside the mandatory parameters
    body = b"\0" + b"\0\0" + b"Shop\0"
    c.raw((16 + len(body)).to_bytes(4, "big") + (4).to_bytes(4, "big") + bytes(4) + (5).to_bytes(4, "big") + body)
    resp = c.one()
    assert (resp.command_id, resp.command_status) == (CommandId.submit_sm_resp, S.ESME_RINVCMDLEN)
    assert not c.closed


def test_absurd_length_closes_the_connection():
    c = Server(max_pdu_size=4096).connect()
    c.bind()
    c.raw((1_000_000).to_bytes(4, "big") + bytes(12))
    assert c.one().command_id == CommandId.generic_nack and c.closed


# -- submits ------------------------------------------------------------------------------------

def test_submit_resp_comes_only_after_the_store_acknowledged():
    server = Server()
    server.acceptor.hold = True
    c = server.connect()
    c.bind()
    c.submit()
    assert c.received() == []
    server.acceptor.held[0].callback(None)
    resp = c.one()
    assert resp.command_status == S.ESME_ROK and resp.params["message_id"] == server.acceptor.accepted[0][2].id


def test_store_down_is_a_temporary_error_never_ok():
    server = Server()
    server.acceptor.error = StoreUnavailable("down")
    c = server.connect()
    c.bind()
    c.submit()
    assert c.one().command_status == S.ESME_RMSGQFUL


def test_submit_fields_reach_the_store():
    server = Server()
    c = server.connect()
    c.bind()
    c.submit(gsm_encode("hi\n~~~\nnote"), priority_flag=1, registered_delivery=1, validity_period="000001000000000R",
             schedule_delivery_time="250615160000000+", tlvs={"user_message_reference": 7})
    assert c.one().command_status == S.ESME_ROK
    [(_, submit, _)] = server.acceptor.accepted
    assert (submit.text, submit.destination, submit.source, submit.priority, submit.registered_delivery,
            submit.user_ref, submit.parts) == ("hi\n~~~\nnote", "79001234567", "Shop", 1, 1, 7, 1)
    now = int(server.clock.seconds() * 1000)
    assert submit.validity == now + 86_400_000
    assert submit.schedule == 1_750_003_200_000  # 2025-06-15 16:00:00 UTC


@pytest.mark.parametrize("params, status", [
    ({"short_message": b"x" * 161}, S.VENDOR_MESSAGE_TOO_LONG),
    ({"data_coding": 2}, S.VENDOR_BAD_ENCODING),
    ({"data_coding": 8, "short_message": b"\x00a\x00"}, S.VENDOR_BAD_ENCODING),
    ({"short_message": b"\xe9t\xe9"}, S.VENDOR_BAD_ENCODING),  # Latin-1 octets are not GSM
    ({"destination_addr": ""}, S.ESME_RINVDSTADR),
    ({"priority_flag": 7}, S.ESME_RINVPRTFLG),
    ({"schedule_delivery_time": "tomorrow"}, S.ESME_RINVSCHED),
    ({"validity_period": "251340000000000+"}, S.ESME_RINVEXPIRY),
    ({"short_message": b"x", "tlvs": {"message_payload": b"y"}}, S.ESME_RINVOPTPARAMVAL),
])
def test_submit_refusals(params, status):
    server = Server()
    c = server.connect()
    c.bind()
    c.submit(**params)
    assert c.one().command_status == status and server.acceptor.accepted == []


def test_iso_flag_reads_data_coding_0_as_latin_1():
    server = Server()
    c = server.connect()
    c.bind(system_type="ISO")
    c.submit(b"\xe9t\xe9")
    assert c.one().command_status == S.ESME_ROK
    assert server.acceptor.accepted[0][1].text == "été"


def test_encodings_gsm_ia5_latin1_ucs2():
    server = Server()
    c = server.connect()
    c.bind()
    for dc, octets in ((0, b"\x1b\x65 5"), (1, b"plain"), (3, b"\xe9"), (8, "Привет 😀".encode("utf-16-be"))):
        c.submit(octets, data_coding=dc)
        assert c.one().command_status == S.ESME_ROK
    assert [s.text for _, s, _ in server.acceptor.accepted] == ["€ 5", "plain", "é", "Привет 😀"]


def test_udh_parts_go_to_the_assembler_with_one_id():
    server = Server()
    c = server.connect()
    c.bind()
    ids = []
    for n in (1, 2):
        c.submit(concat_udh(0x1234, 2, n, 16) + f"part{n}".encode(), esm_class=EsmClass.UDHI)
        ids.append(c.one().params["message_id"])
    assert ids[0] == ids[1]
    assert server.assembler.parts == [("part1", 0x1234, 2, 1), ("part2", 0x1234, 2, 2)]


def test_sar_parts_go_to_the_assembler():
    server = Server()
    c = server.connect()
    c.bind()
    c.submit(b"abc", tlvs={"sar_msg_ref_num": 5, "sar_total_segments": 3, "sar_segment_seqnum": 2})
    assert c.one().command_status == S.ESME_ROK
    assert server.assembler.parts == [("abc", 5, 3, 2)]


def test_single_flag_accepts_each_part_as_its_own_message():
    server = Server()
    c = server.connect()
    c.bind(system_type="SINGLE")
    ids = []
    for n in (1, 2):
        c.submit(concat_udh(9, 2, n) + f"part{n}".encode(), esm_class=EsmClass.UDHI)
        ids.append(c.one().params["message_id"])
    assert ids[0] != ids[1] and server.assembler.parts == []
    assert [s.text for _, s, _ in server.acceptor.accepted] == ["part1", "part2"]


def test_message_payload_is_one_message_with_its_part_count():
    server = Server()
    c = server.connect()
    c.bind()
    text = "Длинное сообщение " * 10
    c.submit(b"", data_coding=8, tlvs={"message_payload": text.encode("utf-16-be")})
    assert c.one().command_status == S.ESME_ROK
    [(_, submit, _)] = server.acceptor.accepted
    assert submit.text == text and submit.parts == 3


def test_data_sm_is_accepted_like_submit_sm():
    server = Server()
    c = server.connect()
    c.bind()
    c.send(CommandId.data_sm, {"destination_addr": "79001234567", "registered_delivery": 1},
           {"message_payload": b"data", "qos_time_to_live": 60})
    resp = c.one()
    assert resp.command_id == CommandId.data_sm_resp and resp.params["message_id"]
    [(_, submit, _)] = server.acceptor.accepted
    assert submit.text == "data" and submit.validity == int(server.clock.seconds() * 1000) + 60_000


def test_submit_multi_accepts_each_destination_and_lists_refused_ones():
    server = Server()
    c = server.connect()
    c.bind()
    c.send(CommandId.submit_multi, {
        "source_addr": "Shop", "short_message": b"hi",
        "dest_address": [DestAddress(1, 1, "7900111"), DistributionList("friends"), DestAddress(1, 1, "7900222")]})
    resp = c.one()
    ids = [m.id for _, _, m in server.acceptor.accepted]
    assert resp.command_status == S.ESME_ROK and resp.params["message_id"] == ids[0]
    assert ids[1] == f"{ids[0]}.2"
    assert [u.destination_addr for u in resp.params["unsuccess_sme"]] == ["friends"]
    assert all(m.extra["multi"] == ids[0] for _, _, m in server.acceptor.accepted)


def test_unbind_from_client_answers_after_pending_submits():
    server = Server()
    server.acceptor.hold = True
    c = server.connect()
    c.bind()
    c.submit()
    c.send(CommandId.unbind)
    assert c.received() == []
    server.acceptor.held[0].callback(None)
    assert [p.command_id for p in c.received()] == [CommandId.submit_sm_resp, CommandId.unbind_resp]
    assert c.closed


def test_backpressure_pauses_reading_while_too_many_submits_wait():
    server = Server(max_pending=4)
    server.acceptor.hold = True
    c = server.connect()
    c.bind()
    for _ in range(4):
        c.submit()
    assert c.transport.producerState == "paused"
    for d in server.acceptor.held[:2]:
        d.callback(None)
    assert c.transport.producerState == "producing"


# -- query, cancel, replace ----------------------------------------------------------------------

def test_query_sm_reports_state_of_own_messages_only():
    server = Server()
    server.messages.messages["m1"] = Message(id="m1", account="acme", destination="7900", state=State.DELIVERED,
                                             history=[(State.ACCEPTED, 1), (State.DELIVERED, 1_750_000_000_000)])
    server.messages.messages["m2"] = Message(id="m2", account="other", destination="7900")
    c = server.connect()
    c.bind()
    c.send(CommandId.query_sm, {"message_id": "m1"})
    resp = c.one()
    assert (resp.params["message_state"], resp.params["final_date"]) == (2, "250615150640000+")
    for msg_id in ("m2", "missing"):
        c.send(CommandId.query_sm, {"message_id": msg_id})
        assert c.one().command_status == S.ESME_RQUERYFAIL


def test_cancel_sm_by_id_checks_the_addresses_given():
    server = Server()
    c = server.connect()
    c.bind()
    c.send(CommandId.cancel_sm, {"message_id": "m1", "source_addr": "Shop", "service_type": "X"})
    assert c.one().command_status == S.ESME_ROK and server.control.cancelled == [("acme", "m1", "Shop", "")]
    c.send(CommandId.cancel_sm, {"message_id": "sent"})
    assert c.one().command_status == S.ESME_RCANCELFAIL
    assert server.control.matching == []


def test_cancel_sm_without_id_cancels_by_source_and_destination():
    server = Server()
    c = server.connect()
    c.bind()
    c.send(CommandId.cancel_sm, {"source_addr": "Shop", "destination_addr": "79001234567", "service_type": "X"})
    assert c.one().command_status == S.ESME_RCANCELFAIL  # none matched
    server.control.matched = 2
    c.send(CommandId.cancel_sm, {"source_addr": "Shop", "destination_addr": "79001234567"})
    assert c.one().command_status == S.ESME_ROK
    assert server.control.matching == [("acme", "Shop", "79001234567", "X"), ("acme", "Shop", "79001234567", "")]


def test_cancel_sm_without_id_or_destination_fails():
    server = Server()
    c = server.connect()
    c.bind()
    c.send(CommandId.cancel_sm, {"message_id": "", "source_addr": "Shop"})
    assert c.one().command_status == S.ESME_RCANCELFAIL and server.control.matching == []


# -- reports, shutdown ----------------------------------------------------------------------------

def test_dlr_goes_out_as_deliver_sm_receipt_and_is_acked():
    server = Server()
    server.outbox.ready.append(dlr_report())
    c = server.connect()
    c.bind()
    server.clock.advance(0)
    [deliver] = c.received()
    p, t = deliver.params, deliver.tlvs
    assert p["esm_class"] == EsmClass.TYPE_DELIVERY_RECEIPT
    assert (p["source_addr"], p["destination_addr"]) == ("79001234567", "Shop")
    assert p["short_message"] == (b"id:m1 sub:001 dlvrd:001 submit date:2506151506 done date:2506151506 "
                                  b"stat:DELIVRD err:000 text:hello there")
    assert t == {"receipted_message_id": "m1", "message_state": 2, "network_error_code": b"\x03\x00\x00"}
    c.send(CommandId.deliver_sm_resp, {"message_id": ""}, seq=deliver.sequence_number)
    server.clock.advance(0)
    assert server.outbox.acked == ["r1"]


def test_reports_are_taken_a_window_ahead_and_sent_as_answers_free_room():
    server = Server(window=2)
    server.outbox.ready += [dlr_report(f"r{n}", f"m{n}") for n in range(1, 6)]
    c = server.connect()
    c.bind()
    server.clock.advance(0)
    first, second = c.received()
    assert len(server.outbox.ready) == 1   # two sent, two more at hand
    c.send(CommandId.deliver_sm_resp, {"message_id": ""}, seq=first.sequence_number)
    [third] = c.received()                  # at once, from the reports at hand
    assert third.tlvs["receipted_message_id"] == "m3"
    c.lose()
    server.clock.advance(0)
    assert server.outbox.acked == ["r1"]
    assert sorted(server.outbox.released) == ["r2", "r3", "r4", "r5"]   # in flight or at hand


def test_a_report_held_at_hand_too_long_goes_back_to_the_outbox():
    server = Server(window=1)
    server.outbox.ready += [dlr_report("r1", "m1"), dlr_report("r2", "m2")]
    c = server.connect()
    c.bind()
    server.clock.advance(0)
    [first] = c.received()
    server.clock.advance(30)                # the client takes its time; r2 waits at hand
    c.send(CommandId.deliver_sm_resp, {"message_id": ""}, seq=first.sequence_number)
    server.clock.advance(0)
    assert server.outbox.acked == ["r1"] and "r2" in server.outbox.released


def test_refused_deliver_sm_is_released_after_a_delay():
    server = Server(report_retry=5)
    server.outbox.ready += [dlr_report("r1", "m1"), dlr_report("r2", "m2")]
    c = server.connect()
    c.bind()
    server.clock.advance(0)
    first, second = c.received()
    c.send(CommandId.deliver_sm_resp, {"message_id": ""}, seq=first.sequence_number)
    c.raw(encode(PDU(CommandId.deliver_sm_resp, second.sequence_number, S.ESME_RX_T_APPN)))
    server.clock.advance(0)
    assert server.outbox.acked == ["r1"] and server.outbox.released == []
    server.clock.advance(5)
    assert server.outbox.released == ["r2"]


def test_generic_nack_for_a_deliver_sm_also_keeps_the_report():
    server = Server(report_retry=1)
    server.outbox.ready.append(dlr_report())
    c = server.connect()
    c.bind()
    server.clock.advance(0)
    [deliver] = c.received()
    c.raw(encode(PDU(CommandId.generic_nack, deliver.sequence_number, S.ESME_RINVCMDID)))
    server.clock.advance(1)
    assert server.outbox.released == ["r1"] and server.outbox.acked == []


def test_mo_goes_out_as_deliver_sm_in_gsm_or_ucs2():
    server = Server()
    mo = dlr_report("r1", "mo1")
    mo.kind = "mo"
    mo.message.text, mo.message.source, mo.message.destination = "Привет", "79001234567", "1234"
    plain = dlr_report("r2", "mo2")
    plain.kind = "mo"
    plain.message.text = "Hi {you}"
    server.outbox.ready += [mo, plain]
    c = server.connect()
    c.bind(CommandId.bind_receiver)
    server.clock.advance(0)
    first, second = c.received()
    assert first.params["esm_class"] == 0 and first.params["data_coding"] == 8
    assert first.params["short_message"].decode("utf-16-be") == "Привет"
    assert (first.params["source_addr"], first.params["destination_addr"]) == ("79001234567", "1234")
    assert second.params["data_coding"] == 0 and second.params["short_message"] == gsm_encode("Hi {you}")


def test_long_mo_travels_in_message_payload():
    server = Server()
    mo = dlr_report()
    mo.kind = "mo"
    mo.message.text = "Ю" * 200
    server.outbox.ready.append(mo)
    c = server.connect()
    c.bind()
    server.clock.advance(0)
    [deliver] = c.received()
    assert deliver.params["short_message"] == b""
    assert deliver.tlvs["message_payload"].decode("utf-16-be") == "Ю" * 200


def test_transmitter_bind_gets_no_reports():
    server = Server()
    server.outbox.ready.append(dlr_report())
    c = server.connect()
    c.bind(CommandId.bind_transmitter)
    server.clock.advance(0)
    assert c.received() == [] and server.outbox.ready


def test_shutdown_unbinds_every_client():
    server = Server()
    bound, idle = server.connect(), server.connect()
    bound.bind()
    done = server.factory.shutdown()
    assert idle.closed
    gone(idle)
    [unbind] = bound.received()
    assert unbind.command_id == CommandId.unbind and not done.called
    bound.send(CommandId.unbind_resp, seq=unbind.sequence_number)
    gone(bound)
    server.clock.advance(0)
    assert done.called
    assert server.factory.buildProtocol(None) is None


def test_engine_factory_waits_for_the_engine_and_uses_its_store():
    from types import SimpleNamespace

    from twisted.internet import defer

    from gateway.smpp.server import SMPPServerFactory, engine_factory

    server = Server()
    ready = defer.Deferred()
    engine = SimpleNamespace(acceptor=server.acceptor, messages=server.messages, outbox=server.outbox,
                             accounts=server.accounts, notifier=None, node="n1", reactor=server.clock,
                             whenReady=lambda: ready)
    config = SimpleNamespace(smpp={"window": 7, "listen": ["tcp:2775"]})
    d = engine_factory(engine, config)
    assert not d.called
    ready.callback(engine)
    factory = d.result
    assert isinstance(factory, SMPPServerFactory) and factory.settings["window"] == 7 and factory.node == "n1"


def test_pdu_repr_in_debug_logs_never_shows_the_password():
    from gateway.smpp.pdu import PDU as P

    text = repr(P(CommandId.bind_transceiver, 1, params={"system_id": "acme", "password": "secret"}))
    assert "secret" not in text and "acme" in text
