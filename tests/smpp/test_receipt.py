"""Delivery receipt and HLR result texts, and the receipt deliver_sm."""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import CommandId, EsmClass, MessageState
from gateway.smpp.receipt import (
    HlrResult, Receipt, ReceiptError, format_receipt, message_id_variants,
    network_error_code, parse_hlr, parse_network_error_code, parse_receipt,
    parse_receipt_pdu, receipt_deliver_sm,
)

SUBMIT = datetime.datetime(2024, 1, 15, 12, 30)
DONE = datetime.datetime(2024, 1, 15, 12, 31)


def test_receipt_text_has_the_standard_layout():
    receipt = Receipt(id="a1b2", stat="DELIVRD", submit_date=SUBMIT, done_date=DONE,
                      text="Your code is 4711. Do not share it")
    assert format_receipt(receipt) == (
        "id:a1b2 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 "
        "stat:DELIVRD err:000 text:Your code is 4711. D")


def test_undelivered_receipt_counts_zero_delivered():
    text = Receipt(id="1", stat="UNDELIV", err="011", text="").format()
    assert "dlvrd:000" in text and "err:011" in text


def test_standard_receipt_parses():
    receipt = parse_receipt(b"id:0123456789 sub:001 dlvrd:001 submit date:2401151230 "
                            b"done date:2401151231 stat:DELIVRD err:000 text:Hello")
    assert receipt == Receipt(id="0123456789", stat="DELIVRD", err="000", sub=1, dlvrd=1,
                              submit_date=SUBMIT, done_date=DONE, text="Hello")
    assert receipt.message_state == MessageState.DELIVERED


@pytest.mark.parametrize("text, expected", [
    ("id:42 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD"
     " err:000", {"text": None}),
    ("ID:42 SUB:001 DLVRD:001 SUBMIT DATE:2401151230 DONE DATE:2401151231 STAT:delivrd"
     " ERR:000 TEXT:hi", {"stat": "DELIVRD", "text": "hi"}),
    ("id:42 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD"
     " err:000 Text:hi", {"text": "hi"}),
    ("id:1A2B3C4D sub:001 dlvrd:001 submit date:2401151230 done date:2401151231"
     " stat:DELIVRD err:000 text:", {"id": "1A2B3C4D", "text": ""}),
    ("id:42 sub:001 dlvrd:001 submit date:240115123005 done date:240115123107"
     " stat:DELIVRD err:000 text:x", {"submit_date": SUBMIT.replace(second=5),
                                      "done_date": DONE.replace(second=7)}),
    ("id:42 submit_date:2401151230 done_date:2401151231 stat:EXPIRED err:000",
     {"sub": None, "dlvrd": None, "submit_date": SUBMIT, "stat": "EXPIRED"}),
    ("id:42 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:UNDELIV"
     " err:0B1 mcc:250 mnc:01 text:a: b c:d", {"extra": {"mcc": "250", "mnc": "01"},
                                              "text": "a: b c:d", "err": "0B1"}),
    ("id:42 stat:ACCEPTD err:000 submit date:0000000000 done date:bogus",
     {"submit_date": None, "done_date": None, "stat": "ACCEPTD"}),
])
def test_receipt_variants_real_smscs_send_parse(text, expected):
    receipt = parse_receipt(text)
    assert receipt.id == expected.get("id", "42")
    for name, value in expected.items():
        assert getattr(receipt, name) == value, name


def test_text_that_is_not_a_receipt_is_refused():
    with pytest.raises(ReceiptError):
        parse_receipt("Hello, how are you?")


@pytest.mark.parametrize("stat, state", [
    ("ENROUTE", MessageState.ENROUTE), ("DELIVRD", MessageState.DELIVERED),
    ("EXPIRED", MessageState.EXPIRED), ("DELETED", MessageState.DELETED),
    ("UNDELIV", MessageState.UNDELIVERABLE), ("ACCEPTD", MessageState.ACCEPTED),
    ("UNKNOWN", MessageState.UNKNOWN), ("REJECTD", MessageState.REJECTED),
    ("DELIVERED", MessageState.DELIVERED), ("whatever", MessageState.UNKNOWN),
])
def test_stat_names_map_to_message_states(stat, state):
    assert Receipt(id="1", stat=stat.upper()).message_state == state
    if state.name != "UNKNOWN" and stat != "DELIVERED":
        assert state.stat == stat


def test_error_code_reads_decimal_or_hex():
    assert Receipt(id="1", stat="UNDELIV", err="011").error_code == 11
    assert Receipt(id="1", stat="UNDELIV", err="00B").error_code == 11
    assert Receipt(id="1", stat="UNDELIV", err="n/a").error_code is None


_dates = st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2099, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF-", min_size=1, max_size=64),
       st.sampled_from([s.stat for s in MessageState]),
       st.integers(0, 999), _dates, _dates,
       st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x44F), max_size=30))
def test_formatted_receipt_parses_back(message_id, stat, err, submitted, done, text):
    receipt = Receipt(id=message_id, stat=stat, err=f"{err:03d}", submit_date=submitted,
                      done_date=done, text=text)
    parsed = parse_receipt(receipt.format())
    assert (parsed.id, parsed.stat, parsed.err, parsed.submit_date, parsed.done_date) == (
        message_id, stat, f"{err:03d}", submitted, done)
    assert parsed.text == text[:20] and parsed.sub == 1


def test_receipt_deliver_sm_carries_esm_class_and_tlvs():
    receipt = Receipt(id="m-77", stat="UNDELIV", err="011", submit_date=SUBMIT,
                      done_date=DONE, text="Привет")
    pdu = receipt_deliver_sm(receipt, source_addr="79990000001", destination_addr="Shop",
                             sequence_number=5)
    assert pdu.command_id == CommandId.deliver_sm and pdu.sequence_number == 5
    assert pdu.params["esm_class"] == EsmClass.TYPE_DELIVERY_RECEIPT
    assert pdu.params["short_message"].endswith(b"text:??????")
    assert pdu.tlvs == {"receipted_message_id": "m-77",
                        "message_state": MessageState.UNDELIVERABLE,
                        "network_error_code": b"\x03\x00\x0b"}
    parsed = parse_receipt_pdu(decode(encode(pdu)))
    assert (parsed.id, parsed.stat, parsed.err) == ("m-77", "UNDELIV", "011")
    assert parsed.network_error_code == b"\x03\x00\x0b"


def test_receipt_tlvs_win_over_the_text():
    pdu = receipt_deliver_sm(Receipt(id="text-id", stat="ENROUTE"), source_addr="1",
                             destination_addr="2")
    pdu.tlvs.update(receipted_message_id="tlv-id", message_state=MessageState.DELIVERED)
    parsed = parse_receipt_pdu(pdu)
    assert (parsed.id, parsed.stat) == ("tlv-id", "DELIVRD")


def test_receipt_with_only_tlvs_still_parses():
    pdu = receipt_deliver_sm(Receipt(id="x", stat="DELIVRD"), source_addr="1",
                             destination_addr="2")
    pdu.params["short_message"] = b"delivered"
    assert parse_receipt_pdu(pdu).id == "x"


def test_network_error_code_is_type_then_two_octet_code():
    assert network_error_code(0x1234) == b"\x03\x12\x34"
    assert parse_network_error_code(b"\x03\x12\x34") == (3, 0x1234)


def test_hlr_result_is_urlencoded_and_parses_back():
    result = HlrResult(id="5", stat="1", err="0", imsi="250011234567890",
                       msc="79160000000", mcc="250", mnc="01", cn="Россия", net="MTS PJSC",
                       rcn="", rnet="a+b:c")
    text = result.format()
    assert text.startswith("id:5 stat:1 err:0 imsi:250011234567890 msc:79160000000 "
                           "mcc:250 mnc:01 cn:%D0%A0")
    assert " net:MTS%20PJSC rcn: rnet:a%2Bb%3Ac" in text
    assert parse_hlr(text) == result


def test_hlr_result_from_a_form_encoder_and_with_missing_fields():
    assert parse_hlr("id:7 stat:2 err:1 net:Big+Telecom") == HlrResult(
        id="7", stat="2", err="1", net="Big Telecom")
    with pytest.raises(ReceiptError):
        parse_hlr("stat:2")


def test_message_id_variants_cover_hex_and_decimal():
    assert {"255", "ff", "FF"} <= message_id_variants("255")
    assert "255" in message_id_variants("ff")
    assert message_id_variants("m-1") == {"m-1"}
