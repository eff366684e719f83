"""
Pacing for upstream connections: a token bucket (throughput cap), a pacer
that runs requests as tokens allow, and a meter of the recent rate.

All three read time from an injected `IReactorTime`, so tests drive them with
`task.Clock`.  A throttling upstream (ESME_RTHROTTLED) pauses the bucket: no
token is handed out until the pause is over, then it refills from empty.
"""

from __future__ import annotations

import math
from collections import deque

from twisted.internet import defer

__all__ = ["TokenBucket", "Pacer", "RateMeter", "UNLIMITED"]

#: What `TokenBucket.available` says when there is no cap.
UNLIMITED = 1 << 30


class TokenBucket:
    """``rate`` tokens a second (0: unlimited), at most ``burst`` saved up."""

    def __init__(self, rate: float, clock, burst: float | None = None):
        self.rate = float(rate)
        self.clock = clock
        self.burst = float(burst) if burst else max(1.0, self.rate)
        self.tokens = self.burst
        self.paused_until = 0.0
        self._stamp = clock.seconds()

    def _refill(self, now: float) -> None:
        if now < self.paused_until:
            return
        start = max(self._stamp, self.paused_until)
        if self.rate and now > start:
            self.tokens = min(self.burst, self.tokens + (now - start) * self.rate)
        self._stamp = now

    @property
    def paused(self) -> bool:
        return self.clock.seconds() < self.paused_until

    def available(self) -> int:
        """Whole tokens that may be taken now (0 while paused)."""
        now = self.clock.seconds()
        if now < self.paused_until:
            return 0
        if not self.rate:
            return UNLIMITED
        self._refill(now)
        return int(self.tokens)

    def take(self, n: int = 1) -> bool:
        """Take ``n`` tokens if there are that many."""
        if self.available() < n:
            return False
        if self.rate:
            self.tokens -= n
        return True

    def delay(self) -> float:
        """Seconds until one token is available (0 if one is now)."""
        now = self.clock.seconds()
        if now < self.paused_until:
            return self.paused_until - now + (1.0 / self.rate if self.rate else 0.0)
        if not self.rate:
            return 0.0
        self._refill(now)
        missing = 1.0 - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def pause(self, seconds: float) -> None:
        """Hand out nothing for ``seconds``, then start again from an empty bucket."""
        self.paused_until = max(self.paused_until, self.clock.seconds() + seconds)
        self.tokens = 0.0


class Pacer:
    """Runs callables in order, one token each; the rest wait in a queue for tokens."""

    def __init__(self, bucket: TokenBucket, clock):
        self.bucket = bucket
        self.clock = clock
        self._queue: deque = deque()
        self._call = None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def run(self, thunk, *args) -> defer.Deferred:
        """Call ``thunk(*args)`` as soon as a token allows; fires with its result."""
        if not self._queue and self.bucket.take():
            return defer.maybeDeferred(thunk, *args)
        d = defer.Deferred()
        self._queue.append((thunk, args, d))
        self._schedule()
        return d

    def _schedule(self) -> None:
        if self._call is None or not self._call.active():
            self._call = self.clock.callLater(self.bucket.delay(), self._drain)

    def _drain(self) -> None:
        self._call = None
        while self._queue and self.bucket.take():
            thunk, args, d = self._queue.popleft()
            defer.maybeDeferred(thunk, *args).chainDeferred(d)
        if self._queue:
            self._schedule()

    def fail_all(self, error: Exception) -> None:
        """Fail everything still waiting (the connector is stopping)."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        queue, self._queue = self._queue, deque()
        for _, _, d in queue:
            d.errback(error)


class RateMeter:
    """Events per second over the last ``span`` seconds, counted in one-second slots."""

    def __init__(self, clock, span: int = 10):
        self.clock = clock
        self.span = span
        self._slots: deque = deque()  # [second, count]

    def count(self, n: int = 1) -> None:
        second = math.floor(self.clock.seconds())
        if self._slots and self._slots[-1][0] == second:
            self._slots[-1][1] += n
        else:
            self._slots.append([second, n])
            self._trim(second)

    def _trim(self, second: int) -> None:
        while self._slots and self._slots[0][0] <= second - self.span:
            self._slots.popleft()

    def rate(self) -> float:
        second = math.floor(self.clock.seconds())
        self._trim(second)
        return sum(count for _, count in self._slots) / self.span
