"""Fetching a remote node's change feed (``GET /sync/v1/changes``) over HTTP(S) with treq."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from twisted.internet import defer

from gateway.sync.nodes import SyncNode

__all__ = ["RemoteError", "FeedClient"]


class RemoteError(Exception):
    """A remote node could not be read: down, refused the key, answered nonsense."""

    def __init__(self, node: str, reason: str):
        super().__init__(f"{node}: {reason}")
        self.node = node
        self.reason = reason


class FeedClient:
    """Reads pages of remote change feeds; ``timeout`` seconds per request."""

    def __init__(self, reactor, timeout: float = 30.0, http=None):
        self.reactor = reactor
        self.timeout = timeout
        self._http = http

    def _client(self):
        if self._http is None:
            import treq
            from twisted.web.client import Agent, HTTPConnectionPool

            pool = HTTPConnectionPool(self.reactor, persistent=False)
            self._http = treq.client.HTTPClient(Agent(self.reactor, pool=pool))
        return self._http

    async def page(self, node: SyncNode, after: int, limit: int) -> dict:
        """One page of ``node``'s feed after sequence ``after``; `RemoteError` if it cannot be had."""
        url = f"{node.url}/sync/v1/changes?{urlencode({'after': after, 'limit': limit})}"
        headers = {b"Authorization": [f"Bearer {node.key}".encode()]}
        try:
            response = await self._client().get(url, headers=headers, timeout=self.timeout)
            body = await response.content()
        except defer.CancelledError:
            raise RemoteError(node.name, f"no answer within {self.timeout:g} s") from None
        except Exception as e:  # connection refused, DNS, TLS: the node is unreachable
            raise RemoteError(node.name, f"unreachable: {_reason(e)}") from None
        if response.code != 200:
            raise RemoteError(node.name, f"HTTP {response.code}: {_error_text(body)}")
        try:
            page = json.loads(body)
            if not isinstance(page.get("records"), list) or not isinstance(page.get("next"), int):
                raise ValueError("records or next missing")
        except (ValueError, AttributeError) as e:
            raise RemoteError(node.name, f"not a change feed: {e}") from None
        return page


def _reason(error: Exception) -> str:
    reasons = getattr(error, "reasons", None)  # twisted.web's ResponseNeverReceived & co.
    if reasons:
        return "; ".join(r.getErrorMessage() for r in reasons)
    return str(error) or type(error).__name__


def _error_text(body: bytes) -> str:
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace")
