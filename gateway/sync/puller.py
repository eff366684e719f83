"""
Pulling the archives of remote nodes.

For each node the puller keeps, in Redis (``keys.sync_state``), the feed cursor
and the outcome of the last run; every ``interval`` seconds it reads the
node's change feed from that cursor, a page at a time, stores the records
tagged with the node's name (`Archive.put`) and moves the cursor after every
page, so an interrupted pull goes on where it stopped.  Nodes are pulled
independently: a node that is down is reported (log, status, result) and tried
again after a backoff, while the others go on.  A lock per node in Redis keeps
two processes sharing this Redis from pulling the same node at once.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from twisted.application import service
from twisted.internet import defer

from gateway.archive.records import BadRecord, message_from_record
from gateway.logs import Logger
from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import DEFAULT_TIMEOUT, StoreUnavailable, call, script
from gateway.sync.client import FeedClient, RemoteError

__all__ = ["Puller", "PullResult"]


@dataclass
class PullResult:
    """What one pull of one node did."""

    node: str
    added: int = 0
    updated: int = 0
    skipped: int = 0
    pages: int = 0
    error: str | None = None
    busy: bool = False

    def to_json(self) -> dict:
        return asdict(self)


class Puller(service.Service):
    """Pulls every configured node on its own schedule; see the module docstring."""

    name = "sync"
    log = Logger()

    def __init__(self, archive, nodes, clock, interval: float = 300.0, client: FeedClient | None = None,
                 page_size: int = 500, max_pages: int = 200, retry: float = 10.0,
                 lock_ttl: float = 600.0, timeout: float = DEFAULT_TIMEOUT):
        self.archive = archive
        self.nodes = {node.name: node for node in nodes}
        self.clock = clock
        self.interval = interval
        self.client = client or FeedClient(clock)
        self.page_size = page_size
        self.max_pages = max_pages
        self.retry = retry
        self.lock_ttl = lock_ttl
        self.timeout = timeout
        self._timers: dict = {}
        self._pulls: dict[str, list] = {}
        self._failures: dict[str, int] = {}
        self._token = os.urandom(8).hex()

    # -- schedule

    def startService(self):
        super().startService()
        if self.interval > 0:
            for name in self.nodes:
                self._schedule(name, 0)

    def stopService(self):
        super().stopService()
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()

    def next_run(self, name: str) -> float | None:
        timer = self._timers.get(name)
        return timer.getTime() if timer is not None and timer.active() else None

    def _schedule(self, name: str, delay: float) -> None:
        old = self._timers.get(name)
        if old is not None and old.active():
            old.cancel()
        self._timers[name] = self.clock.callLater(delay, self._scheduled, name)

    def _scheduled(self, name: str) -> None:
        self.pull(self.nodes[name]).addCallback(self._reschedule, name)

    def _reschedule(self, result: PullResult, name: str) -> None:
        if not self.running or self.interval <= 0:
            return
        if result.error is not None:
            delay = min(self.interval, self.retry * 2 ** min(10, self._failures.get(name, 1) - 1))
        elif result.pages >= self.max_pages:
            delay = 0  # more to fetch: go on at once
        else:
            delay = self.interval
        self._schedule(name, delay)

    # -- pulling

    def sync_all(self) -> defer.Deferred:
        """Pull every node now, side by side; fires with a `PullResult` per node."""
        return defer.gatherResults([self.pull(node) for node in self.nodes.values()])

    def pull(self, node) -> defer.Deferred:
        """Pull ``node`` now (joining a pull already running here); fires with a `PullResult`."""
        waiting = self._pulls.get(node.name)
        d = defer.Deferred()
        if waiting is not None:
            waiting.append(d)
            return d
        self._pulls[node.name] = [d]
        run = defer.ensureDeferred(self._pull(node))
        run.addCallback(self._finished, node.name)
        return d

    def _finished(self, result: PullResult, name: str) -> None:
        for d in self._pulls.pop(name, ()):
            d.callback(result)

    async def _pull(self, node) -> PullResult:
        result = PullResult(node.name)
        try:
            locked = await self._lock(node.name)
            if not locked:
                result.busy = True
                return result
            try:
                await self._pages(node, result)
            finally:
                await script("sync_unlock")(self.archive.redis, [node.name, self._token], self.clock, self.timeout)
        except RemoteError as e:
            result.error = e.reason
        except StoreUnavailable as e:
            result.error = f"store unavailable: {e.reason}"
        except Exception as e:  # a bug must not stop the schedule of this or any node
            self.log.failure("pulling {node} failed", node=node.name)
            result.error = f"internal error: {e}"
        await self._record(node, result)
        return result

    async def _lock(self, name: str) -> bool:
        ok = await self._call("set", keys.sync_lock(name), self._token, None, int(self.lock_ttl * 1000), True)
        return bool(ok)

    async def _pages(self, node, result: PullResult) -> None:
        cursor = int(as_text(await self._call("hget", keys.sync_state(node.name), "cursor")) or 0)
        while result.pages < self.max_pages:
            page = await self.client.page(node, cursor, self.page_size)
            result.pages += 1
            if page.get("head", cursor) < cursor:  # the remote's archive was reset: start over
                self.log.warn("node {node} restarted its feed; pulling it again from the start", node=node.name)
                cursor = 0
                continue
            messages = []
            for record in page["records"]:
                try:
                    messages.append(message_from_record(record))
                except BadRecord as e:
                    result.skipped += 1
                    self.log.warn("skipped a record from {node}: {error}", node=node.name, error=e)
            added, updated = await self.archive.put(node.name, messages)
            result.added, result.updated = result.added + added, result.updated + updated
            cursor = page["next"]
            await self._call("hset", keys.sync_state(node.name), "cursor", cursor)
            if not page.get("more"):
                break

    async def _record(self, node, result: PullResult) -> None:
        now = int(self.clock.seconds() * 1000)
        failures = 0
        if result.error is not None:  # counted in Redis: `smsgw sync` and the gateway count together
            try:
                before = await self._call("hget", keys.sync_state(node.name), "failures")
            except StoreUnavailable:
                before = self._failures.get(node.name, 0)
            failures = int(as_text(before) or 0) + 1
        if not result.busy:
            self._failures[node.name] = failures
        if result.error is not None:
            self.log.warn("sync from {node} failed ({failures} in a row): {error}", node=node.name,
                          failures=failures, error=result.error)
        elif not result.busy:
            self.log.info("sync from {node}: received {added} messages ({updated} updated)",
                          node=node.name, added=result.added, updated=result.updated)
        fields = {"url": node.url, "last_run": now, "last_error": result.error or "", "failures": failures}
        if result.error is None and not result.busy:
            fields.update(last_ok=now, last_added=result.added, last_updated=result.updated)
        try:
            await self._call("hmset", keys.sync_state(node.name), fields)
            if result.added:
                await self._call("hincrby", keys.sync_state(node.name), "total_added", result.added)
        except StoreUnavailable as e:
            self.log.warn("could not record the sync state of {node}: {error}", node=node.name, error=e.reason)

    def _call(self, method, *args) -> defer.Deferred:
        return call(self.archive.redis, self.clock, method, *args, timeout=self.timeout)

    # -- status

    async def status(self) -> list[dict]:
        """Per node: URL, cursor, last run and outcome, failures in a row, next scheduled pull."""
        out = []
        for name, node in self.nodes.items():
            state = await self._call("hgetall", keys.sync_state(name))
            state = {as_text(k): as_text(v) for k, v in (state or {}).items()}
            number = {k: int(state[k]) for k in ("cursor", "last_run", "last_ok", "last_added",
                                                   "last_updated", "failures", "total_added") if state.get(k)}
            out.append({"node": name, "url": node.url, "running": name in self._pulls,
                        "next_run": self.next_run(name), "last_error": state.get("last_error", ""),
                        **{k: number.get(k, 0) for k in ("cursor", "last_run", "last_ok", "last_added",
                                                         "last_updated", "failures", "total_added")}})
        return out
