"""
Signing callbacks: every DLR/MO callback carries ``X-Smsgw-Timestamp`` (unix
seconds) and ``X-Smsgw-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<timestamp>.<body>`` (for GET callbacks the body is the query string)
keyed with the account's callback secret.

The secret of an account is derived, not stored: HMAC-SHA256 of the account
name keyed with one random master secret kept in Redis (``keys.CALLBACK_SECRET``,
created by the first node that needs it), so every node signs alike and an
account's secret is the same after a restart.  The account reads its secret at
``GET /api/v1/callback-secret``; replacing the master secret in Redis rotates
every account's.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from twisted.internet import defer

from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import DEFAULT_TIMEOUT, call

__all__ = ["CallbackSigner", "signature"]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` for a callback body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class CallbackSigner:
    """Per-account callback secrets, derived from the shared master secret."""

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout
        self._master: str | None = None

    @defer.inlineCallbacks
    def master(self):
        if self._master is None:
            found = yield call(self.redis, self.clock, "get", keys.CALLBACK_SECRET, timeout=self.timeout)
            if found is None:
                yield call(self.redis, self.clock, "setnx", keys.CALLBACK_SECRET, os.urandom(32).hex(),
                           timeout=self.timeout)
                found = yield call(self.redis, self.clock, "get", keys.CALLBACK_SECRET, timeout=self.timeout)
            self._master = as_text(found)
        return self._master

    @defer.inlineCallbacks
    def secret(self, account: str):
        """The callback secret of ``account`` (hex)."""
        master = yield self.master()
        return hmac.new(master.encode(), account.encode(), hashlib.sha256).hexdigest()
