"""``/metrics``: counters from the hooks, gauges read from Redis at scrape time."""

from __future__ import annotations

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families

from gateway.model import SendResult, State, Submit


async def scrape(admin) -> dict:
    response = await treq.get(admin.url + "/metrics")
    assert response.code == 200
    assert response.headers.getRawHeaders("content-type")[0].startswith("text/plain")
    text = (await response.content()).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


@pytest_twisted.ensureDeferred
async def test_accepts_rejects_sends_receipts_and_latency_are_counted(admin):
    ctx, metrics = admin.ctx, admin.metrics
    acme = await ctx.accounts.get("acme")
    message = await ctx.acceptor.accept(acme, Submit(destination="7900", text="hi", channel="sms"))
    acme.forbidden_words = ("casino",)
    try:
        await ctx.acceptor.accept(acme, Submit(destination="7900", text="casino"))
    except Exception:
        pass
    metrics.observe_send("null", message, SendResult.sent("u1"))
    metrics.observe_send("null", message, SendResult.temporary(0x58))
    await ctx.queues.renew("o", 30000)
    await ctx.queues.take("o", "null", 10)
    await ctx.queues.settle("o", [(message.id, SendResult.sent("u1"), 0)])
    assert await admin.tracker.report("null", "u1", State.DELIVERED) == message.id
    assert await admin.tracker.report("null", "unknown", State.DELIVERED) is None
    await admin.tracker.deliver_mo("null", "7900", "1234", "STOP", account="acme")
    s = await scrape(admin)
    assert s[("smsgw_messages_accepted_total", (("account", "acme"), ("channel", "sms")))] == 1
    assert s[("smsgw_messages_rejected_total", (("account", "acme"), ("status", "0x0403")))] == 1
    assert s[("smsgw_messages_sent_total", (("channel", "sms"), ("connector", "null"), ("outcome", "sent")))] == 1
    assert s[("smsgw_messages_sent_total", (("channel", "sms"), ("connector", "null"),
                                            ("outcome", "temporary")))] == 1
    assert s[("smsgw_receipts_total", (("connector", "null"), ("state", "DELIVRD")))] == 1
    assert s[("smsgw_receipts_unmatched_total", (("connector", "null"),))] == 1
    assert s[("smsgw_mo_received_total", (("account", "acme"), ("connector", "null")))] == 1
    assert s[("smsgw_accept_to_delivered_seconds_count", (("connector", "null"),))] == 1
    assert s[("smsgw_accept_to_sent_seconds_count", (("connector", "null"),))] == 1
    assert metrics.snapshot() == {"accepted": 1, "rejected": 1, "sent": 1, "send_temporary": 1,
                                  "dlr_DELIVRD": 1, "receipts_unmatched": 1, "mo": 1}


@pytest_twisted.ensureDeferred
async def test_queue_depths_connectors_and_binds_are_read_at_scrape_time(admin, redis):
    import json
    from twisted.internet import reactor
    from gateway.store import keys
    acme = await admin.ctx.accounts.get("acme")
    for _ in range(3):
        await admin.ctx.acceptor.accept(acme, Submit(destination="7900", text="x"))
    now = int(reactor.seconds() * 1000)
    await redis.hset(keys.binds("acme"), "node-a/1", json.dumps(
        {"node": "node-a", "mode": "transmitter", "peer": "p", "since": now, "flags": "", "expires": now + 9000}))
    s = await scrape(admin)
    assert s[("smsgw_queue_messages", (("connector", "null"), ("queue", "ready")))] == 3
    assert s[("smsgw_dead_letters", ())] == 0
    assert s[("smsgw_connector_state", (("connector", "smsc"), ("state", "running")))] == 1
    assert s[("smsgw_smpp_binds", (("account", "acme"), ("mode", "transmitter"), ("node", "node-a")))] == 1


@pytest_twisted.ensureDeferred
async def test_a_failing_observer_does_not_keep_a_send_from_being_settled(admin):
    from twisted.internet import reactor
    from gateway.dispatch import Dispatcher
    from tests.dispatch.support import CountingProvider, eventually
    ctx = admin.ctx
    provider = CountingProvider("null")
    dispatcher = Dispatcher(ctx.queues, [provider], "node-a#1", reactor)
    dispatcher.observers.append(lambda *a: 1 / 0)
    dispatcher.observers.append(admin.metrics.observe_send)
    message = await ctx.acceptor.accept(await ctx.accounts.get("acme"), Submit(destination="7900", text="x"))
    dispatcher.startService()
    try:
        await provider.when_sent(1)

        async def enroute():
            return (await ctx.archive.get(message.id)).state is State.ENROUTE

        await eventually(enroute)
    finally:
        await dispatcher.stopService()
    assert admin.metrics.snapshot()["sent"] == 1


@pytest_twisted.ensureDeferred
async def test_a_batch_accepted_at_once_is_counted_message_by_message(admin):
    ctx = admin.ctx
    acme = await ctx.accounts.get("acme")
    acme.forbidden_words = ("casino",)
    results = await ctx.acceptor.accept_many(acme, [Submit(destination="7900", text="hi"),
                                                    Submit(destination="7901", text="casino"),
                                                    Submit(destination="7902", text="hello")])
    assert [type(r).__name__ for r in results] == ["Message", "AcceptError", "Message"]
    s = await scrape(admin)
    assert s[("smsgw_messages_accepted_total", (("account", "acme"), ("channel", "sms")))] == 2
    assert s[("smsgw_messages_rejected_total", (("account", "acme"), ("status", "0x0403")))] == 1
