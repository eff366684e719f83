"""Helpers of the connector tests: a recording report sink, a simulator and connectors on loopback."""

from __future__ import annotations

from twisted.internet import defer, reactor, task
from zope.interface import implementer

from gateway.interfaces import IReportSink
from gateway.model import Message, Outcome
from gateway.providers.smpp import SMPPProvider
from gateway.simulator.service import SimulatorService

TIMEOUT = 10.0


@implementer(IReportSink)
class RecordingSink:
    """Keeps receipts and MO messages; ``known`` (a set) limits the upstream ids it recognises.

    ``fail_reports`` makes that many `report` calls fail first (Redis down, say).
    """

    def __init__(self, known=None, fail_reports: int = 0):
        self.reports: list[tuple] = []
        self.mo: list[dict] = []
        self.known = known
        self.fail_reports = fail_reports
        self.calls: list[str] = []
        self.extras: list[dict] = []
        self._waiters: list[tuple] = []

    def report(self, provider, upstream_id, state, error_code=0, at=None, extra=None):
        self.calls.append(upstream_id)
        if extra is not None:
            self.extras.append(extra)
        if self.fail_reports:
            self.fail_reports -= 1
            return defer.fail(ConnectionError("store unavailable"))
        if self.known is not None and upstream_id not in self.known:
            return defer.succeed(None)
        self.reports.append((provider, upstream_id, state, error_code))
        self._wake()
        return defer.succeed(f"ours-{upstream_id}")

    def deliver_mo(self, provider, source, destination, text="", raw=None, data_coding=0,
                   account=None, at=None, extra=None):
        self.mo.append({"provider": provider, "source": source, "destination": destination,
                        "text": text, "raw": raw, "data_coding": data_coding, "extra": extra})
        self._wake()
        return defer.succeed(None)

    def when(self, predicate, timeout: float = TIMEOUT) -> defer.Deferred:
        """Fires once ``predicate(self)`` holds (checked on every report and MO)."""
        if predicate(self):
            return defer.succeed(self)
        d = defer.Deferred()
        self._waiters.append((predicate, d))
        return d.addTimeout(timeout, reactor)

    def _wake(self):
        for predicate, d in list(self._waiters):
            if not d.called and predicate(self):
                self._waiters.remove((predicate, d))
                d.callback(self)


async def simulator(**options) -> SimulatorService:
    """A started simulator on a free loopback port."""
    options.setdefault("dlr_delay", "0")
    options.setdefault("listen", "tcp:0:interface=127.0.0.1")
    sim = SimulatorService({k: str(v) for k, v in options.items()})
    sim.startService()
    await sim.whenListening()
    return sim


def connector(name: str, sim: SimulatorService, sink, **options) -> SMPPProvider:
    """A connector to ``sim`` (not started), fast reconnects."""
    section = {"host": "127.0.0.1", "port": str(sim.port), "system_id": name, "password": "pw",
               "reconnect_initial": "0.01", "reconnect_max": "0.05"}
    section.update({k: str(v) for k, v in options.items()})
    return SMPPProvider(name, section, sink, reactor)


async def bound(provider: SMPPProvider, timeout: float = TIMEOUT) -> SMPPProvider:
    """Start ``provider`` and wait for its bind."""
    if not provider.running:
        provider.startService()
    return await provider.whenBound().addTimeout(timeout, reactor)


def message(n: int = 0, destination: str | None = None, text: str = "hello", **fields) -> Message:
    return Message(id=f"m{n}", account="acme", destination=destination or f"7900{n:07d}", text=text, **fields)


async def send_all(provider, messages, timeout: float = TIMEOUT) -> dict:
    """Send like the dispatcher does: within capacity, temporary failures again; {id: SendResult}."""
    results: dict = {}
    todo = list(messages)
    deadline = reactor.seconds() + timeout
    pending: dict = {}

    def done(result, m):
        pending.pop(m.id, None)
        if result.outcome is Outcome.TEMPORARY:
            todo.append(m)
        else:
            results[m.id] = result

    while todo or pending:
        if reactor.seconds() > deadline:
            raise TimeoutError(f"{len(todo)} messages unsent, {len(pending)} unanswered after {timeout} s")
        room = provider.capacity()
        while todo and room > 0:
            m = todo.pop(0)
            room -= 1
            pending[m.id] = d = provider.send(m)
            d.addCallback(done, m)
        await task.deferLater(reactor, 0.005, lambda: None)
    return results


async def eventually(predicate, timeout: float = TIMEOUT) -> None:
    """Wait (bounded) until ``predicate()`` holds: for counters of the other end of a socket."""
    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await task.deferLater(reactor, 0.005, lambda: None)


async def stop(*services) -> None:
    for service in services:
        if service.running:
            await service.stopService()
