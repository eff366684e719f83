"""
What an SMPP connector does with the deliver_sm and data_sm its SMSC sends:
delivery receipts go to the report sink, incoming (MO) messages too.

A PDU is a receipt when its esm_class says so (SMSC delivery receipt 0x04,
intermediate notification 0x20) or it carries receipted_message_id.  Its id is
the receipted_message_id TLV, else the ``id:`` of the text; state and error
come from the message_state / network_error_code TLVs, else the text.

Receipt ids: SMSCs do not agree with themselves on how they spell a message
id.  Many answer submit_sm_resp with a hex id and write it in decimal in the
receipt text (or the other way round), some change the case of hex letters.
With ``receipt_ids = auto`` the connector reports the id as sent first; when
the sink does not know it, it tries the other spellings (hex ↔ decimal, lower
/ upper case, TLV id and text id) and remembers which one matched, so later
receipts of the same SMSC match on the first try.  ``as_is`` reports exactly
what the receipt says.

An MO message in parts (UDH or SAR) is reassembled in memory with the codec's
`Reassembler`; each part is acknowledged as it is held.  Parts still missing
after ``mo_timeout`` seconds: what arrived is delivered, marked incomplete.
"""

from __future__ import annotations

import re

from twisted.internet import defer

from gateway.logs import Logger
from gateway.model import State
from gateway.smpp.constants import CommandStatus, EsmClass, MessageState
from gateway.smpp.reassembly import Reassembler
from gateway.smpp.receipt import ReceiptError, parse_hlr, parse_network_error_code, parse_receipt
from gateway.smpp.split import message_part
from gateway.smpp.text import TextError, decode_text

__all__ = ["IncomingHandler", "is_receipt", "IdSpellings"]

_RECEIPT_TYPES = (EsmClass.TYPE_DELIVERY_RECEIPT, EsmClass.TYPE_INTERMEDIATE_NOTIFICATION)
_HEX = re.compile(r"[0-9a-fA-F]{1,32}")
_DECIMAL = re.compile(r"[0-9]{1,38}")


def is_receipt(pdu) -> bool:
    """True for a deliver_sm / data_sm that carries a delivery receipt."""
    esm_class = pdu.params.get("esm_class", 0)
    return (esm_class & EsmClass.TYPE_MASK) in _RECEIPT_TYPES or "receipted_message_id" in pdu.tlvs


#: message_state → the state recorded (SCHEDULED is still on its way; SKIPPED did not go out)
_STATES = {int(s): s for s in State}
_STATES.update({MessageState.SCHEDULED: State.ENROUTE, MessageState.SKIPPED: State.UNDELIVERABLE})


def _state(message_state: int) -> State:
    return _STATES.get(message_state, State.UNKNOWN)


def _hex_to_decimal(value: str):
    return str(int(value, 16)) if _HEX.fullmatch(value) else None


def _decimal_to_hex(value: str):
    return format(int(value), "x") if _DECIMAL.fullmatch(value) else None


def _decimal_to_upper_hex(value: str):
    return format(int(value), "X") if _DECIMAL.fullmatch(value) else None


#: Spellings of an id, in the order they are tried after the learnt one.
_SPELLINGS = (
    ("same", lambda v: v),
    ("lower", str.lower),
    ("upper", str.upper),
    ("decimal_to_hex", _decimal_to_hex),  # the usual quirk: hex in submit_sm_resp, decimal in the text
    ("decimal_to_upper_hex", _decimal_to_upper_hex),
    ("hex_to_decimal", _hex_to_decimal),
)
_SPELL = dict(_SPELLINGS)


class IdSpellings:
    """The ids to try for a receipt, the spelling that matched last time first."""

    def __init__(self, mode: str = "auto"):
        self.mode = mode
        self.learnt: tuple[str, str] | None = None  # (source, spelling)
        spellings = _SPELLINGS if mode == "auto" else _SPELLINGS[:1]
        self._order = [(source, spelling) for spelling, _ in spellings for source in ("tlv", "text")]

    def candidates(self, tlv_id, text_id):
        """``((source, spelling), id)`` pairs, lazily and without repeats; sources are "tlv" and "text".

        ``text_id`` may be a callable: the receipt text is then parsed only if
        the candidates from the TLV did not match.
        """
        order = self._order if self.learnt is None else [self.learnt, *self._order]
        seen = set()
        for source, spelling in order:
            raw = tlv_id if source == "tlv" else (text_id() if callable(text_id) else text_id)
            if not raw:
                continue
            value = _SPELL[spelling](raw.strip())
            if value and value not in seen:
                seen.add(value)
                yield (source, spelling), value

    def matched(self, how: tuple[str, str]) -> None:
        self.learnt = how


class IncomingHandler:
    """``handle(session, pdu)`` → command_status for the deliver_sm_resp / data_sm_resp."""

    log = Logger()

    def __init__(self, provider: str, sink, clock, *, receipt_ids: str = "auto", iso: bool = False,
                 mo_timeout: float = 300.0):
        self.provider = provider
        self.sink = sink
        self.clock = clock
        self.iso = iso
        self.spellings = IdSpellings(receipt_ids)
        self.reassembler = Reassembler(mo_timeout, clock=clock, on_expired=self._expired)
        self.receipts = 0
        self.unmatched = 0
        self.mo = 0

    def handle(self, session, pdu) -> defer.Deferred:
        if is_receipt(pdu):
            d = self._receipt(pdu)
        else:
            d = self._mo(pdu)
        return d.addErrback(self._sink_failed, pdu)

    def _sink_failed(self, failure, pdu) -> int:
        # ESME_RX_T_APPN: the SMSC keeps the PDU and sends it again later.
        self.log.warn("{provider}: could not hand over a {command}: {error}", provider=self.provider,
                      command=pdu.command_id.name, error=failure.getErrorMessage())
        return CommandStatus.ESME_RX_T_APPN

    # -- receipts

    def _receipt(self, pdu) -> defer.Deferred:
        fields = _ReceiptFields(pdu)
        if fields.tlv_id is None and fields.text is None:
            self.log.warn("{provider}: unreadable receipt acknowledged and dropped: {pdu!r}",
                          provider=self.provider, pdu=pdu)
            return defer.succeed(CommandStatus.ESME_ROK)
        self.receipts += 1
        return self._report(fields, fields.state, fields.error, fields.hlr)

    def _report(self, fields, state: State, error: int, extra: dict | None) -> defer.Deferred:
        """Report under the likeliest id first; the text is read only if the TLV id is unknown."""
        candidates = self.spellings.candidates(fields.tlv_id, lambda: fields.text_id)
        result = self._next(None, candidates, (state, error, extra), [])
        return result if isinstance(result, defer.Deferred) else defer.succeed(result)

    def _next(self, ours, candidates, receipt, tried: list):
        if ours is not None:
            self.spellings.matched(tried[-1][0])
            return CommandStatus.ESME_ROK
        state, error, extra = receipt
        for how, upstream_id in candidates:
            tried.append((how, upstream_id))
            if extra:
                d = self.sink.report(self.provider, upstream_id, state, error, extra=extra)
            else:
                d = self.sink.report(self.provider, upstream_id, state, error)
            return d.addCallback(self._next, candidates, receipt, tried)
        self.unmatched += 1
        self.log.warn("{provider}: receipt for unknown message {ids}", provider=self.provider,
                      ids=[value for _, value in tried])
        return CommandStatus.ESME_ROK

    # -- incoming messages

    def _mo(self, pdu) -> defer.Deferred:
        params = pdu.params
        try:
            part = message_part(params, pdu.tlvs)
        except TextError as e:
            self.log.warn("{provider}: MO with a malformed UDH kept as binary: {error}",
                          provider=self.provider, error=e)
            return self._deliver(params, params.get("short_message", b""), {})
        if part.concat is None:
            return self._deliver(params, part.payload, {})
        c = part.concat
        key = (params.get("source_addr", ""), params.get("destination_addr", ""), c.reference, c.total)
        parts = self.reassembler.add(key, c.total, c.seqnum, (part.payload, params))
        if parts is None:
            return defer.succeed(CommandStatus.ESME_ROK)  # held until the rest arrives
        d = self._deliver(params, b"".join(p for p, _ in parts), {"parts": c.total})
        return d.addErrback(self._put_back, key, c, parts)

    def _put_back(self, failure, key, concat, parts):
        """The sink failed: hold the other parts again, the SMSC sends this one again (ESME_RX_T_APPN)."""
        for number, item in enumerate(parts, 1):
            if number != concat.seqnum:
                self.reassembler.add(key, concat.total, number, item)
        return failure

    def _deliver(self, params, payload: bytes, extra: dict) -> defer.Deferred:
        coding = params.get("data_coding", 0)
        try:
            text, raw = decode_text(payload, coding, iso=self.iso), None
        except TextError:
            text, raw = "", bytes(payload)
        self.mo += 1
        d = self.sink.deliver_mo(self.provider, params.get("source_addr", ""),
                                 params.get("destination_addr", ""), text=text, raw=raw,
                                 data_coding=coding, extra=extra or None)
        return d.addCallback(lambda _: CommandStatus.ESME_ROK)

    def _expired(self, key, parts: dict) -> None:
        """Parts of a long MO that never completed: deliver what arrived, marked incomplete."""
        _, params = next(iter(parts.values()))
        payload = b"".join(parts[n][0] for n in sorted(parts))
        extra = {"parts": key[3], "incomplete": True, "received": sorted(parts)}
        self.log.warn("{provider}: long MO from {source} incomplete after timeout ({got} of {total} parts)",
                      provider=self.provider, source=key[0], got=len(parts), total=key[3])
        self._deliver(params, payload, extra).addErrback(
            lambda f: self.log.failure("{provider}: incomplete MO lost", f, provider=self.provider))


class _ReceiptFields:
    """What a receipt PDU says: TLVs first, the text (parsed when first needed) for the rest."""

    _UNREAD = object()

    def __init__(self, pdu):
        self.pdu = pdu
        self.tlv_id = pdu.tlvs.get("receipted_message_id") or None
        self.raw = pdu.tlvs.get("message_payload") or pdu.params.get("short_message", b"")
        self._text = self._UNREAD

    @property
    def hlr(self) -> dict | None:
        """The result of an HLR lookup (``imsi:… msc:… mcc:…``, seed 002) as ``{"hlr": {field: value}}``."""
        if b"imsi:" not in self.raw:
            return None
        try:
            result = parse_hlr(self.raw)
        except ReceiptError:
            return None
        fields = {k: getattr(result, k) for k in ("imsi", "msc", "mcc", "mnc", "cn", "net", "rcn", "rnet")}
        return {"hlr": fields}

    @property
    def text(self):
        """The parsed receipt text (`gateway.smpp.receipt.Receipt`), None if there is none."""
        if self._text is self._UNREAD:
            raw = self.raw
            try:
                self._text = parse_receipt(raw)
            except ReceiptError:
                self._text = None
        return self._text

    @property
    def text_id(self):
        return self.text.id if self.text is not None else None

    @property
    def state(self) -> State:
        tlvs = self.pdu.tlvs
        if "message_state" in tlvs:
            return _state(tlvs["message_state"])
        return _state(self.text.message_state) if self.text is not None else State.UNKNOWN

    @property
    def error(self) -> int:
        """The network_error_code TLV, else the text's ``err:``."""
        code = self.pdu.tlvs.get("network_error_code")
        if code is not None and len(code) == 3:
            return parse_network_error_code(code)[1]
        return (self.text.error_code or 0) if self.text is not None else 0
