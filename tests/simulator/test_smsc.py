"""The simulator's SMSC behaviour, bytes in and out: StringTransport + task.Clock."""

from __future__ import annotations

import random
import re

import pytest
from twisted.internet import task
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from gateway.simulator.config import SimulatorOptionError, parse_outcomes, parse_simulator_options
from gateway.simulator.session import SMSCFactory
from gateway.simulator.smsc import SMSC
from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId, CommandStatus, EsmClass
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU
from gateway.smpp.receipt import parse_network_error_code, parse_receipt

RECEIPT = re.compile(r"id:(\w+) sub:001 dlvrd:00[01] submit date:\d{10} done date:\d{10} "
                     r"stat:(\w+) err:(\d{3}) text:(.{0,20})$")


class Peer:
    """One ESME connected to a simulator over a StringTransport."""

    def __init__(self, smsc: SMSC, factory: SMSCFactory):
        self.session = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.session.makeConnection(self.transport)
        self.seq = 0

    def send(self, command, **params):
        self.seq += 1
        tlvs = params.pop("tlvs", {})
        self.session.dataReceived(encode(PDU(command, self.seq, params=params, tlvs=tlvs)))

    def received(self):
        data = self.transport.value()
        self.transport.clear()
        return Framer().feed(data)

    def bind(self, command=CommandId.bind_transceiver, system_id="esme", password="pw"):
        self.send(command, system_id=system_id, password=password)
        [resp] = self.received()
        return resp

    def submit(self, destination="79001234567", text=b"hello", registered_delivery=1, **params):
        self.send(CommandId.submit_sm, destination_addr=destination, source_addr="Shop",
                  short_message=text, registered_delivery=registered_delivery, **params)


def make(**options):
    clock = task.Clock()
    clock.advance(1_750_000_000)
    config = parse_simulator_options({k: str(v) for k, v in options.items()})
    smsc = SMSC(config, clock, random.Random(1))
    return smsc, SMSCFactory(smsc, clock), clock


def test_bind_any_credentials_then_submit_and_receipt_after_the_delay():
    smsc, factory, clock = make(dlr_delay=2, id_start=0x1F0)
    peer = Peer(smsc, factory)
    resp = peer.bind()
    assert resp.command_id == CommandId.bind_transceiver_resp and resp.params["system_id"] == "smsc-sim"
    peer.submit(text=b"hello there, a text longer than twenty")
    [submit_resp] = peer.received()
    assert submit_resp.command_status == 0 and submit_resp.params["message_id"] == "1f0"
    clock.advance(1.9)
    assert peer.received() == []
    clock.advance(0.2)
    [dlr] = peer.received()
    assert dlr.command_id == CommandId.deliver_sm and dlr.params["esm_class"] == EsmClass.TYPE_DELIVERY_RECEIPT
    assert (dlr.params["source_addr"], dlr.params["destination_addr"]) == ("79001234567", "Shop")
    match = RECEIPT.match(dlr.params["short_message"].decode())
    assert match.groups() == ("1f0", "DELIVRD", "000", "hello there, a text ")
    assert dlr.tlvs["receipted_message_id"] == "1f0" and dlr.tlvs["message_state"] == 2
    assert parse_network_error_code(dlr.tlvs["network_error_code"]) == (3, 0)
    peer.session.dataReceived(encode(dlr.resp()))
    assert smsc.stats()["receipts_sent"] == 1 and smsc.stats()["receipts_by_state"] == {"DELIVRD": 1}


def test_configured_credentials_are_checked():
    smsc, factory, clock = make(system_id="esme", password="pw")
    assert Peer(smsc, factory).bind(password="bad").command_status == CommandStatus.ESME_RINVPASWD
    assert Peer(smsc, factory).bind(system_id="other").command_status == CommandStatus.ESME_RINVSYSID
    peer = Peer(smsc, factory)
    assert peer.bind().command_status == 0
    assert peer.bind().command_status == CommandStatus.ESME_RALYBND


def test_nothing_but_bind_before_binding_and_no_bind_in_time_closes():
    smsc, factory, clock = make(bind_timeout=10)
    peer = Peer(smsc, factory)
    peer.submit()
    [resp] = peer.received()
    assert resp.command_status == CommandStatus.ESME_RINVBNDSTS
    clock.advance(10)
    assert peer.transport.disconnecting


def test_outcome_rules_by_prefix_and_regex():
    smsc, factory, clock = make(outcomes="7999 undeliverable 21; /^7000\\d{3}$/ reject 0x0B; 7222 nodlr; 7333 expire",
                                dlr_delay=0)
    peer = Peer(smsc, factory)
    peer.bind()
    for destination in ("79990000000", "7000123", "70001234", "72220000000", "73330000000"):
        peer.submit(destination)
    resps = peer.received()
    assert [r.command_status for r in resps] == [0, CommandStatus.ESME_RINVDSTADR, 0, 0, 0]
    clock.advance(0)
    receipts = {d.params["source_addr"]: parse_receipt(d.params["short_message"]) for d in peer.received()}
    assert {k: (r.stat, r.err) for k, r in receipts.items()} == {
        "79990000000": ("UNDELIV", "021"), "70001234": ("DELIVRD", "000"), "73330000000": ("EXPIRED", "000")}
    assert smsc.by_destination["7000123"] == 0 and smsc.counters["rejected"] == 1


def test_receipt_only_when_asked():
    smsc, factory, clock = make(dlr_delay=0, outcomes="7999 undeliverable")
    peer = Peer(smsc, factory)
    peer.bind()
    peer.submit("79001234567", registered_delivery=0)
    peer.submit("79001234567", registered_delivery=2)  # failures only
    peer.submit("79991234567", registered_delivery=2)
    peer.received()
    clock.advance(0)
    [only] = peer.received()
    assert only.params["source_addr"] == "79991234567"


def test_throttling_beyond_the_throughput():
    smsc, factory, clock = make(throughput=5)
    peer = Peer(smsc, factory)
    peer.bind()
    for _ in range(7):
        peer.submit(registered_delivery=0)
    statuses = [r.command_status for r in peer.received()]
    assert statuses == [0] * 5 + [CommandStatus.ESME_RTHROTTLED] * 2
    clock.advance(0.2)
    peer.submit(registered_delivery=0)
    assert peer.received()[0].command_status == 0


def test_window_of_unanswered_submits_is_msgqful_beyond():
    smsc, factory, clock = make(window=2, response_delay=1)
    peer = Peer(smsc, factory)
    peer.bind()
    for _ in range(3):
        peer.submit(registered_delivery=0)
    [full] = peer.received()
    assert full.command_status == CommandStatus.ESME_RMSGQFUL and full.sequence_number == 4
    clock.advance(1)
    assert [r.command_status for r in peer.received()] == [0, 0]


def test_random_disconnects_are_seeded():
    def run():
        smsc, factory, _ = make(disconnect_probability=0.3, seed=5)
        smsc.rng = random.Random(5)
        peer = Peer(smsc, factory)
        peer.bind()
        n = 0
        while not peer.transport.disconnecting:
            peer.submit(registered_delivery=0)
            n += 1
        return n, smsc.counters["disconnects"], len(peer.received())

    first = run()
    assert first == run() and first[1] == 1 and first[2] == first[0] - 1  # the last one unanswered


def test_receipts_wait_for_a_receiver_and_go_to_the_same_system_id():
    smsc, factory, clock = make(dlr_delay=0)
    tx = Peer(smsc, factory)
    tx.bind(CommandId.bind_transmitter)
    other = Peer(smsc, factory)
    other.bind(CommandId.bind_receiver, system_id="someone-else")
    tx.submit()
    tx.received()
    clock.advance(0)
    assert smsc.stats()["receipts_held"] == 1 and other.received() == []
    rx = Peer(smsc, factory)
    rx.bind(CommandId.bind_receiver)
    clock.advance(0)
    [dlr] = rx.received()
    assert dlr.command_id == CommandId.deliver_sm


def test_refused_receipt_is_sent_again():
    smsc, factory, clock = make(dlr_delay=0)
    peer = Peer(smsc, factory)
    peer.bind()
    peer.submit()
    peer.received()
    clock.advance(0)
    [dlr] = peer.received()
    peer.session.dataReceived(encode(dlr.resp(CommandStatus.ESME_RX_T_APPN)))
    clock.advance(1.0)
    [again] = peer.received()
    assert again.params["short_message"] == dlr.params["short_message"]


def test_decimal_ids_data_sm_receipts_and_text_id_spelling():
    smsc, factory, clock = make(message_id="decimal", id_start=255, receipt_pdu="data_sm", dlr_delay=0)
    peer = Peer(smsc, factory)
    peer.bind()
    peer.submit()
    assert peer.received()[0].params["message_id"] == "255"
    clock.advance(0)
    [dlr] = peer.received()
    assert dlr.command_id == CommandId.data_sm and dlr.params["esm_class"] == EsmClass.TYPE_DELIVERY_RECEIPT
    assert parse_receipt(dlr.tlvs["message_payload"]).id == "255"
    smsc, factory, clock = make(message_id="hex", receipt_text_id="decimal", receipt_tlvs="no", id_start=255,
                                dlr_delay=0)
    peer = Peer(smsc, factory)
    peer.bind()
    peer.submit()
    assert peer.received()[0].params["message_id"] == "ff"
    clock.advance(0)
    [dlr] = peer.received()
    assert parse_receipt(dlr.params["short_message"]).id == "255" and dlr.tlvs == {}


def test_long_messages_udh_sar_and_payload_are_rejoined():
    smsc, factory, clock = make()
    peer = Peer(smsc, factory)
    peer.bind()
    udh = lambda n: bytes((5, 0, 3, 7, 2, n))  # noqa: E731
    peer.submit("1", udh(1) + b"first ", esm_class=EsmClass.UDHI)
    peer.submit("1", udh(2) + b"second", esm_class=EsmClass.UDHI)
    sar = lambda n: {"sar_msg_ref_num": 300, "sar_total_segments": 2, "sar_segment_seqnum": n}  # noqa: E731
    peer.submit("2", "привет, ".encode("utf-16-be"), data_coding=8, tlvs=sar(1))
    peer.submit("2", "мир".encode("utf-16-be"), data_coding=8, tlvs=sar(2))
    peer.submit("3", b"", tlvs={"message_payload": b"x" * 500})
    assert [r.command_status for r in peer.received()] == [0] * 5
    assert [(r.destination, r.text) for r in smsc.received] == [("1", "first second"), ("2", "привет, мир"),
                                                                ("3", "x" * 500)]
    assert len(smsc.received[0].message_ids) == 2 and smsc.counters["long_messages"] == 2


def test_mo_injection_goes_to_a_receiver_in_parts():
    smsc, factory, clock = make()
    peer = Peer(smsc, factory)
    peer.bind(CommandId.bind_receiver)
    d = smsc.inject_mo("+79001112233", "1234", "a" * 200)
    parts = peer.received()
    assert len(parts) == 2 and all(p.params["esm_class"] & EsmClass.UDHI for p in parts)
    assert parts[0].params["source_addr"] == "79001112233"
    for p in parts:
        peer.session.dataReceived(encode(p.resp()))
    assert d.result == 2 and smsc.counters["mo_sent"] == 1


def test_mo_without_receiver_fails():
    smsc, factory, clock = make()
    d = smsc.inject_mo("1", "2", "x")
    assert "no receiver" in str(d.result.value)
    d.addErrback(lambda f: None)


def test_unsupported_operations_answer_their_failure_status():
    smsc, factory, clock = make()
    peer = Peer(smsc, factory)
    peer.bind()
    peer.send(CommandId.query_sm, message_id="1")
    peer.send(CommandId.cancel_sm, message_id="1")
    peer.send(CommandId.enquire_link)
    statuses = [(r.command_id, r.command_status) for r in peer.received()]
    assert statuses == [(CommandId.query_sm_resp, CommandStatus.ESME_RQUERYFAIL),
                        (CommandId.cancel_sm_resp, CommandStatus.ESME_RCANCELFAIL),
                        (CommandId.enquire_link_resp, 0)]


def test_lost_session_is_forgotten():
    smsc, factory, clock = make()
    peer = Peer(smsc, factory)
    peer.bind()
    assert smsc.stats()["bound"] == 1
    peer.session.connectionLost(Failure(ConnectionDone()))
    assert smsc.stats()["bound"] == 0 and not factory.sessions


@pytest.mark.parametrize("value, words", [
    ("7999", "PATTERN OUTCOME"), ("7999 explode", "outcomes: deliver"), ("/[/ deliver", "bad regular"),
    ("7999 reject 0xZZ", "is a number"), ("79-99 deliver", "a pattern is"),
])
def test_bad_outcome_rules_are_precise(value, words):
    with pytest.raises(SimulatorOptionError, match=re.escape(words)):
        parse_outcomes(value)


def test_bad_settings_name_the_key():
    with pytest.raises(SimulatorOptionError, match="disconnect_probability"):
        parse_simulator_options({"disconnect_probability": "2"})
    with pytest.raises(SimulatorOptionError, match="unknown key"):
        parse_simulator_options({"dlr_dealy": "1"})
    config = parse_simulator_options({"enabled": True, "listen": ["tcp:1"], "dlr_delay": 0.5})
    assert config.listen == ("tcp:1",) and config.dlr_delay == 0.5
