"""
Retention: archived messages older than ``[archive] retention_days`` are
deleted (the message hash with every index entry), in bounded steps so Redis
is never blocked for long.  Messages still on their way (queued, in flight,
dead-lettered: not in a final state) are kept whatever their age; records
pulled from other nodes go when their time is up.  0 days keeps everything.
"""

from __future__ import annotations

from twisted.application import service
from twisted.internet import defer, task

from gateway.archive.records import DAY_MS, day_of
from gateway.logs import Logger
from gateway.store.messages import as_text
from gateway.store.scripting import DEFAULT_TIMEOUT, script

__all__ = ["Retention"]


class Retention(service.Service):
    """Runs `sweep` every ``interval`` seconds (and once at start)."""

    name = "archive-retention"
    log = Logger()

    def __init__(self, redis, clock, days: int, interval: float = 3600.0, step: int = 1000,
                 timeout: float = DEFAULT_TIMEOUT):
        self.redis = redis
        self.clock = clock
        self.days = days
        self.interval = interval
        self.step = step
        self.timeout = timeout
        self._loop = None
        self._running: defer.Deferred | None = None

    def startService(self):
        super().startService()
        if self.days > 0:
            self._loop = task.LoopingCall(self._tick)
            self._loop.clock = self.clock
            self._loop.start(self.interval, now=True)

    def stopService(self):
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        return self._running

    def _tick(self):
        if self._running is not None:
            return None
        d = defer.ensureDeferred(self.sweep())
        d.addErrback(lambda f: self.log.warn("archive retention sweep failed: {error}", error=f.getErrorMessage()))
        self._running = d
        d.addBoth(self._done)
        return None

    def _done(self, result):
        self._running = None
        return result

    def cutoff_day(self) -> int:
        """Days before this one are past retention."""
        return day_of(int(self.clock.seconds() * 1000) - self.days * DAY_MS)

    async def sweep(self) -> int:
        """Delete what is past retention; the number of messages deleted."""
        if self.days <= 0:
            return 0
        cutoff, after, deleted = self.cutoff_day(), "", 0
        while self.running or self._loop is None:
            reply = await script("archive_expire")(self.redis, [cutoff, after, self.step], self.clock, self.timeout)
            deleted += int(reply[0])
            after = as_text(reply[2])
            if not after:
                break
        if deleted:
            self.log.info("archive retention: deleted {count} messages older than {days} days",
                          count=deleted, days=self.days)
        return deleted
