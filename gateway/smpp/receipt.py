"""Delivery receipt (DLR) and HLR result texts, and the deliver_sm that carries a receipt.

The DLR text is the de-facto format of SMPP 3.4 appendix B::

    id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
    err:000 text:<first 20 characters>

:func:`parse_receipt` accepts what real SMSCs send instead: keys in any case (``Text:``),
``submit_date``, dates with seconds or a four-digit year, hex ids, missing ``sub`` /
``dlvrd`` / ``text``, and extra fields (kept in ``Receipt.extra``).

The HLR result (channel ``__HLR__``) comes back as a receipt too::

    id:<id> stat:<s> err:<e> imsi:<> msc:<> mcc:<> mnc:<> cn:<> net:<> rcn:<> rnet:<>

with every value URL-encoded.
"""

import dataclasses
import datetime
import functools
import re
import struct
from urllib.parse import quote, unquote_plus

from gateway.smpp.constants import CommandId, EsmClass, MessageState, NetworkType
from gateway.smpp.pdu import PDU

__all__ = [
    "Receipt", "ReceiptError", "HlrResult", "format_receipt", "receipt_text", "parse_receipt",
    "parse_receipt_pdu", "receipt_deliver_sm", "text_deliver_sm", "format_hlr", "parse_hlr",
    "network_error_code", "parse_network_error_code", "message_id_variants",
]

_DATE_FORMAT = "%y%m%d%H%M"
_NETWORK_ERROR_CODE = struct.Struct(">BH")
_KEY = re.compile(r"(?<![\w])(submit[ _]?date|done[ _]?date|[a-z_][a-z0-9_]*)[ \t]*:",
                  re.IGNORECASE)


class ReceiptError(ValueError):
    """Text that is not a delivery receipt (neither ``id:`` nor ``stat:`` in it)."""


@dataclasses.dataclass(frozen=True)
class Receipt:
    """A parsed or to-be-formatted delivery receipt."""

    id: str | None
    stat: str  # short state name as sent: DELIVRD, UNDELIV, ... (upper case)
    err: str = "000"
    sub: int | None = 1
    dlvrd: int | None = None  # None when formatting: 1 if DELIVRD else 0
    submit_date: datetime.datetime | None = None
    done_date: datetime.datetime | None = None
    text: str | None = ""
    extra: dict = dataclasses.field(default_factory=dict)
    network_error_code: bytes | None = None  # from the TLV, when parsed from a PDU

    @property
    def message_state(self):
        """The :class:`MessageState` matching ``stat`` (UNKNOWN for unknown words)."""
        return MessageState.from_stat(self.stat)

    @property
    def error_code(self):
        """``err`` as an int (decimal, or hex when it has hex letters), None if neither."""
        for base in (10, 16):
            try:
                return int(self.err, base)
            except (TypeError, ValueError):
                continue
        return None

    def format(self):
        """The DLR text for this receipt."""
        return format_receipt(self)


@functools.lru_cache(maxsize=256)  # receipts of one minute share their dates
def _date(value):
    return "0000000000" if value is None else value.strftime(_DATE_FORMAT)


def format_receipt(receipt):
    """``id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…``."""
    dlvrd = receipt.dlvrd
    if dlvrd is None:
        dlvrd = 1 if receipt.message_state == MessageState.DELIVERED else 0
    err = receipt.err if isinstance(receipt.err, str) else f"{receipt.err:03d}"
    return receipt_text(receipt.id, receipt.stat, err, receipt.sub, dlvrd, receipt.submit_date,
                        receipt.done_date, receipt.text)


def receipt_text(id, stat, err, sub, dlvrd, submit_date, done_date, text):
    """:func:`format_receipt` of fields given one by one (``err`` already a string).

    For the gateway's own receipts, one per message: no :class:`Receipt` to build first.
    """
    return (f"id:{id} sub:{sub or 0:03d} dlvrd:{dlvrd:03d} "
            f"submit date:{_date(submit_date)} done date:{_date(done_date)} "
            f"stat:{stat} err:{err} text:{(text or '')[:20]}")


def _parse_date(value):
    """YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss; two-digit years are 20YY."""
    digits = value.strip()
    if not digits.isdigit() or len(digits) not in (10, 12, 14):
        return None
    if len(digits) < 14:
        digits = "20" + digits
    try:
        return datetime.datetime.strptime(
            digits, "%Y%m%d%H%M%S" if len(digits) == 14 else "%Y%m%d%H%M")
    except ValueError:
        return None


def _parse_count(value):
    value = value.strip()
    return int(value) if value.isdigit() else None


def _fields(text):
    """``[(key, value)]`` of a ``key:value key:value`` text; ``text:`` takes the rest."""
    fields, matches = [], list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        key = re.sub(r"[ _]", " ", match.group(1).lower())
        if key == "text":
            fields.append((key, text[match.end():]))
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields.append((key, text[match.end():end].strip()))
    return fields


def parse_receipt(text):
    """Parse DLR text (``str`` or ``bytes``) into a :class:`Receipt`.

    Raises :class:`ReceiptError` when the text has neither an ``id:`` nor a ``stat:``.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    values, extra = {}, {}
    for key, value in _fields(text):
        if key in ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text"):
            values.setdefault(key, value)
        else:
            extra[key] = value
    if "id" not in values and "stat" not in values:
        raise ReceiptError(f"not a delivery receipt: {text[:60]!r}")
    return Receipt(
        id=values.get("id"),
        stat=values.get("stat", "UNKNOWN").upper(),
        err=values.get("err", "000"),
        sub=_parse_count(values["sub"]) if "sub" in values else None,
        dlvrd=_parse_count(values["dlvrd"]) if "dlvrd" in values else None,
        submit_date=_parse_date(values.get("submit date", "")),
        done_date=_parse_date(values.get("done date", "")),
        text=values.get("text"),
        extra=extra,
    )


def parse_receipt_pdu(pdu):
    """The receipt in a deliver_sm / data_sm, TLVs taking precedence over the text.

    receipted_message_id replaces the text's id and message_state its stat; a PDU with
    those TLVs but no parsable text still gives a receipt.
    """
    tlvs = pdu.tlvs
    raw = tlvs.get("message_payload") or pdu.params.get("short_message", b"")
    try:
        receipt = parse_receipt(raw)
    except ReceiptError:
        if "receipted_message_id" not in tlvs and "message_state" not in tlvs:
            raise
        receipt = Receipt(id=None, stat="UNKNOWN", sub=None, text=None)
    changes = {}
    if tlvs.get("receipted_message_id"):
        changes["id"] = tlvs["receipted_message_id"]
    if "message_state" in tlvs:
        try:
            changes["stat"] = MessageState(tlvs["message_state"]).stat
        except ValueError:
            pass
    if "network_error_code" in tlvs:
        changes["network_error_code"] = tlvs["network_error_code"]
    return dataclasses.replace(receipt, **changes) if changes else receipt


def network_error_code(code, network_type=NetworkType.GSM):
    """The 3-octet network_error_code TLV value: network type, then a 2-octet code."""
    return _NETWORK_ERROR_CODE.pack(network_type, code & 0xFFFF)


def parse_network_error_code(value):
    """``(network_type, code)`` from a network_error_code TLV value."""
    return value[0], int.from_bytes(value[1:3], "big")


def receipt_deliver_sm(receipt, *, source_addr, destination_addr, source_addr_ton=1,
                       source_addr_npi=1, dest_addr_ton=1, dest_addr_npi=1,
                       sequence_number=0, network_error=None):
    """The deliver_sm (esm_class 0x04) carrying ``receipt`` to an ESME.

    For a receipt the addresses are swapped: ``source_addr`` is the handset the message
    went to, ``destination_addr`` the sender of the original message. The text is sent
    as ASCII (characters outside it become ``?``) with data_coding 0; the TLVs are
    receipted_message_id, message_state and network_error_code (GSM, code ``err`` unless
    ``network_error`` is given).
    """
    code = receipt.error_code if network_error is None else network_error
    return text_deliver_sm(
        receipt.format(), receipt.id or "", receipt.message_state, code or 0,
        source_addr=source_addr, destination_addr=destination_addr,
        source_addr_ton=source_addr_ton, source_addr_npi=source_addr_npi,
        dest_addr_ton=dest_addr_ton, dest_addr_npi=dest_addr_npi, sequence_number=sequence_number)


def text_deliver_sm(text, receipted_message_id, message_state, network_error, *, source_addr,
                    destination_addr, source_addr_ton=1, source_addr_npi=1, dest_addr_ton=1,
                    dest_addr_npi=1, sequence_number=0):
    """:func:`receipt_deliver_sm` of a receipt already formatted (:func:`receipt_text`)."""
    params = {
        "service_type": "", "source_addr_ton": source_addr_ton,
        "source_addr_npi": source_addr_npi, "source_addr": source_addr,
        "dest_addr_ton": dest_addr_ton, "dest_addr_npi": dest_addr_npi,
        "destination_addr": destination_addr, "esm_class": EsmClass.TYPE_DELIVERY_RECEIPT,
        "protocol_id": 0, "priority_flag": 0, "schedule_delivery_time": "",
        "validity_period": "", "registered_delivery": 0, "replace_if_present_flag": 0,
        "data_coding": 0, "sm_default_msg_id": 0,
        "short_message": text.encode("ascii", "replace"),
    }
    tlvs = {
        "receipted_message_id": receipted_message_id,
        "message_state": message_state,
        "network_error_code": network_error_code(network_error),
    }
    return PDU(CommandId.deliver_sm, sequence_number, 0, params, tlvs)


_HLR_FIELDS = ("id", "stat", "err", "imsi", "msc", "mcc", "mnc", "cn", "net", "rcn", "rnet")


@dataclasses.dataclass(frozen=True)
class HlrResult:
    """An HLR lookup result, as returned in the receipt of an ``__HLR__`` request."""

    id: str
    stat: str
    err: str = "0"
    imsi: str = ""
    msc: str = ""
    mcc: str = ""
    mnc: str = ""
    cn: str = ""  # country name
    net: str = ""  # network (operator) name
    rcn: str = ""  # roaming country name
    rnet: str = ""  # roaming network name

    def format(self):
        """The HLR result text."""
        return format_hlr(self)


def format_hlr(result):
    """The ``id:… stat:… err:… imsi:… … rnet:…`` text, every value URL-encoded."""
    return " ".join(f"{name}:{quote(str(getattr(result, name)), safe='')}"
                    for name in _HLR_FIELDS)


def parse_hlr(text):
    """Parse an HLR result text; unknown fields are ignored, missing ones are empty."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("latin-1")
    values = {}
    for token in text.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if sep and key in _HLR_FIELDS:
            values.setdefault(key, unquote_plus(value))
    if "id" not in values:
        raise ReceiptError(f"not an HLR result: {text[:60]!r}")
    values.setdefault("stat", "")
    return HlrResult(**values)


def message_id_variants(message_id):
    """Spellings under which an SMSC may report ``message_id`` back in a receipt.

    Some SMSCs answer submit_sm_resp with a hex id and put it in decimal in the receipt
    text (or the other way round); match an upstream receipt against all of these.
    """
    variants = {message_id}
    if re.fullmatch(r"[0-9]+", message_id):
        variants.update({format(int(message_id), "x"), format(int(message_id), "X")})
    if re.fullmatch(r"[0-9a-fA-F]+", message_id) and len(message_id) <= 32:
        variants.update({str(int(message_id, 16)), message_id.lower(), message_id.upper()})
    return variants
