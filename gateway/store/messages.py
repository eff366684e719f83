"""
Reading messages back from Redis, and the per-process node number that makes
message ids and lease owners unique among the nodes sharing one Redis.
"""

from __future__ import annotations

from twisted.internet import defer

from gateway.model import IdGenerator, Message, State
from gateway.store import keys
from gateway.store.scripting import DEFAULT_TIMEOUT, call

__all__ = ["MessageStore", "allocate_node_number", "new_id_generator", "as_bytes", "as_text",
           "message_from_hash"]


def as_bytes(value) -> bytes:
    """A Redis reply as bytes (txredisapi decodes what looks like UTF-8 to str)."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def as_text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)


def _history(words: str) -> list:
    out = []
    for word in words.split():
        state, _, at = word.partition("@")
        out.append((State(int(state)), int(at)))
    return out


def message_from_hash(fields: dict) -> Message:
    """A `Message` from the fields of its ``smsgw:msg:{id}`` hash."""
    f = {as_text(k): v for k, v in fields.items()}
    message = Message.from_static_blob(as_bytes(f["d"]), as_text(f.get("t")))
    message.state = State(int(as_text(f.get("s")) or State.ACCEPTED))
    message.history = _history(as_text(f.get("h")))
    message.provider = as_text(f.get("p")) or message.provider
    message.attempts = int(as_text(f.get("n")) or 0)
    message.error = int(as_text(f.get("e")) or 0)
    message.upstream_ids = tuple(as_text(f.get("u")).split())
    message.dead = as_text(f.get("dl")) == "1"
    if "c" in f:  # the comment of a multipart message, split off after assembly
        message.comment = as_text(f["c"])
    return message


def allocate_node_number(redis, clock, timeout: float = DEFAULT_TIMEOUT) -> defer.Deferred:
    """A number no other process sharing this Redis has (INCR, once per process start)."""
    return call(redis, clock, "incr", keys.NODE_SEQ, timeout=timeout).addCallback(int)


def new_id_generator(redis, clock) -> defer.Deferred:
    """An `IdGenerator` with a freshly allocated node number."""
    return allocate_node_number(redis, clock).addCallback(IdGenerator)


class MessageStore:
    """Looks messages up by id."""

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout

    def get(self, msg_id: str) -> defer.Deferred:
        """Fires with the `Message`, or None if there is no such message."""
        d = call(self.redis, self.clock, "hgetall", keys.message(msg_id), timeout=self.timeout)
        return d.addCallback(lambda fields: message_from_hash(fields) if fields else None)
