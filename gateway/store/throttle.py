"""
Brute-force protection shared by every node of a deployment through Redis.

`SharedFailures` counts the failures of one *scope* (SMPP binds per address,
HTTP logins per login name, …) per key in ``smsgw:fail:{scope}:{key}`` and, at
the limit, blocks the key on every node with ``smsgw:block:{scope}:{key}``
(TTL: the block), so that an attacker spreading attempts over several nodes
gets the budget of one, and a block set by one node holds on the others.

The local counters (`gateway.smpp.auth.FailedBinds`,
`gateway.http.auth.FailedLogins`) keep counting on their own and learn the
shared blocks from these answers; they alone decide while Redis cannot be
reached, as every call here answers "nothing known" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet import defer

from gateway.logs import Logger
from gateway.store import keys
from gateway.store.scripting import DEFAULT_TIMEOUT, StoreUnavailable, call, script

__all__ = ["SharedFailures", "Counted"]


@dataclass(frozen=True)
class Counted:
    """The answer to one failure: all the nodes' count and the block, if any."""

    failures: int   #: failures in the series, this one included (0: the key was blocked already)
    blocked: float  #: seconds the key stays refused on every node (0: not blocked)
    new: bool       #: this failure blocked it (the owner logs the block once, on this node)


class SharedFailures:
    """Failures of one scope counted on every node sharing ``redis``.

    The policy (limit, how long a count lives, the block) stays with the caller, who
    passes it with each failure: a count lives ``ttl`` seconds from its first failure
    (failures within a window), or from its last one when ``in_a_row`` (failures in a
    row, which a success ends: `reset`).  Reaching the limit blocks the key on every node
    and starts a fresh count.
    """

    log = Logger()

    def __init__(self, redis, clock, scope: str, timeout: float = DEFAULT_TIMEOUT):
        self.redis = redis
        self.clock = clock
        self.scope = scope
        self.timeout = timeout
        self._down = False

    def failed(self, key: str, limit: int, ttl: float, block: float, in_a_row: bool = False) -> defer.Deferred:
        """Count one more failure of ``key``; fires with what all nodes counted (`Counted`), or
        None when Redis cannot be reached.  Never fails."""
        args = [self.scope, key, limit, _ms(ttl), _ms(block), int(in_a_row)]
        d = script("failure")(self.redis, args, self.clock, self.timeout)
        return d.addCallbacks(self._counted, self._unavailable, (key,))

    def _counted(self, reply, key: str) -> Counted:
        self._up()
        failures, left, new = (int(x) for x in reply)
        return Counted(failures, left / 1000, bool(new))

    def blocked(self, key: str) -> defer.Deferred:
        """Fires with the seconds ``key`` stays blocked (0: not blocked), or None when Redis
        cannot be reached.  One PTTL; never fails."""
        d = call(self.redis, self.clock, "execute_command", "PTTL", keys.failures_block(self.scope, key),
                 timeout=self.timeout)
        return d.addCallbacks(self._left, self._unavailable)

    def _left(self, ms) -> float:
        self._up()
        return max(int(ms), 0) / 1000  # -2: no such key

    def reset(self, key: str) -> defer.Deferred:
        """Forget the failures of ``key`` (a success ends a series in a row).  Never fails."""
        d = call(self.redis, self.clock, "delete", keys.failures(self.scope, key), timeout=self.timeout)
        return d.addCallbacks(lambda _: self._up(), self._unavailable)

    def _unavailable(self, failure, *_):
        # Also an error reply: whatever goes wrong here, the local counters still protect.
        if not self._down:
            self._down = True
            error = failure.value.reason if failure.check(StoreUnavailable) else failure.getErrorMessage()
            self.log.warn("shared failure counts of {scope} unavailable ({error}): counting on this node only",
                          scope=self.scope, error=error)
        return None

    def _up(self) -> None:
        if self._down:
            self._down = False
            self.log.info("shared failure counts of {scope} available again", scope=self.scope)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
