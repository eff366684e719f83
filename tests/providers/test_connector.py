"""The SMPP connector against the simulator over loopback sockets."""

from __future__ import annotations

import pytest
import pytest_twisted

from gateway.model import Outcome, State
from gateway.smpp.constants import CommandStatus
from tests.providers.support import (
    RecordingSink, bound, connector, eventually, message, send_all, simulator, stop,
)

LONG_LATIN = "The quick brown fox jumps over the lazy dog. " * 8  # 360 GSM characters: 3 parts
LONG_CYRILLIC = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 3  # UCS2: 3 parts


@pytest_twisted.ensureDeferred
async def test_capacity_is_zero_until_bound_then_the_window():
    sim = await simulator()
    p = connector("c1", sim, RecordingSink(), window=7)
    try:
        assert p.capacity() == 0 and p.status()["state"] == "stopped"
        await bound(p)
        assert p.capacity() == 7
        status = p.status()
        assert status["state"] == "bound" and status["links"][0]["smsc"] == "smsc-sim"
        assert status["window"] == {"size": 7, "in_use": 0}
    finally:
        await stop(p, sim)
    assert p.capacity() == 0


@pytest_twisted.ensureDeferred
async def test_submit_gives_upstream_id_and_its_receipt_comes_back():
    sim = await simulator()
    sink = RecordingSink()
    p = connector("c1", sim, sink)
    try:
        await bound(p)
        result = await p.send(message(1))
        assert result.outcome is Outcome.SENT and len(result.upstream_ids) == 1
        await sink.when(lambda s: len(s.reports) == 1)
        assert sink.reports == [("c1", result.upstream_ids[0], State.DELIVERED, 0)]
        assert sim.smsc.by_destination == {"79000000001": 1}
        assert p.status()["rate_10s"] == pytest.approx(0.1)
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_outcomes_undeliverable_expired_and_no_receipt():
    sim = await simulator(outcomes="7111 undeliverable 13; 7222 expire; 7333 nodlr")
    sink = RecordingSink()
    p = connector("c1", sim, sink)
    try:
        await bound(p)
        r1 = await p.send(message(1, "71110000000"))
        r2 = await p.send(message(2, "72220000000"))
        r3 = await p.send(message(3, "73330000000"))
        await sink.when(lambda s: len(s.reports) == 2)
        assert sorted(sink.reports) == sorted([
            ("c1", r1.upstream_ids[0], State.UNDELIVERABLE, 13),
            ("c1", r2.upstream_ids[0], State.EXPIRED, 0)])
        assert r3.outcome is Outcome.SENT
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_permanent_reject_is_a_permanent_result_with_the_status():
    sim = await simulator(outcomes="7000 reject 0x0B")
    p = connector("c1", sim, RecordingSink())
    try:
        await bound(p)
        result = await p.send(message(1, "70001234567"))
        assert result.outcome is Outcome.PERMANENT
        assert result.error_code == CommandStatus.ESME_RINVDSTADR
        assert p.status()["counters"]["permanent"] == 1
    finally:
        await stop(p, sim)


@pytest.mark.parametrize("split, text, parts", [
    ("udh", LONG_LATIN, 3), ("udh16", LONG_LATIN, 3), ("sar", LONG_CYRILLIC, 3),
    ("udh", LONG_CYRILLIC, 3), ("payload", LONG_CYRILLIC, 1),
])
@pytest_twisted.ensureDeferred
async def test_long_messages_are_split_and_rejoined_at_the_smsc(split, text, parts):
    sim = await simulator()
    sink = RecordingSink()
    p = connector("c1", sim, sink, split=split)
    try:
        await bound(p)
        result = await p.send(message(1, text=text))
        assert result.outcome is Outcome.SENT and len(result.upstream_ids) == parts
        [received] = sim.smsc.received
        assert received.text == text and received.message_ids == list(result.upstream_ids)
        await sink.when(lambda s: len(s.reports) == parts)
        assert {r[1] for r in sink.reports} == set(result.upstream_ids)
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_throttling_by_the_smsc_slows_down_and_loses_nothing():
    sim = await simulator(throughput=20)
    p = connector("c1", sim, RecordingSink(), window=20, throttle_pause="0.05", throttle_pause_max="0.2")
    try:
        await bound(p)
        messages = [message(n) for n in range(40)]
        results = await send_all(p, messages)
        assert {r.outcome for r in results.values()} == {Outcome.SENT} and len(results) == 40
        assert sim.smsc.counters["throttled"] > 0 and p.status()["counters"]["throttled"] > 0
        assert set(sim.smsc.by_destination) == {m.destination for m in messages}
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_own_throughput_cap_keeps_the_smsc_from_throttling():
    sim = await simulator(throughput=50)
    p = connector("c1", sim, RecordingSink(), window=50, throughput=40)
    try:
        await bound(p)
        results = await send_all(p, [message(n) for n in range(60)])
        assert len(results) == 60 and sim.smsc.counters["throttled"] == 0
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_disconnects_mid_window_reconnect_and_lose_nothing():
    sim = await simulator(disconnect_probability="0.04", seed=7)
    window = 8
    p = connector("c1", sim, RecordingSink(), window=window)
    try:
        await bound(p)
        messages = [message(n) for n in range(120)]
        results = await send_all(p, messages, timeout=20)
        assert len(results) == 120 and {r.outcome for r in results.values()} == {Outcome.SENT}
        counts = sim.smsc.by_destination
        disconnects = sim.smsc.counters["disconnects"]
        assert disconnects > 0 and all(counts[m.destination] >= 1 for m in messages)
        duplicates = sum(counts.values()) - len(messages)
        assert duplicates <= disconnects * window
        assert p.status()["state"] == "bound"
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_mo_from_the_smsc_reaches_the_sink_reassembled():
    sim = await simulator()
    sink = RecordingSink()
    p = connector("c1", sim, sink)
    try:
        await bound(p)
        parts = await sim.smsc.inject_mo("79001112233", "1234", LONG_CYRILLIC)
        assert parts == 3
        await sink.when(lambda s: len(s.mo) == 1)
        [mo] = sink.mo
        assert (mo["source"], mo["destination"], mo["text"]) == ("79001112233", "1234", LONG_CYRILLIC)
        assert mo["extra"] == {"parts": 3}
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_sink_failure_answers_rx_t_appn_and_the_smsc_sends_again():
    sim = await simulator()
    sink = RecordingSink(fail_reports=1)
    p = connector("c1", sim, sink)
    try:
        await bound(p)
        result = await p.send(message(1))
        await sink.when(lambda s: len(s.reports) == 1)
        assert sink.calls == [result.upstream_ids[0]] * 2
        await eventually(lambda: sim.smsc.counters["receipts_sent"] == 1)
        assert sim.smsc.counters["receipts_retried"] == 1
    finally:
        await stop(p, sim)


@pytest.mark.parametrize("receipt_pdu", ["deliver_sm", "data_sm"])
@pytest_twisted.ensureDeferred
async def test_hex_id_in_resp_and_decimal_in_receipt_text_are_matched(receipt_pdu):
    sim = await simulator(message_id="hex", receipt_text_id="decimal", receipt_tlvs="no",
                          receipt_pdu=receipt_pdu, id_start=0xABC0)
    sink = RecordingSink(known=set())
    p = connector("c1", sim, sink)
    try:
        await bound(p)
        for n in range(2):
            result = await p.send(message(n))
            sink.known.update(result.upstream_ids)
        await sink.when(lambda s: len(s.reports) == 2)
        assert [r[1] for r in sink.reports] == ["abc0", "abc1"]
        # the first receipt tried the decimal id first; the second matched at once
        assert sink.calls == [str(0xABC0), "abc0", "abc1"]
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_transmitter_and_receiver_pair():
    sim = await simulator()
    sink = RecordingSink()
    p = connector("c1", sim, sink, bind="transmitter+receiver")
    try:
        await bound(p)
        assert [link["mode"] for link in p.status()["links"]] == ["transmitter", "receiver"]
        result = await p.send(message(1))
        await sink.when(lambda s: len(s.reports) == 1)
        assert sink.reports[0][1] == result.upstream_ids[0]
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_reported_and_retried_with_backoff():
    sim = await simulator(system_id="c1", password="right")
    p = connector("c1", sim, RecordingSink(), password="wrong")
    try:
        p.startService()
        link = p.links[0]
        await eventually(lambda: link.failures >= 2)
        status = p.status()
        assert status["state"] != "bound" and "ESME_RINVPASWD" in status["last_error"]
        assert p.capacity() == 0
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_restart_rebinds_one_connector_and_leaves_the_other_alone():
    sim = await simulator()
    a = connector("a", sim, RecordingSink())
    b = connector("b", sim, RecordingSink())
    try:
        await bound(a)
        await bound(b)
        a_session, b_session = a.transmitter.session, b.transmitter.session
        await a.restart()
        await bound(a)
        assert a.transmitter.session is not a_session and b.transmitter.session is b_session
        assert (await a.send(message(1))).outcome is Outcome.SENT
        await a.stopService()
        assert a.capacity() == 0 and b.capacity() > 0
        assert (await b.send(message(2))).outcome is Outcome.SENT
    finally:
        await stop(a, b, sim)


@pytest_twisted.ensureDeferred
async def test_smsc_going_away_makes_sends_temporary_and_it_reconnects():
    sim = await simulator()
    port = sim.port
    p = connector("c1", sim, RecordingSink())
    try:
        await bound(p)
        await sim.stopService()
        result = await p.send(message(1))
        assert result.outcome is Outcome.TEMPORARY
        sim = await simulator(listen=f"tcp:{port}:interface=127.0.0.1")
        await bound(p)
        assert (await p.send(message(2))).outcome is Outcome.SENT
    finally:
        await stop(p, sim)
