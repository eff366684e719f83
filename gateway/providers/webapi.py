"""
Calling vendor web APIs (Telegram, Viber and voice aggregators, HLR
services) with treq: one connection pool per provider, a deadline per
request, an answer read up to `MAX_ANSWER` bytes, JSON parsed when it is
JSON.  A request that gets no HTTP answer at all fails with `Unreachable`
(always a temporary condition); every HTTP answer is returned as `Answer`
for the provider to judge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import treq
from treq.client import HTTPClient
from twisted.internet import defer, error
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool, ResponseFailed

__all__ = ["Answer", "Unreachable", "WebClient", "MAX_ANSWER", "read_limited"]

MAX_ANSWER = 1024 * 1024  # bytes of an answer that are read; the rest is dropped

_NETWORK_ERRORS = (error.ConnectError, error.TimeoutError, error.DNSLookupError, error.ConnectionLost,
                   defer.CancelledError, ResponseFailed)


class Unreachable(Exception):
    """No HTTP answer: connection refused or lost, DNS failure, TLS failure, deadline."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: ``status``, the ``body`` bytes and, when the body is JSON, ``document``."""

    status: int
    body: bytes
    document: object = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class WebClient:
    """A treq client with its own connection pool; ``ca_file`` replaces the system trust roots."""

    def __init__(self, reactor, concurrency: int = 10, timeout: float = 30.0, ca_file: str = "",
                 client: HTTPClient | None = None):
        self.reactor = reactor
        self.timeout = timeout
        if client is None:
            pool = HTTPConnectionPool(reactor, persistent=True)
            pool.maxPersistentPerHost = concurrency
            trust = {"trustRoot": _trust_root(ca_file)} if ca_file else {}
            policy = BrowserLikePolicyForHTTPS(**trust)
            client = HTTPClient(Agent(reactor, contextFactory=policy, pool=pool))
            self.pool = pool
        else:
            self.pool = None
        self.client = client

    async def request(self, method: str, url: str, *, json_body=None, form=None, params=None,
                      headers=None, auth=None, timeout: float | None = None) -> Answer:
        """Send one request; an `Answer` for any HTTP status, `Unreachable` for none."""
        kwargs = {"headers": dict(headers or {}), "params": params, "auth": auth,
                  "timeout": timeout or self.timeout, "reactor": self.reactor, "allow_redirects": False}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"].setdefault("Content-Type", "application/json; charset=utf-8")
        elif form is not None:
            kwargs["data"] = form
        try:
            response = await self.client.request(method, url, **kwargs)
            body = await read_limited(response)
        except _NETWORK_ERRORS as e:
            raise Unreachable(f"{type(e).__name__}: {e}") from None
        return Answer(response.code, body, _json(response, body))

    def close(self) -> defer.Deferred:
        """Close the pooled connections (on stop)."""
        return self.pool.closeCachedConnections() if self.pool is not None else defer.succeed(None)


def _trust_root(ca_file: str):
    from twisted.internet.ssl import Certificate

    with open(ca_file, "rb") as f:
        return Certificate.loadPEM(f.read())


def _json(response, body: bytes):
    kind = (response.headers.getRawHeaders(b"content-type") or [b""])[0].split(b";")[0].strip().lower()
    if not (kind.endswith(b"json") or body[:1] in (b"{", b"[")):
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


async def read_limited(response) -> bytes:
    """The body of an answer, at most `MAX_ANSWER` bytes (the rest is dropped)."""
    chunks, size = [], 0

    def collect(data: bytes) -> None:
        nonlocal size
        if size < MAX_ANSWER:
            chunks.append(data[:MAX_ANSWER - size])
            size += len(data)

    await treq.collect(response, collect)
    return b"".join(chunks)
