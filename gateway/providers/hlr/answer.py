"""What an HLR lookup answers (`HlrAnswer`), and how it fails (`LookupFailed`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gateway.model import State

__all__ = ["HlrAnswer", "LookupFailed", "HLR_FIELDS", "INVALID_NUMBER", "NOT_REACHABLE"]

#: The fields of an HLR result after ``id``, ``stat`` and ``err`` (DESIGN "Channels").
HLR_FIELDS = ("imsi", "msc", "mcc", "mnc", "cn", "net", "rcn", "rnet")
#: Error codes (the result's ``err``): no such number; a number the network says is not reachable.
INVALID_NUMBER = 1
NOT_REACHABLE = 6


class LookupFailed(Exception):
    """No answer now (the vendor is unreachable, overloaded, …): the lookup is retried later."""


@dataclass(frozen=True)
class HlrAnswer:
    """One lookup's answer: the state to report (DELIVERED: a live subscriber), an error code, the fields.

    ``cn``/``net``: country and network of the subscription; ``rcn``/``rnet``:
    where the subscriber roams (empty at home).
    """

    state: State
    error: int = 0
    imsi: str = ""
    msc: str = ""
    mcc: str = ""
    mnc: str = ""
    cn: str = ""
    net: str = ""
    rcn: str = ""
    rnet: str = ""
    reason: str = ""

    def fields(self) -> dict:
        """The HLR result fields, for the receipt's ``extra``."""
        values = asdict(self)
        return {name: str(values[name]) for name in HLR_FIELDS}
