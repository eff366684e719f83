"""Receipts and MO messages from the SMSC: ids in any spelling, states, errors, long MO."""

from __future__ import annotations

from twisted.internet import defer, task

from gateway.model import State
from gateway.providers.smpp_incoming import IdSpellings, IncomingHandler, is_receipt
from gateway.smpp.constants import CommandId, CommandStatus, EsmClass
from gateway.smpp.pdu import PDU
from gateway.smpp.receipt import network_error_code
from gateway.smpp.split import SplitMode, split_message
from tests.providers.support import RecordingSink

TEXT = "id:{id} sub:001 dlvrd:000 submit date:2506151506 done date:2506151507 stat:{stat} err:{err} text:hi"


def receipt(text_id="1a2b", stat="DELIVRD", err="000", tlvs=None, command=CommandId.deliver_sm):
    body = TEXT.format(id=text_id, stat=stat, err=err).encode()
    params = {"esm_class": EsmClass.TYPE_DELIVERY_RECEIPT, "short_message": body}
    return PDU(command, 1, params=params, tlvs=tlvs or {})


def handler(sink, **kw):
    return IncomingHandler("up", sink, task.Clock(), **kw)


def test_receipt_detection():
    assert is_receipt(receipt())
    assert is_receipt(PDU(CommandId.deliver_sm, params={"esm_class": 0}, tlvs={"receipted_message_id": "x"}))
    assert not is_receipt(PDU(CommandId.deliver_sm, params={"esm_class": EsmClass.UDHI}))


def test_tlvs_win_over_the_text():
    sink = RecordingSink()
    tlvs = {"receipted_message_id": "ABC", "message_state": 5, "network_error_code": network_error_code(34)}
    d = handler(sink).handle(None, receipt(text_id="999", stat="DELIVRD", tlvs=tlvs))
    assert d.result == CommandStatus.ESME_ROK
    assert sink.reports == [("up", "ABC", State.UNDELIVERABLE, 34)]


def test_text_only_receipt():
    sink = RecordingSink()
    handler(sink).handle(None, receipt(text_id="77", stat="EXPIRED", err="012"))
    assert sink.reports == [("up", "77", State.EXPIRED, 12)]


def test_data_sm_receipt_with_payload():
    sink = RecordingSink()
    pdu = PDU(CommandId.data_sm, 1, params={"esm_class": EsmClass.TYPE_DELIVERY_RECEIPT},
              tlvs={"message_payload": TEXT.format(id="5", stat="REJECTD", err="001").encode()})
    handler(sink).handle(None, pdu)
    assert sink.reports == [("up", "5", State.REJECTED, 1)]


def test_hlr_result_in_a_receipt_is_passed_on_as_extra():
    sink = RecordingSink()
    text = b"id:855469 stat:DELIVRD err:000 imsi:250023012345678 msc:79010000000 mcc:250 mnc:2 " \
           b"cn:Russia net:MegaFon rcn: rnet:"
    pdu = PDU(CommandId.deliver_sm, 1, params={"esm_class": EsmClass.TYPE_DELIVERY_RECEIPT, "short_message": text})
    handler(sink).handle(None, pdu)
    assert sink.reports == [("up", "855469", State.DELIVERED, 0)]
    assert sink.extras == [{"hlr": {"imsi": "250023012345678", "msc": "79010000000", "mcc": "250", "mnc": "2",
                                    "cn": "Russia", "net": "MegaFon", "rcn": "", "rnet": ""}}]


def test_spellings_decimal_text_for_hex_resp_is_learnt():
    spellings = IdSpellings("auto")
    first = [value for _, value in spellings.candidates(None, "43968")]
    assert first[:2] == ["43968", "abc0"]
    spellings.matched(("text", "decimal_to_hex"))
    assert [value for _, value in spellings.candidates(None, "43969")][0] == "abc1"


def test_spellings_tlv_then_text_and_case():
    spellings = IdSpellings("auto")
    values = [value for _, value in spellings.candidates("1A2B", "6699")]
    assert values[:3] == ["1A2B", "6699", "1a2b"]
    parsed = []
    lazy = spellings.candidates("1A2B", lambda: parsed.append(1) or "6699")
    assert next(lazy)[1] == "1A2B" and parsed == []  # the text is read only when needed
    assert list(IdSpellings("as_is").candidates("1A2B", "6699")) == [(("tlv", "same"), "1A2B"), (("text", "same"), "6699")]


def test_receipt_for_unknown_id_is_still_acknowledged():
    sink = RecordingSink(known=set())
    h = handler(sink)
    d = h.handle(None, receipt(text_id="42"))
    assert d.result == CommandStatus.ESME_ROK and h.unmatched == 1
    assert sink.calls == ["42", "2a", "2A", "66"]


def test_receipt_without_any_id_is_acknowledged():
    sink = RecordingSink()
    pdu = PDU(CommandId.deliver_sm, 1, params={"esm_class": EsmClass.TYPE_DELIVERY_RECEIPT,
                                                "short_message": b"stat:DELIVRD err:000"})
    assert handler(sink).handle(None, pdu).result == CommandStatus.ESME_ROK and sink.calls == []


def test_sink_failure_is_rx_t_appn():
    sink = RecordingSink(fail_reports=1)
    assert handler(sink).handle(None, receipt()).result == CommandStatus.ESME_RX_T_APPN


def mo_parts(text, mode=SplitMode.UDH8):
    return [PDU(CommandId.deliver_sm, n, params={
        "source_addr": "79001112233", "destination_addr": "1234", "esm_class": s.esm_class,
        "data_coding": s.data_coding, "short_message": s.short_message}, tlvs=dict(s.tlvs))
        for n, s in enumerate(split_message(text, None, mode, reference=9), 1)]


def test_long_mo_in_any_order_is_delivered_once_whole():
    sink = RecordingSink()
    h = handler(sink)
    text = "Ответ абонента " * 10
    parts = mo_parts(text, SplitMode.SAR)
    for pdu in reversed(parts):
        assert h.handle(None, pdu).result == CommandStatus.ESME_ROK
    [mo] = sink.mo
    assert mo["text"] == text and mo["extra"] == {"parts": len(parts)} and mo["data_coding"] == 8


def test_long_mo_the_sink_could_not_take_is_delivered_when_its_last_part_comes_again():
    sink = RecordingSink()
    h = handler(sink)
    first, second = mo_parts("y" * 200)
    sink.deliver_mo = lambda *a, **k: defer.fail(ConnectionError("store down"))
    assert h.handle(None, first).result == CommandStatus.ESME_ROK
    assert h.handle(None, second).result == CommandStatus.ESME_RX_T_APPN
    del sink.deliver_mo  # the store is back; the SMSC sends the refused part again
    assert h.handle(None, second).result == CommandStatus.ESME_ROK
    assert [mo["text"] for mo in sink.mo] == ["y" * 200]


def test_incomplete_long_mo_is_delivered_marked_after_the_timeout():
    sink = RecordingSink()
    clock = task.Clock()
    h = IncomingHandler("up", sink, clock, mo_timeout=60)
    first, _, third = mo_parts("z" * 400)
    h.handle(None, first)
    h.handle(None, third)
    clock.advance(59)
    assert sink.mo == []
    clock.advance(2)
    [mo] = sink.mo
    assert mo["extra"] == {"parts": 3, "incomplete": True, "received": [1, 3]}
    assert mo["text"] == "z" * (153 + 94)  # parts 1 and 3


def test_binary_mo_is_kept_raw():
    sink = RecordingSink()
    pdu = PDU(CommandId.deliver_sm, 1, params={"source_addr": "1", "destination_addr": "2", "data_coding": 4,
                                                "short_message": b"\x00\xff"})
    handler(sink).handle(None, pdu)
    assert sink.mo[0]["raw"] == b"\x00\xff" and sink.mo[0]["text"] == ""
