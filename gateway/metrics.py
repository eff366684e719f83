"""
Prometheus metrics at ``/metrics`` (prometheus-client, in a registry of its
own, so nothing else in the process leaks into it).

Counting happens where the events are, through small wrappers and an
observer, without changing how the counted parts work:

- `MeteredAcceptor` wraps the `IAcceptor` the SMPP server and HTTP APIs share:
  accepted per account and channel, rejected per account and status;
- `Metrics.observe_send` is a `Dispatcher` observer: sends per connector,
  channel and outcome, and the accept→sent latency;
- `MeteredSink` wraps the `IReportSink` providers report to: receipts per
  connector and state, accept→delivered latency, MO per connector and account.

Queue depths, dead letters, connector states and SMPP binds are read when
``/metrics`` is scraped (`MetricsResource`), so they are never stale.
`Metrics.snapshot` gives the dashboard its running totals.
"""

from __future__ import annotations

import collections
import json

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web import resource, server
from zope.interface import implementer

from gateway.archive.records import ms_of_id
from gateway.interfaces import IAcceptor, IReportSink
from gateway.logs import Logger
from gateway.model import Message, Outcome, State
from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import StoreUnavailable, call

__all__ = ["Metrics", "MeteredAcceptor", "MeteredSink", "MetricsResource"]

_SEND_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_DELIVERY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 14400, 86400)


class Metrics:
    """The gateway's metrics and the running totals of the dashboard."""

    def __init__(self, node: str, clock):
        self.node = node
        self.clock = clock
        self.registry = r = CollectorRegistry()
        self.accepted = Counter("smsgw_messages_accepted", "Messages accepted from clients",
                                ["account", "channel"], registry=r)
        self.rejected = Counter("smsgw_messages_rejected", "Submits refused, by SMPP command_status",
                                ["account", "status"], registry=r)
        self.sent = Counter("smsgw_messages_sent", "Send attempts by outcome (sent, temporary, permanent)",
                            ["connector", "channel", "outcome"], registry=r)
        self.receipts = Counter("smsgw_receipts", "Delivery receipts from upstream, by message state",
                                ["connector", "state"], registry=r)
        self.unmatched = Counter("smsgw_receipts_unmatched", "Receipts for unknown upstream ids",
                                 ["connector"], registry=r)
        self.mo = Counter("smsgw_mo_received", "Incoming (MO) messages", ["connector", "account"], registry=r)
        self.send_latency = Histogram("smsgw_accept_to_sent_seconds", "From accept to upstream acceptance",
                                      ["connector"], buckets=_SEND_BUCKETS, registry=r)
        self.delivery_latency = Histogram("smsgw_accept_to_delivered_seconds", "From accept to DELIVRD receipt",
                                          ["connector"], buckets=_DELIVERY_BUCKETS, registry=r)
        self.queue = Gauge("smsgw_queue_messages", "Messages per provider queue (ready, delayed, inflight)",
                           ["connector", "queue"], registry=r)
        self.dead = Gauge("smsgw_dead_letters", "Dead-lettered messages", registry=r)
        self.connector = Gauge("smsgw_connector_state", "1 for the state each connector is in",
                               ["connector", "state"], registry=r)
        self.binds = Gauge("smsgw_smpp_binds", "Live SMPP client binds", ["account", "node", "mode"], registry=r)
        self.totals = collections.Counter()

    # -- hooks

    def observe_accept(self, account: str, channel: str) -> None:
        self.accepted.labels(account, channel).inc()
        self.totals["accepted"] += 1

    def observe_reject(self, account: str, status) -> None:
        label = f"0x{status:04X}" if isinstance(status, int) else str(status)
        self.rejected.labels(account, label).inc()
        self.totals["rejected"] += 1

    def observe_send(self, provider: str, message: Message, result) -> None:
        """A `Dispatcher` observer: one send attempt's outcome."""
        self.sent.labels(provider, message.channel, result.outcome.value).inc()
        if result.outcome is Outcome.SENT:
            self.totals["sent"] += 1
            if message.created:
                self.send_latency.labels(provider).observe(max(0.0, self.clock.seconds() - message.created / 1000))
        else:
            self.totals["send_" + result.outcome.value] += 1

    def observe_receipt(self, provider: str, msg_id: str | None, state, at_ms: int) -> None:
        if msg_id is None:
            self.unmatched.labels(provider).inc()
            self.totals["receipts_unmatched"] += 1
            return
        state = State(state)
        self.receipts.labels(provider, state.stat).inc()
        self.totals["dlr_" + state.stat] += 1
        created = ms_of_id(msg_id)
        if state is State.DELIVERED and created is not None:
            self.delivery_latency.labels(provider).observe(max(0.0, (at_ms - created) / 1000))

    def observe_mo(self, provider: str, account: str) -> None:
        self.mo.labels(provider, account or "").inc()
        self.totals["mo"] += 1

    def snapshot(self) -> dict:
        """Running totals since this process started (the dashboard turns them into rates)."""
        return dict(self.totals)

    # -- scrape-time gauges

    async def refresh(self, ctx) -> None:
        """Read queue depths, dead letters, connector states and binds into the gauges."""
        from gateway.admin.operations import connector_status  # the admin API's view of a connector

        names = sorted(set(ctx.providers) | set(await ctx.queues.providers()))
        for name in names:
            depth = await ctx.queues.depth(name)
            for queue, n in depth.items():
                self.queue.labels(name, queue).set(n)
        self.dead.set(int(await call(ctx.redis, ctx.clock, "zcard", keys.DEAD)))
        self.connector.clear()
        for name, provider in ctx.providers.items():
            self.connector.labels(name, str(connector_status(provider).get("state", "unknown"))).set(1)
        await self._refresh_binds(ctx)

    async def _refresh_binds(self, ctx) -> None:
        now = int(ctx.clock.seconds() * 1000)
        counts = collections.Counter()
        for account in await ctx.accounts.list():
            records = await call(ctx.redis, ctx.clock, "hgetall", keys.binds(account))
            for raw in (records or {}).values():
                try:
                    record = json.loads(as_text(raw))
                except ValueError:
                    continue
                if int(record.get("expires", 0)) >= now:
                    counts[(account, record.get("node", ""), record.get("mode", ""))] += 1
        self.binds.clear()
        for labels, n in counts.items():
            self.binds.labels(*labels).set(n)


@implementer(IAcceptor)
class MeteredAcceptor:
    """An `IAcceptor` that counts what it accepts and refuses (a long message counts once, by part 1)."""

    def __init__(self, acceptor, metrics: Metrics):
        self.acceptor = acceptor
        self.metrics = metrics

    def __getattr__(self, name):  # add_listener, prepare, parts, redis…: the wrapped acceptor's
        return getattr(self.acceptor, name)

    def accept(self, account, submit, msg_id=None) -> defer.Deferred:
        d = self.acceptor.accept(account, submit, msg_id) if msg_id else self.acceptor.accept(account, submit)
        return d.addCallbacks(self._accepted, self._refused, (account, submit), None, (account,))

    def accept_many(self, account, submits) -> defer.Deferred:
        d = self.acceptor.accept_many(account, submits)
        return d.addCallback(self._counted, account, submits)

    def _counted(self, results, account, submits) -> list:
        for result, submit in zip(results, submits):
            if isinstance(result, Exception):
                self._refused(Failure(result), account)
            else:
                self._accepted(result, account, submit)
        return results

    def accept_part(self, account, submit, reference, total, number) -> defer.Deferred:
        d = self.acceptor.accept_part(account, submit, reference, total, number)
        if number == 1:
            d.addCallback(self._accepted, account, submit)
        return d.addErrback(self._refused, account)

    def _accepted(self, message, account, submit):
        self.metrics.observe_accept(account.name, submit.channel)
        return message

    def _refused(self, failure, account):
        status = getattr(failure.value, "status", None)
        if status is None and failure.check(StoreUnavailable):
            status = "store_unavailable"
        if status is not None:
            self.metrics.observe_reject(account.name, status)
        return failure


@implementer(IReportSink)
class MeteredSink:
    """An `IReportSink` that counts receipts (and delivery latency) and MO messages."""

    def __init__(self, sink, metrics: Metrics):
        self.sink = sink
        self.metrics = metrics

    def __getattr__(self, name):  # lookup, claim_mo_number…: the wrapped sink's
        return getattr(self.sink, name)

    def report(self, provider, upstream_id, state, error_code=0, at=None, extra=None) -> defer.Deferred:
        at_ms = int(self.metrics.clock.seconds() * 1000) if at is None else int(at)
        if extra is None:
            d = self.sink.report(provider, upstream_id, state, error_code, at)
        else:
            d = self.sink.report(provider, upstream_id, state, error_code, at, extra)

        def counted(msg_id):
            self.metrics.observe_receipt(provider, msg_id, state, at_ms)
            return msg_id

        return d.addCallback(counted)

    def deliver_mo(self, provider, source, destination, text="", raw=None, data_coding=0,
                   account=None, at=None, extra=None) -> defer.Deferred:
        d = self.sink.deliver_mo(provider, source, destination, text, raw, data_coding, account, at, extra)

        def counted(message):
            self.metrics.observe_mo(provider, message.account)
            return message

        return d.addCallback(counted)


class MetricsResource(resource.Resource):
    """``GET /metrics``: the Prometheus text format, gauges refreshed from Redis first.

    ``context`` (an `gateway.admin.context.AdminContext`) may be None until the
    engine is ready; the counters are served all the same.
    """

    isLeaf = True
    log = Logger()

    def __init__(self, metrics: Metrics, context=None):
        super().__init__()
        self.metrics = metrics
        self.context = context

    def render_GET(self, request):
        d = defer.ensureDeferred(self.metrics.refresh(self.context)) if self.context else defer.succeed(None)

        def stale(failure):
            self.log.warn("metrics: gauges not refreshed: {error}", error=failure.getErrorMessage())

        def write(_):
            request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
            request.write(generate_latest(self.metrics.registry))
            request.finish()

        d.addErrback(stale)
        d.addCallback(write)
        d.addErrback(lambda f: self.log.failure("serving /metrics failed", f))
        return server.NOT_DONE_YET
