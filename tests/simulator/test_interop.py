"""The simulator against an independent SMPP client (smpplib, run in a thread) and over HTTP."""

from __future__ import annotations

import json
import sys

import pytest_twisted
import treq
from twisted.internet import reactor, threads, utils

from gateway.smpp.receipt import parse_receipt
from tests.providers.support import RecordingSink, bound, connector, eventually, message, simulator, stop


def smpplib_round_trip(port: int) -> dict:
    """Bind as transceiver, send one message with a receipt asked for, read the receipt (blocking)."""
    import smpplib.client
    import smpplib.consts

    seen = {}
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)

    def received(pdu):
        seen["receipt"] = pdu  # returning None answers ESME_ROK

    client.set_message_sent_handler(lambda pdu: seen.setdefault("message_id", pdu.message_id))
    client.set_message_received_handler(received)
    client.connect()
    try:
        client.bind_transceiver(system_id="smpplib", password="secret")
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM, source_addr="Shop",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL, destination_addr="79001234567",
            short_message=b"hello from smpplib", registered_delivery=1)
        while "receipt" not in seen:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    receipt = seen["receipt"]
    return {"message_id": seen["message_id"], "text": receipt.short_message,
            "receipted_message_id": receipt.receipted_message_id, "state": receipt.message_state}


@pytest_twisted.ensureDeferred
async def test_smpplib_binds_submits_and_gets_a_standard_receipt():
    sim = await simulator(system_id="smpplib", password="secret")
    try:
        got = await threads.deferToThread(smpplib_round_trip, sim.port)
        message_id = got["message_id"].decode() if isinstance(got["message_id"], bytes) else got["message_id"]
        receipt = parse_receipt(got["text"])
        assert receipt.id == message_id and receipt.stat == "DELIVRD" and receipt.text == "hello from smpplib"
        receipted = got["receipted_message_id"]
        assert (receipted.decode() if isinstance(receipted, bytes) else receipted) == message_id
        assert got["state"] == 2
        assert sim.smsc.by_destination == {"79001234567": 1}
    finally:
        await stop(sim)


@pytest_twisted.ensureDeferred
async def test_stats_and_mo_over_http():
    sim = await simulator(http_listen="tcp:0:interface=127.0.0.1")
    base = f"http://127.0.0.1:{sim.http_port}"
    sink = RecordingSink()
    p = connector("c1", sim, sink)
    try:
        nobody = await treq.post(f"{base}/mo", json={"from": "79001112233", "to": "1234", "text": "hi"})
        assert nobody.code == 503
        await bound(p)
        response = await treq.post(f"{base}/mo", data={"from": "79001112233", "to": "1234", "text": "привет"})
        assert response.code == 200 and json.loads(await response.content()) == {"parts": 1}
        assert sink.mo[0]["text"] == "привет"
        bad = await treq.post(f"{base}/mo", json={"from": "1"})
        assert bad.code == 400
        await p.send(message(1))
        stats = json.loads(await (await treq.get(f"{base}/stats")).content())
        assert stats["accepted"] == 1 and stats["mo_sent"] == 1 and stats["by_destination"] == {"79000000001": 1}
        short = json.loads(await (await treq.get(f"{base}/stats?destinations=no")).content())
        assert "by_destination" not in short
        await treq.post(f"{base}/reset")
        assert sim.smsc.stats()["accepted"] == 0
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_mo_command_line_tool():
    sim = await simulator(http_listen="tcp:0:interface=127.0.0.1")
    sink = RecordingSink()
    p = connector("c1", sim, sink)
    try:
        await bound(p)
        out, err, code = await utils.getProcessOutputAndValue(
            sys.executable, ["-m", "gateway.simulator.mo", "--url", f"http://127.0.0.1:{sim.http_port}",
                             "--from", "79001112233", "--to", "1234", "--text", "from a shell"],
            env=None, path=".", reactor=reactor)
        assert code == 0, err
        await eventually(lambda: len(sink.mo) == 1)
        assert sink.mo[0]["text"] == "from a shell"
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_in_process_simulator_gives_the_gateway_its_demo_upstream():
    from gateway.simulator.service import SimulatorService

    sim = SimulatorService({"dlr_delay": "0"})  # listens on a port chosen at start
    sink = RecordingSink()
    p = sim.provider(sink)
    try:
        p.startService()  # before the simulator listens: the connector waits for it
        sim.startService()
        await bound(p)
        result = await p.send(message(1))
        await sink.when(lambda s: len(s.reports) == 1)
        assert p.name == "simulator" and sink.reports[0][1] == result.upstream_ids[0]
    finally:
        await stop(p, sim)
