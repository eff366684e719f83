"""
The callback worker: hands DLRs and MO messages waiting in an account's
outbox to the account's ``dlr_url`` / ``mo_url`` (``callback_method`` GET
with query parameters, or POST JSON), signed (`gateway.http.signing`).

Which reports it takes: those of accounts with a callback URL that have no
live SMPP receiver or transceiver bind on any node (DESIGN "Message
lifecycle" 5: a bind wins; `receiver_bound` reads the binds the SMPP servers
record in ``keys.binds``; ``has_bind`` replaces it in tests).  A report of a
kind the account has no URL for (an MO, only a ``dlr_url`` set) is left
leased: its lease lapses and it returns for a receiver bind, or reaches the
undelivered archive after the retention period — never dropped.

At least once: a report is acknowledged only after a 2xx answer; a failed
one is released and the account backs off (doubling with jitter, capped),
so a dead endpoint is retried without hammering it.  Accounts are
independent lanes: each has at most ``per_account`` requests in flight and
its own backoff, and all together at most ``max_in_flight``, so one failing
or slow endpoint delays only its own account.
"""

from __future__ import annotations

import json
import random
from urllib.parse import urlencode, urlsplit

from twisted.application import service
from twisted.internet import defer, task
from twisted.web.client import Agent, HTTPConnectionPool
from treq.client import HTTPClient

from gateway.channels.hlr import hlr_text, is_hlr
from gateway.http.api.inputs import iso
from gateway.http.auth import AccountCache
from gateway.http.signing import CallbackSigner, signature
from gateway.logs import Logger
from gateway.providers.http import read_limited
from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import StoreUnavailable, call

__all__ = ["CallbackWorker", "report_fields", "receiver_bound"]

_RECEIVING = ("receiver", "transceiver")


async def receiver_bound(redis, clock, account: str) -> bool:
    """True if ``account`` has a live receiver or transceiver bind on some node (it takes the reports)."""
    records = await call(redis, clock, "hgetall", keys.binds(account))
    now = clock.seconds() * 1000
    for raw in (records or {}).values():
        try:
            record = json.loads(as_text(raw))
        except ValueError:
            continue
        if record.get("mode") in _RECEIVING and record.get("expires", 0) >= now:
            return True
    return False


def report_fields(report) -> dict:
    """The fields of a callback for one outbox `Report`."""
    message = report.message
    fields = {"type": report.kind, "id": report.message_id, "report_id": report.id,
              "account": message.account, "from": message.source, "to": message.destination,
              "state": report.state.name, "stat": report.state.stat, "error": report.error,
              "at": iso(report.at)}
    if report.kind == "mo":
        fields["text"] = message.text
    else:
        fields["reference"] = message.client_ref
        fields["parts"] = message.parts
        if is_hlr(report):  # an __HLR__ request: its result fields, and the text SMPP clients get
            fields.update({k: str(v) for k, v in report.extra.items()})
            fields["hlr"] = hlr_text(report)
    return fields


class _Lane:
    """One account's state: busy taking, in backoff until, bound over SMPP until, consecutive failures."""

    __slots__ = ("name", "busy", "again", "until", "bound_until", "failures", "limit", "subscribed")

    def __init__(self, name: str, per_account: int):
        self.name = name
        self.busy = False
        self.again = False
        self.until = 0.0
        self.bound_until = 0.0
        self.failures = 0
        self.limit = defer.DeferredSemaphore(per_account)
        self.subscribed = False


class CallbackWorker(service.Service):
    """Delivers outbox reports to HTTP callback URLs; see the module docstring."""

    name = "callbacks"
    log = Logger()

    def __init__(self, redis, accounts, outbox, clock, *, notifier=None, has_bind=None, client=None,
                 signer=None, poll_interval: float = 1.0, per_account: int = 4, max_in_flight: int = 200,
                 batch: int = 20, timeout: float = 10.0, backoff_base: float = 1.0,
                 backoff_cap: float = 300.0, rng: random.Random | None = None):
        self.redis = redis
        self.accounts = AccountCache(accounts, clock, ttl=5.0)
        self.outbox = outbox
        self.clock = clock
        self.notifier = notifier
        self.has_bind = has_bind or (lambda account: defer.ensureDeferred(receiver_bound(redis, clock, account)))
        self.client = client
        self.signer = signer or CallbackSigner(redis, clock)
        self.poll_interval = poll_interval
        self.per_account = per_account
        self.batch = batch
        self.timeout = timeout
        self.backoff = (backoff_base, backoff_cap)
        self.rng = rng or random.Random()
        self.delivered = 0
        self.failed = 0
        self._global = defer.DeferredSemaphore(max_in_flight)
        self._lanes: dict[str, _Lane] = {}
        self._loop = None

    def startService(self):
        super().startService()
        if self.client is None:
            pool = HTTPConnectionPool(self.clock, persistent=True)
            self.client = HTTPClient(Agent(self.clock, pool=pool))
        self._loop = task.LoopingCall(self.poll)
        self._loop.clock = self.clock
        self._loop.start(self.poll_interval, now=True).addErrback(
            lambda f: self.log.failure("callback poll loop stopped", f))

    def stopService(self):
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self.notifier is not None:
            for lane in self._lanes.values():
                if lane.subscribed:
                    self.notifier.unsubscribe(keys.outbox_wake(lane.name), self._woken)

    def poll(self) -> defer.Deferred:
        """Look at every account with waiting reports (also the fallback for lost wake-ups)."""
        d = call(self.redis, self.clock, "smembers", keys.OUTBOX_ACCOUNTS)

        def wake_all(names):
            for name in names:
                self.wake(as_text(name))

        def failed(failure):  # the loop goes on: Redis may be back at the next poll
            if not failure.check(StoreUnavailable):
                self.log.failure("callback poll failed", failure)

        d.addCallback(wake_all)
        d.addErrback(failed)
        return d

    def _woken(self, channel: str, _message) -> None:
        prefix, suffix = keys.outbox_wake("\0").split("\0")
        self.wake(channel[len(prefix):len(channel) - len(suffix)])

    def wake(self, name: str) -> None:
        """Take and deliver ``name``'s reports now, unless busy or backing off."""
        if not self.running:
            return
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = _Lane(name, self.per_account)
        if lane.busy:
            lane.again = True  # reports arrived during this round: another one after it
            return
        if lane.until > self.clock.seconds():
            return
        lane.busy = True
        d = defer.ensureDeferred(self._serve(lane))
        d.addErrback(lambda f: self.log.failure("callbacks of {account} failed", f, account=name))

        def idle(more):
            lane.busy = False
            if more or lane.again:
                lane.again = False
                self.clock.callLater(0, self.wake, name)

        d.addCallback(idle)

    async def _serve(self, lane: _Lane) -> bool:
        """One round for one account; True when there may be more to take right away."""
        try:
            account = await self.accounts.get(lane.name)
        except StoreUnavailable:
            return False
        if account is None or not (account.dlr_url or account.mo_url):
            return False
        if lane.bound_until > self.clock.seconds():
            return False
        try:
            if await defer.maybeDeferred(self.has_bind, lane.name):
                lane.bound_until = self.clock.seconds() + self.poll_interval  # ask again at the next poll
                return False
        except StoreUnavailable:
            return False
        self._subscribe(lane)
        try:
            reports = await self.outbox.take(lane.name, self.batch)
        except StoreUnavailable:
            return False
        if not reports:
            return False
        outcomes = await defer.gatherResults(
            [lane.limit.run(self._global.run, self._deliver, account, r) for r in reports])
        await self._settle(lane, reports, outcomes)
        return len(reports) == self.batch and all(o is not False for o in outcomes)

    def _subscribe(self, lane: _Lane) -> None:
        if self.notifier is not None and not lane.subscribed:
            lane.subscribed = True
            self.notifier.subscribe(keys.outbox_wake(lane.name), self._woken)

    async def _settle(self, lane: _Lane, reports, outcomes) -> None:
        done = [r.id for r, ok in zip(reports, outcomes) if ok is True]
        failed = [r.id for r, ok in zip(reports, outcomes) if ok is False]
        try:
            if done:
                await self.outbox.ack(lane.name, done)
            if failed:
                await self.outbox.release(lane.name, failed)
        except StoreUnavailable as e:  # the leases lapse and the reports come back
            self.log.warn("outbox of {account} not settled: {error}", account=lane.name, error=e.reason)
        self.delivered += len(done)
        self.failed += len(failed)
        if failed:
            lane.failures += 1
            base, cap = self.backoff
            delay = min(cap, base * 2 ** (lane.failures - 1)) * (0.5 + self.rng.random() / 2)
            lane.until = self.clock.seconds() + delay
            self.clock.callLater(delay, self.wake, lane.name)
        elif done:
            lane.failures = 0

    def _deliver(self, account, report) -> defer.Deferred:
        return defer.ensureDeferred(self.deliver(account, report))

    async def deliver(self, account, report):
        """Send one report; True (acknowledge), False (failed: retry) or None (no URL for its kind)."""
        url = account.mo_url if report.kind == "mo" else account.dlr_url
        if not url:
            return None
        fields = report_fields(report)
        secret = await self.signer.secret(account.name)
        stamp = int(self.clock.seconds())
        if account.callback_method == "get":
            query = urlencode(sorted((k, "" if v is None else str(v)) for k, v in fields.items()))
            joiner = "&" if urlsplit(url).query else "?"
            method, target, body = "GET", url + joiner + query, None
            signed = query.encode()
        else:
            method, target = "POST", url
            body = signed = json.dumps(fields, ensure_ascii=False).encode()
        headers = {"X-Smsgw-Timestamp": str(stamp), "X-Smsgw-Signature": signature(secret, stamp, signed),
                   "User-Agent": "smsgw"}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = await self.client.request(method, target, data=body, headers=headers,
                                                 timeout=self.timeout, reactor=self.clock,
                                                 allow_redirects=False)
            await read_limited(response)
        except Exception as e:  # any network failure of one callback: retried later
            self.log.info("callback {kind} {id} to {account} failed: {error}", kind=report.kind,
                          id=report.message_id, account=account.name, error=f"{type(e).__name__}: {e}")
            return False
        if 200 <= response.code < 300:
            return True
        self.log.info("callback {kind} {id} to {account}: HTTP {code}", kind=report.kind,
                      id=report.message_id, account=account.name, code=response.code)
        return False
