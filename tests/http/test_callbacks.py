"""DLR and MO callbacks to account URLs: signed, retried with backoff, at least once, accounts isolated."""

from __future__ import annotations

import json

import pytest_twisted
from twisted.internet import reactor
from twisted.web import server

from gateway.http.callbacks import CallbackWorker
from gateway.http.signing import CallbackSigner, signature
from gateway.model import IdGenerator, State, Submit
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.outbox import Outbox
from gateway.store.tracker import Tracker
from tests.http.support import Recorder, eventually, listen


async def delivered_dlr(redis, account, upstream="u-1", text="hello"):
    """A message of ``account`` that asked for a DLR and got DELIVERED: its report is in the outbox."""
    acceptor = Acceptor(redis, Router([Route("all", providers=("null",))]), IdGenerator(70), reactor)
    stored = await acceptor.accept(account, Submit(destination="79001234567", text=text, registered_delivery=1,
                                                   client_ref="order-1"))
    await redis.hset(f"smsgw:msg:{stored.id}", "u", upstream)
    await redis.set(f"smsgw:up:null:{upstream}", stored.id)
    tracker = Tracker(redis, IdGenerator(71), reactor, unmatched_retries=0)
    await tracker.report("null", upstream, State.DELIVERED, 0)
    return stored, tracker


def worker(redis, **kw) -> CallbackWorker:
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("backoff_base", 0.05)
    kw.setdefault("backoff_cap", 0.2)
    kw.setdefault("timeout", 5.0)
    return CallbackWorker(redis, AccountStore(redis, reactor), Outbox(redis, reactor, lease=30), reactor, **kw)


@pytest_twisted.ensureDeferred
async def test_dlr_is_retried_until_the_endpoint_succeeds_and_is_signed(redis):
    answers = iter([500, 502])
    endpoint = Recorder(lambda r: (next(answers, 200), b"ok"))
    port, url = listen(endpoint)
    accounts = AccountStore(redis, reactor)
    account = await accounts.put(__import__("gateway.model", fromlist=["Account"]).Account(
        name="acme", throughput=0, dedup_window=0, dlr_url=url + "/dlr?src=smsgw"))
    stored, _ = await delivered_dlr(redis, account)
    w = worker(redis)
    w.startService()
    try:
        requests = await endpoint.wait_for(3)
        await eventually(lambda: Outbox(redis, reactor).pending("acme").addCallback(lambda n: int(n) == 0))
    finally:
        w.stopService()
        await port.stopListening()
    bodies = [json.loads(r["body"]) for r in requests]
    assert all(b == bodies[0] for b in bodies)
    body = bodies[0]
    assert (body["type"], body["id"], body["state"], body["stat"], body["reference"]) == (
        "dlr", stored.id, "DELIVERED", "DELIVRD", "order-1")
    last = requests[-1]
    secret = await CallbackSigner(redis, reactor).secret("acme")
    stamp = int(last["headers"]["x-smsgw-timestamp"])
    assert last["headers"]["x-smsgw-signature"] == signature(secret, stamp, last["body"])
    assert last["args"]["src"] == ["smsgw"]
    assert w.delivered == 1 and w.failed == 2


@pytest_twisted.ensureDeferred
async def test_mo_by_get_with_query_parameters(redis):
    from gateway.model import Account

    endpoint = Recorder()
    port, url = listen(endpoint)
    await AccountStore(redis, reactor).put(Account(name="acme", mo_url=url + "/mo", callback_method="get"))
    tracker = Tracker(redis, IdGenerator(72), reactor)
    mo = await tracker.deliver_mo("null", "79001234567", "1234", "STOP", account="acme")
    w = worker(redis)
    w.startService()
    try:
        (seen,) = await endpoint.wait_for(1)
    finally:
        w.stopService()
        await port.stopListening()
    args = {k: v[0] for k, v in seen["args"].items()}
    assert seen["method"] == "GET" and args["type"] == "mo" and args["id"] == mo.id and args["text"] == "STOP"
    secret = await CallbackSigner(redis, reactor).secret("acme")
    query = seen["uri"].split("?", 1)[1].encode()
    assert seen["headers"]["x-smsgw-signature"] == signature(secret, int(seen["headers"]["x-smsgw-timestamp"]), query)


@pytest_twisted.ensureDeferred
async def test_a_hanging_endpoint_does_not_delay_other_accounts(redis):
    from gateway.model import Account

    hanging = Recorder()
    held = []
    hanging.render = _never_answer(hanging, held)
    fast = Recorder()
    port1, slow_url = listen(hanging)
    port2, fast_url = listen(fast)
    accounts = AccountStore(redis, reactor)
    slow = await accounts.put(Account(name="slow", throughput=0, dedup_window=0, dlr_url=slow_url))
    quick = await accounts.put(Account(name="quick", throughput=0, dedup_window=0, dlr_url=fast_url))
    for n in range(3):
        await delivered_dlr(redis, slow, upstream=f"s-{n}", text=f"s{n}")
    await delivered_dlr(redis, quick, upstream="q-1")
    w = worker(redis, per_account=1)
    w.startService()
    try:
        await hanging.wait_for(1, timeout=5)
        await fast.wait_for(1, timeout=5)  # while the slow account's request hangs
        assert len(hanging.requests) == 1  # one in flight for the slow account, the rest wait their turn
    finally:
        w.stopService()
        for request in held:
            request.setResponseCode(500)
            request.finish()
        await port1.stopListening()
        await port2.stopListening()


@pytest_twisted.ensureDeferred
async def test_accounts_bound_over_smpp_are_left_to_the_bind(redis):
    from gateway.model import Account

    endpoint = Recorder()
    port, url = listen(endpoint)
    account = await AccountStore(redis, reactor).put(Account(name="acme", throughput=0, dedup_window=0,
                                                             dlr_url=url))
    await delivered_dlr(redis, account)
    w = worker(redis, has_bind=lambda name: name == "acme")
    w.startService()
    try:
        await w.poll()
        await w.poll()
        assert endpoint.requests == [] and int(await Outbox(redis, reactor).pending("acme")) == 1
    finally:
        w.stopService()
        await port.stopListening()


def _never_answer(recorder, held):
    original = Recorder.render

    def render(request):
        original(recorder, request)
        held.append(request)
        return server.NOT_DONE_YET

    return render


@pytest_twisted.ensureDeferred
async def test_a_live_receiver_bind_on_any_node_takes_the_reports(redis):
    from gateway.http.callbacks import receiver_bound
    from gateway.store import keys

    now = int(reactor.seconds() * 1000)
    await redis.hset(keys.binds("acme"), "n1/1", json.dumps({"mode": "transmitter", "expires": now + 60_000}))
    await redis.hset(keys.binds("acme"), "n2/1", json.dumps({"mode": "receiver", "expires": now - 1}))
    assert not await receiver_bound(redis, reactor, "acme")
    await redis.hset(keys.binds("acme"), "n3/1", json.dumps({"mode": "transceiver", "expires": now + 60_000}))
    assert await receiver_bound(redis, reactor, "acme")
