"""
Who is bound: the ``system_type`` flags of a bind, the binds of this node per
account (one connection per login unless ``MCONn``), and their record in Redis.

``system_type`` is a comma-separated list of flags (seed 002): ``ISO``
(data_coding 0 is Latin-1 instead of GSM 03.38), ``SINGLE`` (every part of a
long message is its own message, with its own id and DLR), ``MCON1``…``MCON9``
(that many binds of the login at once; a further bind replaces the oldest).
Other words (``SMPP``, ``VMA``…) are ignored; the account's own
``system_type`` setting gives defaults the bind can add to.

Redis: ``smsgw:binds:{account}`` is a hash ``{node}/{n}`` → JSON
``{node, mode, peer, since, flags, expires}``, refreshed while the bind lives
and removed when it ends, so the admin API can list live binds across nodes
(entries past ``expires`` belong to a node that died).  A new bind also finds
there the older binds of its login on other nodes and asks them to go over
``smsgw:binds:{account}:kick``.  DLRs do not need the registry: every bound
node takes from the account's outbox.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from dataclasses import dataclass

from twisted.internet import task

from gateway.logs import Logger
from gateway.smpp.constants import CommandStatus
from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import call

__all__ = ["BindFlags", "BadSystemType", "parse_system_type", "BindRegistry"]

_MCON = re.compile(r"MCON(\d+)")


class BadSystemType(ValueError):
    """A system_type flag with an impossible value (``MCON0``, ``MCON12``)."""

    status = CommandStatus.ESME_RINVSYSTYP


@dataclass(frozen=True)
class BindFlags:
    """The flags of one bind: ``iso``, ``single``, ``mcon`` (None: not given)."""

    iso: bool = False
    single: bool = False
    mcon: int | None = None

    def merged(self, defaults: "BindFlags") -> "BindFlags":
        """These flags on top of the account's defaults."""
        return BindFlags(self.iso or defaults.iso, self.single or defaults.single,
                         self.mcon if self.mcon is not None else defaults.mcon)

    def limit(self, max_connections: int) -> int:
        """How many binds of the login may live at once."""
        return self.mcon if self.mcon is not None else max(1, max_connections)

    def __str__(self) -> str:
        words = (["ISO"] if self.iso else []) + (["SINGLE"] if self.single else [])
        words += [f"MCON{self.mcon}"] if self.mcon is not None else []
        return ",".join(words)


def parse_system_type(value: str) -> BindFlags:
    """The flags in ``value`` (case and spaces ignored); `BadSystemType` for MCON outside 1..9."""
    iso = single = False
    mcon = None
    for word in value.upper().split(","):
        word = word.strip()
        if word == "ISO":
            iso = True
        elif word == "SINGLE":
            single = True
        elif match := _MCON.fullmatch(word):
            mcon = int(match.group(1))
            if not 1 <= mcon <= 9:
                raise BadSystemType(f"{word}: MCON takes 1 to 9")
    return BindFlags(iso, single, mcon)


class BindRegistry:
    """The bound sessions of this node, per account, and their records in Redis.

    A session is any object with ``account`` (`Account`), ``mode`` (str),
    ``peer``, ``flags``, ``bound_at`` (seconds), ``bind_id`` and
    ``shutdown(why)``.  With a ``notifier``, binds of the login on other nodes
    count towards its limit too: a new bind asks (over the login's kick
    channel) the nodes holding older binds beyond the limit to unbind them.
    """

    log = Logger()

    def __init__(self, redis, clock, node: str, ttl: float = 90.0, refresh: float = 30.0, notifier=None):
        self.redis = redis
        self.clock = clock
        self.node = node
        self.ttl = ttl
        self.refresh = refresh
        self.notifier = notifier
        self._by_account: dict[str, list] = {}
        # ``{node}/{n}``; n starts at random, as two processes may share a node name
        self._ids = itertools.count(secrets.randbelow(10 ** 9) * 1000 + 1)
        self._loop = None

    def new_id(self) -> str:
        return f"{self.node}/{next(self._ids)}"

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_account.values())

    def sessions(self, account: str | None = None) -> list:
        """Bound sessions of ``account`` (all accounts: None), oldest first."""
        if account is not None:
            return list(self._by_account.get(account, ()))
        return [s for group in self._by_account.values() for s in group]

    def add(self, session, limit: int) -> list:
        """Record a new bind; return the older binds of its login on this node beyond ``limit``
        (the caller replaces them); older ones elsewhere are asked to go."""
        name = session.account.name
        if name not in self._by_account and self.notifier is not None:
            self.notifier.subscribe(keys.binds_kick(name), self._kicked)
        group = self._by_account.setdefault(name, [])
        group.append(session)
        excess = group[:max(0, len(group) - limit)]
        for old in excess:
            group.remove(old)
        self._write(session)
        for old in excess:
            self._forget(old)
        if self.notifier is not None and self.redis is not None:
            self._replace_elsewhere(session, limit)
        return excess

    def remove(self, session) -> None:
        """The bind ended (unbind, close, replaced)."""
        name = session.account.name
        group = self._by_account.get(name)
        if group and session in group:
            group.remove(session)
            if not group:
                del self._by_account[name]
                if self.notifier is not None:
                    self.notifier.unsubscribe(keys.binds_kick(name), self._kicked)
            self._forget(session)

    # -- across nodes

    def _replace_elsewhere(self, session, limit: int) -> None:
        d = call(self.redis, self.clock, "hgetall", keys.binds(session.account.name))
        d.addCallback(self._kick_older, session, limit)
        d.addErrback(self._failed, "look at other nodes' binds for", session)

    def _kick_older(self, records: dict, session, limit: int) -> None:
        name = session.account.name
        local = {s.bind_id for s in self._by_account.get(name, ())}
        now, since = self.clock.seconds() * 1000, session.bound_at * 1000
        elsewhere = []
        for bind_id, raw in records.items():
            bind_id = as_text(bind_id)
            if bind_id in local:
                continue
            record = json.loads(as_text(raw))
            if record.get("expires", 0) >= now:
                elsewhere.append((record.get("since", 0), bind_id))
        excess = len(local) + len(elsewhere) - limit
        older = sorted(entry for entry in elsewhere if entry[0] <= since)  # the newest bind wins
        for _, bind_id in older[:max(0, excess)]:
            self.log.info("asking another node to unbind {bind_id} of {system_id}: replaced by {new}",
                          bind_id=bind_id, system_id=name, new=session.bind_id)
            d = call(self.redis, self.clock, "publish", keys.binds_kick(name), bind_id)
            d.addErrback(self._failed, "ask another node to unbind", session)

    def _kicked(self, channel: str, message) -> None:
        bind_id = as_text(message)
        for session in self.sessions():
            if session.bind_id == bind_id:
                session.shutdown("replaced by a newer bind of the login on another node")

    # -- Redis records

    def start(self) -> None:
        if self._loop is None and self.redis is not None and self.refresh:
            self._loop = task.LoopingCall(self.refresh_all)
            self._loop.clock = self.clock
            self._loop.start(self.refresh, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def refresh_all(self) -> None:
        for session in self.sessions():
            self._write(session)

    def _record(self, session) -> str:
        return json.dumps({
            "node": self.node, "mode": session.mode, "peer": session.peer,
            "since": int(session.bound_at * 1000), "flags": str(session.flags),
            "expires": int((self.clock.seconds() + self.ttl) * 1000),
        })

    def _write(self, session) -> None:
        if self.redis is None:
            return
        d = call(self.redis, self.clock, "hset", keys.binds(session.account.name), session.bind_id,
                 self._record(session))
        d.addErrback(self._failed, "record", session)

    def _forget(self, session) -> None:
        if self.redis is None:
            return
        d = call(self.redis, self.clock, "hdel", keys.binds(session.account.name), session.bind_id)
        d.addErrback(self._failed, "remove", session)

    def _failed(self, failure, what: str, session) -> None:
        # Only the admin view suffers: the record expires or is rewritten on the next refresh.
        self.log.warn("could not {what} the bind record of {system_id}: {error}", what=what,
                      system_id=session.account.name, error=failure.getErrorMessage())
