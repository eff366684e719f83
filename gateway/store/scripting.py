"""
Running commands and Lua scripts against Redis with a deadline, so that a
caller always gets an answer: the result, or `StoreUnavailable` when Redis is
disconnected, does not answer in time, or drops the connection.

Scripts live in ``gateway/store/lua/*.lua``; each is prefixed with the key
names of `keys.LUA` and the shared functions of ``common.lua``, sent once per
connection and then run by EVALSHA (a NOSCRIPT answer, after a Redis restart
or SCRIPT FLUSH, falls back to EVAL, which caches it again).
"""

from __future__ import annotations

import hashlib
from importlib import resources

import txredisapi
from twisted.internet import defer
from twisted.python.failure import Failure

from gateway.store import keys

__all__ = ["StoreUnavailable", "Script", "script", "guarded", "connected", "call"]

#: Seconds a Redis call may take before it is reported as StoreUnavailable.
DEFAULT_TIMEOUT = 5.0


class StoreUnavailable(Exception):
    """Redis cannot be reached right now; a temporary condition (retry later).

    The SMPP server answers ESME_RSYSERR / ESME_RMSGQFUL, the HTTP API 503.
    ``reason`` says what happened, for the log.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def connected(redis) -> bool:
    """False when a txredisapi handler is known to have no live connection."""
    factory = getattr(redis, "_factory", None)
    return factory is None or factory.size > 0


def guarded(call, clock, timeout: float = DEFAULT_TIMEOUT) -> defer.Deferred:
    """Run ``call()`` (which returns a Deferred from txredisapi) with a deadline.

    Connection problems and the deadline become `StoreUnavailable`; Redis
    error replies pass through unchanged (they are bugs, not outages).  A reply
    arriving after the deadline is ignored: the caller has already been told
    the outcome is unknown.
    """
    result = defer.Deferred()
    try:
        d = call()
    except txredisapi.ConnectionError as e:
        return defer.fail(StoreUnavailable(f"Redis not connected: {e}"))
    except Exception:  # e.g. a value txredisapi cannot encode: fail the Deferred, not the caller
        return defer.fail(Failure())

    def expire():
        result.errback(StoreUnavailable(f"no answer from Redis within {timeout} s"))

    timer = clock.callLater(timeout, expire)

    def done(value):
        if not timer.active():
            if isinstance(value, Failure):
                value.trap(Exception)  # consumed: the caller was already told StoreUnavailable
            return None
        timer.cancel()
        if isinstance(value, Failure):
            if value.check(txredisapi.ConnectionError, ConnectionError):
                value = Failure(StoreUnavailable(f"Redis connection failed: {value.getErrorMessage()}"))
            result.errback(value)
        else:
            result.callback(value)
        return None

    d.addBoth(done)
    return result


def call(redis, clock, method: str, *args, timeout: float = DEFAULT_TIMEOUT) -> defer.Deferred:
    """``redis.<method>(*args)`` with a deadline; `StoreUnavailable` when disconnected."""
    if not connected(redis):
        return defer.fail(StoreUnavailable("Redis not connected"))
    return guarded(lambda: getattr(redis, method)(*args), clock, timeout)


class Script:
    """One Lua script, run with EVALSHA (falling back to EVAL on NOSCRIPT)."""

    def __init__(self, name: str, body: str):
        self.name = name
        # The body runs as a function so that what it deferred (grouped writes, one outbox
        # wake-up per account: common.lua, script_done) is done after it, whichever way it
        # returns; also when it fails half-way, as the writes it made before failing stay.
        self.source = (keys.LUA + _common() + "local function script_body()\n" + body
                       + "\nend\n" + _RUN)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __call__(self, redis, args, clock, timeout: float = DEFAULT_TIMEOUT) -> defer.Deferred:
        """Run with ``args`` as ARGV (no KEYS: the scripts build keys from `keys.LUA`)."""
        if not connected(redis):
            return defer.fail(StoreUnavailable("Redis not connected"))
        return guarded(lambda: self._run(redis, list(args)), clock, timeout)

    def _run(self, redis, args):
        d = redis.evalsha(self.sha, [], args)

        def missing(failure):
            failure.trap(txredisapi.ScriptDoesNotExist)
            return redis.eval(self.source, [], args)

        return d.addErrback(missing)


_RUN = """local ok, reply = pcall(script_body)
script_done()
if not ok then error(reply, 0) end
return reply
"""

_scripts: dict[str, Script] = {}
_common_source: list[str] = []


def _read(name: str) -> str:
    return resources.files("gateway.store.lua").joinpath(name + ".lua").read_text("utf-8")


def _common() -> str:
    if not _common_source:
        _common_source.append(_read("common"))
    return _common_source[0]


def script(name: str) -> Script:
    """The script ``gateway/store/lua/<name>.lua``, loaded once per process."""
    if name not in _scripts:
        _scripts[name] = Script(name, _read(name))
    return _scripts[name]
