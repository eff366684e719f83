"""The SMPP server over loopback sockets and a real Redis, driven by the independent smpplib client."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import ssl
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_twisted
import smpplib.consts as C
import smpplib.gsm
from twisted.internet import reactor, utils

from gateway.model import State
from gateway.routing import Route
from gateway.smpp.constants import CommandId, CommandStatus as S
from gateway.smpp.pdu import PDU
from gateway.store import keys
from tests.smpp.live_support import Esme, eventually, live_account, start_live


@pytest_twisted.async_yield_fixture
async def live(redis, redis_server):
    accounts = [
        live_account(),
        live_account("rules", blacklist=frozenset({"79990000000"}), forbidden_words=("casino",),
                     tariff={"79": Decimal("1")}, dedup_window=60),
        live_account("poor", tariff={"7": Decimal("2")}, balance=Decimal("1")),
        live_account("slow", throughput=2),
        live_account("mcon"),
    ]
    routes = [Route("ru", prefix="7", providers=("null",))]
    g = await start_live(redis, redis_server.url, accounts=accounts, routes=routes)
    esmes = []
    g.esme = lambda *a, **k: esmes.append(Esme(g.port, *a, **k)) or esmes[-1]
    yield g
    for e in esmes:
        await e.run("close")
    await g.stop()


async def bound(live, mode="transceiver", **params):
    esme = live.esme()
    await esme.run("bind", mode, **params)
    return esme


@pytest_twisted.ensureDeferred
async def test_bind_modes_and_wrong_password(live):
    for mode in ("transmitter", "receiver", "transceiver"):
        resp = await live.esme().run("bind", mode)
        assert resp.status == 0 and resp.system_id == b"smsgw"
    with pytest.raises(Exception) as caught:
        await live.esme().run("bind", password="nope")
    assert caught.value.args[1] == S.ESME_RINVPASWD
    with pytest.raises(Exception) as caught:
        await live.esme().run("bind", system_id="ghost")
    assert caught.value.args[1] == S.ESME_RINVSYSID


@pytest_twisted.ensureDeferred
async def test_submit_is_stored_with_comment_priority_and_schedule(live):
    esme = await bound(live, "transmitter")
    resp = await esme.run("submit", b"Hi there\n\x1b=\x1b=\x1b=\nfor the log", priority_flag=1,
                          schedule_delivery_time="000000010000000R")
    assert resp.status == 0
    message = await live.messages.get(resp.message_id.decode())
    assert (message.text, message.comment, message.priority) == ("Hi there", "for the log", 1)
    assert message.schedule > message.created + 3_500_000
    assert await live.redis.zscore(keys.delayed("null"), message.id) is not None


@pytest.mark.parametrize("system_id, params, status", [
    ("acme", {"data_coding": 2}, S.VENDOR_BAD_ENCODING),
    ("acme", {"text": b"x" * 161}, S.VENDOR_MESSAGE_TOO_LONG),
    ("acme", {"destination": "15550001111"}, S.VENDOR_NO_ROUTING_POLICY),
    ("rules", {"destination": "79990000000"}, S.VENDOR_BLACKLISTED),
    ("rules", {"text": b"Big casino win"}, S.VENDOR_FORBIDDEN_WORDS),
    ("rules", {"destination": "71110000000"}, S.VENDOR_NO_TARIFF),
])
@pytest_twisted.ensureDeferred
async def test_accept_rules(live, system_id, params, status):
    esme = await bound(live, "transmitter", system_id=system_id)
    assert (await esme.run("submit", **params)).status == status


@pytest_twisted.ensureDeferred
async def test_duplicate_within_the_window_is_refused(live):
    esme = await bound(live, "transmitter", system_id="rules")
    assert (await esme.run("submit", b"same")).status == 0
    assert (await esme.run("submit", b"same")).status == S.VENDOR_DUPLICATE
    assert (await esme.run("submit", b"other")).status == 0


@pytest_twisted.ensureDeferred
async def test_insufficient_funds(live):
    esme = await bound(live, "transmitter", system_id="poor")
    assert (await esme.run("submit")).status == S.VENDOR_INSUFFICIENT_FUNDS


@pytest_twisted.ensureDeferred
async def test_throughput_limit_throttles(live):
    esme = await bound(live, "transmitter", system_id="slow")
    statuses = [(await esme.run("submit", f"m{i}".encode())).status for i in range(5)]
    assert S.ESME_RTHROTTLED in statuses and statuses.count(0) >= 2


@pytest.mark.parametrize("udh", [True, False])
@pytest_twisted.ensureDeferred
async def test_long_cyrillic_message_by_udh_or_sar_is_one_message(live, udh):
    text = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 3
    parts, encoding, esm_class = smpplib.gsm.make_parts(text, use_udhi=udh)
    assert len(parts) == 3 and encoding == C.SMPP_ENCODING_ISO10646
    esme = await bound(live, "transmitter")
    ids = []
    for n, part in enumerate(parts, 1):
        sar = {} if udh else {"sar_msg_ref_num": 77, "sar_total_segments": 3, "sar_segment_seqnum": n}
        resp = await esme.run("submit", part, data_coding=encoding, esm_class=esm_class, **sar)
        assert resp.status == 0
        ids.append(resp.message_id)
    assert len(set(ids)) == 1
    message = await live.messages.get(ids[0].decode())
    assert message.text == text and message.parts == 3


@pytest_twisted.ensureDeferred
async def test_long_message_by_message_payload(live):
    text = "Привет из полезной нагрузки! " * 4  # 116 characters: two UCS2 parts
    esme = await bound(live, "transmitter")
    resp = await esme.run("submit", b"", data_coding=8, message_payload=text.encode("utf-16-be"))
    assert resp.status == 0
    message = await live.messages.get(resp.message_id.decode())
    assert message.text == text and message.parts == 2


@pytest_twisted.ensureDeferred
async def test_dlr_round_trip_and_query_sm(live):
    esme = await bound(live)
    resp = await esme.run("submit", "Привет".encode("utf-16-be"), data_coding=8, registered_delivery=1)
    msg_id = resp.message_id
    [deliver] = await esme.run("wait_deliver", 1)
    assert deliver.esm_class == 0x04 and deliver.receipted_message_id == msg_id
    assert deliver.message_state == State.DELIVERED
    text = deliver.short_message.decode()
    assert text.startswith(f"id:{msg_id.decode()} sub:001 dlvrd:001 submit date:")
    assert " stat:DELIVRD err:000 text:" in text
    query = await esme.run("request", "query_sm", message_id=msg_id.decode(), source_addr="Shop")
    assert query.status == 0 and query.message_state == State.DELIVERED
    await eventually(lambda: live.outbox.pending("acme").addCallback(lambda n: int(n) == 0))


@pytest_twisted.ensureDeferred
async def test_mo_reaches_a_receiver_bind(live):
    esme = await bound(live, "receiver")
    await live.tracker.deliver_mo("null", "79001234567", "1234", text="Ответ: да", account="acme")
    [deliver] = await esme.run("wait_deliver", 1)
    assert deliver.esm_class == 0 and deliver.data_coding == 8
    assert deliver.short_message.decode("utf-16-be") == "Ответ: да"
    assert (deliver.source_addr, deliver.destination_addr) == (b"79001234567", b"1234")


@pytest_twisted.ensureDeferred
async def test_failed_binds_from_one_address_are_throttled(redis, redis_server):
    g = await start_live(redis, redis_server.url, settings={"failed_bind_limit": 2, "failed_bind_delay": 60})
    esmes = [Esme(g.port) for _ in range(3)]
    try:
        for esme in esmes[:2]:
            with pytest.raises(Exception) as caught:
                await esme.run("bind", password="guess")
            assert caught.value.args[1] == S.ESME_RINVPASWD
        with pytest.raises(Exception) as caught:
            await esmes[2].run("bind")  # the right password, but the address is blocked for now
        assert caught.value.args[1] == S.ESME_RBINDFAIL
    finally:
        for esme in esmes:
            esme.client.disconnect()
        await g.stop()


@pytest_twisted.ensureDeferred
async def test_failed_binds_spread_over_two_nodes_block_the_address_on_both(redis, redis_server):
    settings = {"failed_bind_limit": 2, "failed_bind_delay": 60}
    nodes = [await start_live(redis, redis_server.url, settings=settings) for _ in range(2)]
    esmes = [Esme(g.port) for g in nodes + nodes]
    try:
        for esme in esmes[:2]:  # one wrong password on each node
            with pytest.raises(Exception) as caught:
                await esme.run("bind", password="guess")
            assert caught.value.args[1] == S.ESME_RINVPASWD
        for esme in esmes[2:]:  # the right password, refused by both
            with pytest.raises(Exception) as caught:
                await esme.run("bind")
            assert caught.value.args[1] == S.ESME_RBINDFAIL
    finally:
        for esme in esmes:
            esme.client.disconnect()
        for g in nodes:
            await g.stop()


@pytest_twisted.ensureDeferred
async def test_validity_and_registered_delivery_are_kept(live):
    esme = await bound(live, "transmitter")
    resp = await esme.run("submit", b"soon", validity_period="000000000500000R", registered_delivery=1,
                          schedule_delivery_time="000000000100000R")
    message = await live.messages.get(resp.message_id.decode())
    assert message.validity - message.created == pytest.approx(300_000, abs=1000)
    assert message.registered_delivery == 1


@pytest_twisted.ensureDeferred
async def test_long_message_gets_one_dlr(live):
    parts, encoding, esm_class = smpplib.gsm.make_parts("Ж" * 150)
    esme = await bound(live)
    for part in parts:
        resp = await esme.run("submit", part, data_coding=encoding, esm_class=esm_class, registered_delivery=1)
    [deliver] = await esme.run("wait_deliver", 1)
    assert deliver.receipted_message_id == resp.message_id
    # a second DLR would be waiting in the outbox, or taken and never acknowledged
    await eventually(lambda: live.outbox.pending("acme").addCallback(lambda n: int(n) == 0))


@pytest_twisted.ensureDeferred
async def test_cancel_and_replace_a_scheduled_message(live):
    esme = await bound(live, "transmitter")
    later = "000001000000000R"
    first = (await esme.run("submit", b"first", schedule_delivery_time=later)).message_id
    second = (await esme.run("submit", b"second", schedule_delivery_time=later)).message_id
    cancel = PDU(CommandId.cancel_sm, params={"message_id": first.decode(), "source_addr": "Shop",
                                              "destination_addr": "79001234567"})
    assert (await esme.run("raw_request", cancel)).command_status == 0
    assert (await live.messages.get(first.decode())).state == State.DELETED
    again = await esme.run("raw_request", cancel)
    assert again.command_status == S.ESME_RCANCELFAIL
    replace = PDU(CommandId.replace_sm, params={"message_id": second.decode(), "source_addr": "Shop",
                                                "short_message": b"replaced", "registered_delivery": 1})
    assert (await esme.run("raw_request", replace)).command_status == 0
    assert (await live.messages.get(second.decode())).text == "replaced"


def cancel_sm(message_id="", source="Shop", destination="79001234567", service_type=""):
    return PDU(CommandId.cancel_sm, params={"service_type": service_type, "message_id": message_id,
                                            "source_addr": source, "destination_addr": destination})


@pytest_twisted.ensureDeferred
async def test_cancel_sm_without_message_id_cancels_waiting_messages_from_source_to_destination(live):
    later = "000001000000000R"
    esme = await bound(live, "transmitter", system_type="MCON2")

    async def submit(destination="79001234567", **params):
        resp = await esme.run("submit", destination=destination, **params)
        assert resp.status == 0
        return resp.message_id.decode()

    plain = await submit(schedule_delivery_time=later, registered_delivery=1)
    wap = await submit(schedule_delivery_time=later, registered_delivery=1, service_type="WAP")
    elsewhere = await submit("79005555555", schedule_delivery_time=later, registered_delivery=1)
    sent = await submit()
    await eventually(lambda: live.messages.get(sent).addCallback(lambda m: m.state == State.DELIVERED))
    other = live.esme()
    await other.run("bind", "transmitter", system_id="mcon")
    not_ours = (await other.run("submit", schedule_delivery_time=later)).message_id.decode()

    async def cancel(**params):
        return (await esme.run("raw_request", cancel_sm(**params))).command_status

    async def state(msg_id):
        return (await live.messages.get(msg_id)).state

    assert await cancel(service_type="WAP") == S.ESME_ROK
    assert [await state(m) for m in (plain, wap)] == [State.ACCEPTED, State.DELETED]
    assert await cancel() == S.ESME_ROK
    assert await cancel() == S.ESME_RCANCELFAIL  # nothing left to cancel
    assert await cancel(destination="79990000001") == S.ESME_RCANCELFAIL
    assert [await state(m) for m in (plain, wap, elsewhere, sent, not_ours)] == [
        State.DELETED, State.DELETED, State.ACCEPTED, State.DELIVERED, State.ACCEPTED]

    # by id, source_addr and destination_addr, when given, must be the message's
    assert await cancel(message_id=elsewhere, source="Nobody", destination="") == S.ESME_RCANCELFAIL
    assert await cancel(message_id=elsewhere, destination="79001111111") == S.ESME_RCANCELFAIL
    assert await state(elsewhere) == State.ACCEPTED
    assert await cancel(message_id=elsewhere, source="", destination="") == S.ESME_ROK  # the id alone
    assert await state(elsewhere) == State.DELETED

    receiver = await bound(live, "receiver", system_type="MCON2")
    dlrs = await receiver.run("wait_deliver", 3)
    assert sorted(d.receipted_message_id.decode() for d in dlrs) == sorted([plain, wap, elsewhere])
    assert {d.message_state for d in dlrs} == {State.DELETED}
    assert all(b"stat:DELETED" in d.short_message for d in dlrs)


@pytest_twisted.ensureDeferred
async def test_a_new_bind_replaces_the_old_connection(live):
    old = await bound(live)
    waiting = old.run("wait_unbind")
    await bound(live)
    assert await waiting
    await eventually(lambda: len(live.factory.registry.sessions("acme")) == 1)


@pytest_twisted.ensureDeferred
async def test_mcon2_keeps_two_connections(live):
    a = await bound(live, system_id="mcon", system_type="MCON2")
    b = await bound(live, system_id="mcon", system_type="MCON2")
    assert len(live.factory.registry.sessions("mcon")) == 2
    for esme in (a, b):
        assert (await esme.run("submit")).status == 0
    records = await live.redis.hgetall(keys.binds("mcon"))
    assert len(records) == 2


@pytest_twisted.ensureDeferred
async def test_store_outage_is_never_answered_ok(live, redis_server):
    esme = await bound(live, "transmitter")
    redis_server.stop()
    try:
        await eventually(lambda: not live.redis._factory.size, bound=10)
        resp = await esme.run("submit", b"during the outage")
        assert resp.status in (S.ESME_RMSGQFUL, S.ESME_RSYSERR)
    finally:
        redis_server.start()
    await eventually(lambda: live.redis._factory.size > 0, bound=20)


def self_signed(directory):
    """A key and a self-signed certificate for 127.0.0.1 in ``directory``; their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest_twisted.ensureDeferred
async def test_tls_and_plain_listeners_at_once(redis, redis_server, datadir):
    key, cert = self_signed(datadir)
    g = await start_live(redis, redis_server.url, listen=[
        "tcp:0:interface=127.0.0.1", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    secure, plain = Esme(g.tls_port(), ssl_context=context), Esme(g.port)
    try:
        for esme in (secure, plain):
            assert (await esme.run("bind", "transmitter", system_type="MCON2")).status == 0
        assert (await secure.run("submit", b"over TLS")).status == 0
        assert (await plain.run("submit", b"in clear")).status == 0
    finally:
        for esme in (secure, plain):
            await esme.run("close")
        await g.stop()


@pytest_twisted.ensureDeferred
async def test_stopping_the_server_unbinds_clients(redis, redis_server):
    g = await start_live(redis, redis_server.url)
    esme = Esme(g.port)
    await esme.run("bind")
    waiting = esme.run("wait_unbind")
    await g.server.stopService()
    assert await waiting
    assert g.factory.sessions == set()
    await g.stop()
    esme.client.disconnect()


NPM_CACHE = Path(tempfile.gettempdir()) / "smsgw-npm-smpp"


@pytest.fixture(scope="session")
def node_smpp():
    """The npm ``smpp`` package installed in a cache directory (once per machine)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm/node not installed: the npm smpp client test needs them")
    if not (NPM_CACHE / "node_modules" / "smpp").is_dir():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--prefix", str(NPM_CACHE), "--no-audit", "--no-fund", "smpp@0.5"],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"npm install smpp failed: {done.stderr[-2000:]}")
    return NPM_CACHE


@pytest_twisted.ensureDeferred
async def test_npm_smpp_client_binds_submits_and_gets_its_dlr(live, node_smpp):
    script = Path(__file__).with_name("js") / "dlr_round_trip.js"
    env = {**os.environ, "NODE_PATH": str(node_smpp / "node_modules")}
    out, err, code = await utils.getProcessOutputAndValue(
        shutil.which("node"), [str(script), str(live.port), "acme", "secret"], env=env, reactor=reactor)
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert code == 0, (result, err.decode()[-2000:])
    assert result["bind_status"] == 0 and result["submit_status"] == 0
    assert result["receipted_message_id"] == result["message_id"] and result["message_state"] == State.DELIVERED
    assert result["text"].startswith(f"id:{result['message_id']} sub:001 dlvrd:001 ")


@pytest_twisted.ensureDeferred
async def test_a_bind_on_another_node_replaces_the_old_one(redis, redis_server):
    nodes = [await start_live(redis, redis_server.url) for _ in range(2)]
    old, new = Esme(nodes[0].port), Esme(nodes[1].port)
    try:
        await old.run("bind")
        waiting = old.run("wait_unbind")
        await new.run("bind")
        assert await waiting
        await eventually(lambda: nodes[0].factory.registry.sessions("acme") == [])
        assert len(await redis.hgetall(keys.binds("acme"))) == 1
        assert (await new.run("submit")).status == 0
    finally:
        for esme in (old, new):
            await esme.run("close")
        for node in nodes:
            await node.stop()
