"""
Reading what a client asks to send: a submit_sm, data_sm or submit_multi PDU
becomes a `gateway.model.Submit` (plus where it sits in a long message), or a
`SubmitRefused` with the precise command_status.

What is checked here, because it is about the PDU rather than the account:
the encoding (vendor 0x0400 for a data_coding other than 0, 1, 3, 8 or octets
not valid in it), a short_message over 160 octets without UDH or
message_payload (0x0401), short_message and message_payload together, the
destination, priority_flag, and the SMPP time formats of
schedule_delivery_time (ESME_RINVSCHED) and validity_period (ESME_RINVEXPIRY).
Account rules (throughput, duplicates, blacklist, tariff, routing) are the
store's business.
"""

from __future__ import annotations

from typing import NamedTuple

from gateway.model import Submit
from gateway.smpp.binds import BindFlags
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.split import Concat, build_udh, count_parts, is_too_long, message_part, IEI_CONCAT_8, IEI_CONCAT_16
from gateway.smpp.text import TextError, decode_text
from gateway.smpp.times import BadTime, parse_time

__all__ = ["SubmitRefused", "Incoming", "read_submit", "read_text", "MAX_PRIORITY"]

#: priority_flag 0 (bulk) … 4 (SMPP 5.0 allows 4 for ANSI-136 "emergency")
MAX_PRIORITY = 4

# Extra fields kept with the message when they differ from the default (providers read them).
_EXTRA = (("source_addr_ton", "sa_ton"), ("source_addr_npi", "sa_npi"), ("dest_addr_ton", "da_ton"),
          ("dest_addr_npi", "da_npi"), ("protocol_id", "pid"), ("service_type", "svc"))


class SubmitRefused(Exception):
    """A submit that cannot be accepted as it is; ``status`` is the command_status to answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = int(status)
        self.reason = reason


class Incoming(NamedTuple):
    """A decoded submit: the `Submit` and, for one part of a long message, its `Concat`."""

    submit: Submit
    concat: Concat | None


def read_text(payload: bytes, data_coding: int, flags: BindFlags) -> str:
    """The text of ``payload`` in ``data_coding`` (``ISO``: 0 is Latin-1); `SubmitRefused` 0x0400."""
    try:
        return decode_text(payload, data_coding, iso=flags.iso)
    except TextError as e:
        raise SubmitRefused(e.status, str(e)) from None


def read_submit(pdu, flags: BindFlags, now_ms: int, destination: str | None = None) -> Incoming:
    """``pdu`` (submit_sm, data_sm, submit_multi) as a `Submit` to ``destination``
    (default: its destination_addr).  Raises `SubmitRefused`."""
    params, tlvs = pdu.params, pdu.tlvs
    if is_too_long(params, tlvs):
        raise SubmitRefused(CommandStatus.VENDOR_MESSAGE_TOO_LONG,
                            f"short_message of {len(params['short_message'])} octets without UDH or payload")
    if params.get("short_message") and tlvs.get("message_payload"):
        raise SubmitRefused(CommandStatus.ESME_RINVOPTPARAMVAL, "both short_message and message_payload")
    destination = params.get("destination_addr", "") if destination is None else destination
    if not destination:
        raise SubmitRefused(CommandStatus.ESME_RINVDSTADR, "no destination_addr")
    priority = params.get("priority_flag", 0)
    if priority > MAX_PRIORITY:
        raise SubmitRefused(CommandStatus.ESME_RINVPRTFLG, f"priority_flag {priority}")
    data_coding = params.get("data_coding", 0)
    try:
        part = message_part(params, tlvs)
    except TextError as e:
        raise SubmitRefused(e.status, str(e)) from None
    text = read_text(part.payload, data_coding, flags)
    submit = Submit(
        destination=destination, text=text, source=params.get("source_addr", ""), data_coding=data_coding,
        priority=priority, schedule=_time(params, "schedule_delivery_time", now_ms, CommandStatus.ESME_RINVSCHED),
        validity=_validity(pdu, now_ms), registered_delivery=params.get("registered_delivery", 0),
        user_ref=tlvs.get("user_message_reference"), extra=_extra(params, part.udh),
    )
    if part.concat is None:
        submit.parts = _parts(text, data_coding, flags)
    return Incoming(submit, part.concat)


def _time(params, name: str, now_ms: int, status) -> int:
    try:
        return parse_time(params.get(name, ""), now_ms)
    except BadTime as e:
        raise SubmitRefused(status, f"{name}: {e}") from None


def _validity(pdu, now_ms: int) -> int:
    if pdu.command_id == CommandId.data_sm:
        ttl = pdu.tlvs.get("qos_time_to_live")
        return now_ms + ttl * 1000 if ttl else 0
    return _time(pdu.params, "validity_period", now_ms, CommandStatus.ESME_RINVEXPIRY)


def _parts(text: str, data_coding: int, flags: BindFlags) -> int:
    """SMS parts the whole text takes (the tariff counts them)."""
    try:
        return count_parts(text, data_coding, iso=flags.iso)
    except TextError as e:
        raise SubmitRefused(e.status, str(e)) from None


def _extra(params, udh) -> dict:
    extra = {}
    for name, short in _EXTRA:
        value = params.get(name)
        if value:
            extra[short] = value
    if udh is not None:
        others = [(iei, data) for iei, data in udh.elements if iei not in (IEI_CONCAT_8, IEI_CONCAT_16)]
        if others:  # port addressing, WAP push…: the provider puts them back in front of every part
            extra["udh"] = build_udh(others)
    return extra
