"""
The domain types every part of the gateway shares: `Message` (one MT or MO
message with its state history), `Submit` (what a client asked to send, before
it is accepted), `Account`, `State`, `SendResult` and message ids.

Times are integer milliseconds since the epoch throughout (cheap to compare,
exact in Lua and msgpack).  Values in Redis are msgpack, never pickle.
"""

from __future__ import annotations

import enum
import ipaddress
import itertools
from dataclasses import dataclass, field, replace
from decimal import Decimal

import msgpack

from gateway.smpp.constants import MessageState

__all__ = [
    "State", "Direction", "Outcome", "SendResult", "Submit", "Message", "Account",
    "IdGenerator", "split_comment", "COMMENT_SEPARATOR", "FINAL_STATES",
]

COMMENT_SEPARATOR = "\n~~~\n"


#: A message's state: the SMPP message_state values (3.4 section 5.2.28), with the
#: ``stat:`` words of delivery receipts (``State.DELIVERED.stat == "DELIVRD"``).
State = MessageState
FINAL_STATES = frozenset(state for state in State if state.is_final)


class Direction(str, enum.Enum):
    """MT: from an application to a phone; MO: from a phone to an application."""

    MT = "MT"
    MO = "MO"


class Outcome(enum.Enum):
    """How a provider's attempt to send a message ended."""

    SENT = "sent"            # upstream took it; upstream ids known
    TEMPORARY = "temporary"  # try again later on the same provider
    PERMANENT = "permanent"  # this provider never will: fail over


@dataclass(frozen=True, slots=True)
class SendResult:
    """What `IProvider.send` fires with."""

    outcome: Outcome
    upstream_ids: tuple[str, ...] = ()
    error_code: int = 0
    reason: str = ""

    @classmethod
    def sent(cls, *upstream_ids: str) -> "SendResult":
        return cls(Outcome.SENT, tuple(upstream_ids))

    @classmethod
    def temporary(cls, error_code: int, reason: str = "") -> "SendResult":
        return cls(Outcome.TEMPORARY, (), error_code, reason)

    @classmethod
    def permanent(cls, error_code: int, reason: str = "") -> "SendResult":
        return cls(Outcome.PERMANENT, (), error_code, reason)


def split_comment(text: str) -> tuple[str, str]:
    """Split ``text`` into the part to send and the ``\\n~~~\\n`` comment (kept, not sent)."""
    body, sep, comment = text.partition(COMMENT_SEPARATOR)
    return (body, comment) if sep else (text, "")


@dataclass(slots=True)
class Submit:
    """A client's request to send one message, as the SMPP or HTTP layer decoded it.

    ``schedule`` and ``validity`` are absolute epoch milliseconds (0: none).
    ``text`` may still carry a ``~~~`` comment; the acceptor splits it off.
    """

    destination: str
    text: str = ""
    source: str = ""
    channel: str = "sms"
    raw: bytes | None = None
    data_coding: int = 0
    parts: int = 1
    priority: int = 0
    schedule: int = 0
    validity: int = 0
    registered_delivery: int = 0
    client_ref: str = ""
    user_ref: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(slots=True)
class Message:
    """One message, MT or MO, with its current state and timestamped history.

    ``history`` is a list of ``(State, at_ms)``; ``route`` the ordered provider
    names for failover, ``provider`` the one currently in charge.
    """

    id: str
    account: str
    destination: str
    text: str = ""
    source: str = ""
    channel: str = "sms"
    direction: Direction = Direction.MT
    raw: bytes | None = None
    data_coding: int = 0
    parts: int = 1
    priority: int = 0
    schedule: int = 0
    validity: int = 0
    registered_delivery: int = 0
    state: State = State.ACCEPTED
    history: list = field(default_factory=list)
    provider: str = ""
    route: tuple[str, ...] = ()
    attempts: int = 0
    upstream_ids: tuple[str, ...] = ()
    error: int = 0
    comment: str = ""
    node: str = ""
    client_ref: str = ""
    user_ref: int | None = None
    created: int = 0
    quiet_hours: str = ""
    extra: dict = field(default_factory=dict)
    dead: bool = False

    def static_blob(self) -> bytes:
        """The fields that never change after acceptance, packed (the ``d`` field in Redis)."""
        return msgpack.packb((
            _BLOB_VERSION, self.id, self.account, self.destination, self.source, self.channel,
            self.direction.value, self.raw, self.data_coding, self.parts, self.priority,
            self.schedule, self.validity, self.registered_delivery, list(self.route),
            self.comment, self.node, self.client_ref, self.user_ref, self.created,
            self.quiet_hours, self.extra,
        ), use_bin_type=True)

    @classmethod
    def from_static_blob(cls, blob: bytes, text: str = "") -> "Message":
        """The message as it was accepted (state fields at their defaults)."""
        f = msgpack.unpackb(blob, raw=False, use_list=True)
        if f[0] != _BLOB_VERSION:
            raise ValueError(f"unknown message blob version {f[0]!r}")
        return cls(
            id=f[1], account=f[2], destination=f[3], source=f[4], channel=f[5],
            direction=_DIRECTIONS[f[6]], raw=f[7], data_coding=f[8], parts=f[9], priority=f[10],
            schedule=f[11], validity=f[12], registered_delivery=f[13], route=tuple(f[14]),
            comment=f[15], node=f[16], client_ref=f[17], user_ref=f[18], created=f[19],
            quiet_hours=f[20], extra=f[21], text=text,
        )

    def evolve(self, **changes) -> "Message":
        return replace(self, **changes)


_BLOB_VERSION = 1
_DIRECTIONS = {d.value: d for d in Direction}  # a lookup per message, not an enum call


@dataclass(slots=True)
class Account:
    """A client account: credentials and the rules its messages are accepted under.

    ``password`` is a ``scrypt$…`` hash; ``api_keys`` are SHA-256 hex digests of
    the keys.  ``balance`` here is informational (the live value is in Redis);
    None means unlimited.  ``tariff`` maps destination prefixes to prices.
    """

    name: str
    password: str = ""
    api_keys: tuple[str, ...] = ()
    enabled: bool = True
    throughput: int = 30
    max_connections: int = 1
    allowed_ips: tuple[str, ...] = ()
    system_type: str = ""
    dedup_window: int = 60
    blacklist: frozenset = frozenset()
    forbidden_words: tuple[str, ...] = ()
    balance: Decimal | None = None
    tariff: dict = field(default_factory=dict)
    dlr_url: str = ""
    mo_url: str = ""
    callback_method: str = "post"
    allowed_senders: frozenset = frozenset()
    quiet_hours: str = ""
    timezone: str = "UTC"
    default_region: str = "RU"

    def ip_allowed(self, address: str) -> bool:
        """True if ``address`` may connect (an empty allowlist allows all)."""
        if not self.allowed_ips:
            return True
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(n, strict=False) for n in self.allowed_ips)

    def price_for(self, destination: str) -> Decimal | None:
        """The price of one part to ``destination``: the longest matching tariff prefix, or None."""
        number = destination.lstrip("+")
        best = None
        for prefix, price in self.tariff.items():
            if number.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, price)
        return None if best is None else best[1]

    @property
    def quiet_spec(self) -> str:
        """``HH:MM-HH:MM/Zone`` for messages of this account, or '' without quiet hours."""
        return f"{self.quiet_hours}/{self.timezone}" if self.quiet_hours else ""


_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, r = divmod(n, 36)
        digits.append(_ALPHABET[r])
    return "".join(reversed(digits))


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


class IdGenerator:
    """Message ids: unique across nodes sharing a Redis, 17 ASCII characters, sortable by time.

    ``<ms since epoch, 9 base36 digits><node number, 4><counter, 4>``.  The node
    number comes once per process from an INCR in Redis, so two live processes
    never share one (it wraps after 1.6 million process starts); the counter
    wraps after 1.6 million ids, so ids stay unique unless one process makes
    that many in one millisecond.  From 1994 to 2058 the second character is a
    letter, so an id never looks like a number.
    """

    def __init__(self, node_number: int):
        self.node_number = node_number
        self._node = _base36(node_number % 36 ** 4, 4)
        self._counter = itertools.count()
        self._ms = -1
        self._prefix = ""

    def next(self, now_ms: int) -> str:
        if now_ms != self._ms:  # ids of one millisecond share their prefix
            self._ms, self._prefix = now_ms, _base36(now_ms, 9) + self._node
        n = next(self._counter) % 1679616  # 36 ** 4
        return self._prefix + _PAIRS[n // 1296] + _PAIRS[n % 1296]
