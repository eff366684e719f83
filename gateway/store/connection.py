"""
Connecting to Redis with txredisapi: ``redis://host:port/db``, ``rediss://…``,
``unix:///path/redis.sock?db=N`` or ``sentinel://host:port,host:port/master[/db]``.

`RedisService` owns the connection of a running gateway: it connects after the
embedded redis-server (if any) is ready, and disconnects on stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import txredisapi
from twisted.application import service
from twisted.internet import defer

from gateway.logs import Logger

__all__ = ["RedisAddress", "parse_url", "connect", "RedisService"]


@dataclass(frozen=True)
class RedisAddress:
    kind: str  # "tcp", "unix" or "sentinel"
    host: str = "127.0.0.1"
    port: int = 6379
    path: str = ""
    db: int = 0
    password: str | None = None
    tls: bool = False
    sentinels: tuple = ()
    master: str = ""


def parse_url(url: str) -> RedisAddress:
    """Parse a Redis URL of one of the forms in the module docstring."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    db = int(query.get("db", ["0"])[0])
    password = parts.password
    if parts.scheme == "unix":
        return RedisAddress("unix", path=parts.path, db=db, password=password)
    if parts.scheme == "sentinel":
        hosts = parts.netloc.rsplit("@", 1)[-1]
        sentinels = []
        for hp in hosts.split(","):
            host, _, port = hp.partition(":")
            sentinels.append((host, int(port or 26379)))
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError("a sentinel URL names the master: sentinel://host:port/mymaster")
        db = int(path[1]) if len(path) > 1 else db
        return RedisAddress("sentinel", sentinels=tuple(sentinels), master=path[0], db=db, password=password)
    if parts.scheme in ("redis", "rediss"):
        path = parts.path.strip("/")
        return RedisAddress(
            "tcp", host=parts.hostname or "127.0.0.1", port=parts.port or 6379,
            db=int(path) if path else db, password=password, tls=parts.scheme == "rediss",
        )
    raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")


#: Longest wait, in seconds, between two attempts to reconnect to Redis.  txredisapi's
#: default is 10 s, so service could come back up to 10 s after Redis did.  Retrying
#: every second costs nothing.
RECONNECT_MAX_DELAY = 1.0


def connect(url: str, poolsize: int = 2, reply_timeout: float | None = None, lazy: bool = False):
    """
    A txredisapi connection pool for *url*; a Deferred firing when connected
    (or the connection handler itself when *lazy*).  Reconnects by itself,
    at most `RECONNECT_MAX_DELAY` seconds after each failed attempt.
    """
    handler = _connect(url, poolsize, reply_timeout, lazy)
    if lazy:
        return _cap_reconnect_delay(handler)
    return handler.addCallback(_cap_reconnect_delay)


def _cap_reconnect_delay(handler):
    factory = getattr(handler, "_factory", None)
    if factory is not None:
        factory.maxDelay = RECONNECT_MAX_DELAY
    return handler


def _connect(url: str, poolsize: int, reply_timeout: float | None, lazy: bool):
    a = parse_url(url)
    common = dict(dbid=a.db, poolsize=poolsize, reconnect=True, password=a.password,
                  replyTimeout=reply_timeout, convertNumbers=False)
    if a.kind == "unix":
        make = txredisapi.lazyUnixConnectionPool if lazy else txredisapi.UnixConnectionPool
        return make(a.path, **common)
    if a.kind == "sentinel":
        sentinel = txredisapi.Sentinel(list(a.sentinels))
        handler = sentinel.master_for(a.master, dbid=a.db, poolsize=poolsize, password=a.password,
                                      replyTimeout=reply_timeout, convertNumbers=False)
        return handler if lazy else handler._connected.addCallback(lambda _: handler)
    make = txredisapi.lazyConnectionPool if lazy else txredisapi.ConnectionPool
    return make(a.host, a.port, ssl_context_factory=a.tls or False, **common)


class RedisService(service.Service):
    """The gateway's Redis connection: waits for the embedded server, connects, disconnects on stop."""

    name = "redis-connection"
    log = Logger()

    def __init__(self, url_source, poolsize=4, reply_timeout=5.0):
        #: a URL, or a callable returning a Deferred that fires with one (the embedded server's)
        self.url_source = url_source
        self.poolsize = poolsize
        self.reply_timeout = reply_timeout
        self.redis = None
        self.url = None
        self._waiting: list[defer.Deferred] | None = []

    def whenConnected(self) -> defer.Deferred:
        """Fires with the txredisapi connection handler once connected."""
        if self._waiting is None:
            return defer.succeed(self.redis)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def startService(self):
        super().startService()
        return defer.ensureDeferred(self._connect())

    async def _connect(self):
        if callable(self.url_source):
            self.url = await self.url_source()
        else:
            self.url = self.url_source
        self.redis = await connect(self.url, self.poolsize, self.reply_timeout)
        self.log.info("connected to Redis at {url}", url=self.url)
        waiting, self._waiting = self._waiting, None
        for d in waiting:
            d.callback(self.redis)

    def stopService(self):
        super().stopService()
        if self.redis is not None:
            return self.redis.disconnect()
        return defer.succeed(None)
