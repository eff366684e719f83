"""
Archive records: a stored `Message` as the JSON object (and CSV row) that the
admin API, the console, the exports and node sync all use, and back.

A record's ``key`` is its archive member: the message id for a message of this
gateway, ``{id}@{origin}`` for one pulled from the node named ``origin``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from gateway.model import Direction, Message, State

__all__ = ["record_json", "message_from_record", "history_words", "csv_row", "CSV_COLUMNS",
           "iso", "day_of", "ms_of_id", "id_prefix", "BadRecord"]

CSV_COLUMNS = ("key", "id", "created_at", "direction", "account", "from", "to", "channel", "state",
               "error", "provider", "origin", "parts", "text", "comment")

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
DAY_MS = 86_400_000


class BadRecord(ValueError):
    """A record (from another node's feed) that cannot be turned into a message."""


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def id_prefix(ms: int) -> str:
    """The 9 base-36 characters every message id created at ``ms`` starts with."""
    digits = []
    for _ in range(9):
        ms, r = divmod(ms, 36)
        digits.append(_ALPHABET[r])
    return "".join(reversed(digits))


def ms_of_id(member: str) -> int | None:
    """The creation time encoded in a message id (or archive key); None if it has none."""
    try:
        return int(member[:9], 36) if len(member) >= 9 else None
    except ValueError:
        return None


def day_of(ms: int) -> int:
    """The UTC day number (days since the epoch) of a time."""
    return ms // DAY_MS


def origin_of(key: str, local: str) -> str:
    """The node a record came from: the part after ``@``, else this node."""
    _, at, origin = key.partition("@")
    return origin if at else local


def record_json(key: str, message: Message, local_node: str = "") -> dict:
    """The JSON object of one archived message (``key`` as in the module docstring)."""
    return {
        "key": key, "id": message.id, "origin": origin_of(key, message.node or local_node),
        "node": message.node, "direction": message.direction.value, "account": message.account,
        "from": message.source, "to": message.destination, "channel": message.channel,
        "text": message.text, "comment": message.comment, "parts": message.parts,
        "state": message.state.name, "stat": message.state.stat, "error": message.error,
        "provider": message.provider, "created": message.created, "created_at": iso(message.created),
        "client_ref": message.client_ref, "receipt": message.extra.get("receipt"),
        "history": [{"state": s.name, "at": at, "at_iso": iso(at)} for s, at in message.history],
    }


def history_words(history) -> str:
    """A record's ``history`` list as the ``state@ms`` words of the message hash."""
    return " ".join(f"{int(State[h['state']])}@{int(h['at'])}" for h in history)


def message_from_record(record: dict) -> Message:
    """The `Message` a record describes (what node sync stores); `BadRecord` if it is not one."""
    try:
        message = Message(
            id=str(record["id"]), account=str(record["account"]), destination=str(record["to"]),
            source=str(record["from"]), channel=str(record["channel"]),
            direction=Direction(record["direction"]), text=str(record["text"]),
            comment=str(record.get("comment", "")), parts=int(record.get("parts", 1)),
            node=str(record.get("node", "")), created=int(record["created"]),
            client_ref=str(record.get("client_ref", "")), state=State[record["state"]],
            provider=str(record.get("provider", "")), error=int(record.get("error", 0)),
        )
        message.history = [(State[h["state"]], int(h["at"])) for h in record.get("history", ())]
        if isinstance(record.get("receipt"), dict):
            message.extra = {"receipt": record["receipt"]}
    except (KeyError, TypeError, ValueError) as e:
        raise BadRecord(f"not an archive record ({type(e).__name__}: {e})") from None
    if not message.id or "@" in message.id or ms_of_id(message.id) is None:
        raise BadRecord(f"bad message id {message.id!r}")
    return message


def csv_row(record: dict) -> list:
    """The CSV cells of a record, in `CSV_COLUMNS` order."""
    return [record[c] for c in CSV_COLUMNS]
