"""Byte-exact PDUs for every command, written by hand from the SMPP 3.4 / 5.0 layouts."""

import pytest

from gateway.smpp.codec import COMMANDS, decode, encode
from gateway.smpp.constants import CommandId as C
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.pdu import PDU, DestAddress, DistributionList, UnsuccessSme


def wire(text):
    """Hex with spaces and ``|`` separators for readability -> bytes."""
    return bytes.fromhex(text.replace("|", " "))


_SUBMIT_DEFAULTS = {
    "esm_class": 0, "protocol_id": 0, "priority_flag": 0, "schedule_delivery_time": "",
    "validity_period": "", "registered_delivery": 0, "replace_if_present_flag": 0,
    "data_coding": 0, "sm_default_msg_id": 0,
}

# (PDU, wire hex): header | mandatory parameters | TLVs.
VECTORS = [
    (PDU(C.bind_transmitter, 1, 0, {
        "system_id": "smppclient1", "password": "password", "system_type": "",
        "interface_version": 0x34, "addr_ton": 0, "addr_npi": 0, "address_range": ""}),
     "0000002a 00000002 00000000 00000001 | 736d7070636c69656e743100 70617373776f726400"
     " 00 34 00 00 00"),
    (PDU(C.bind_receiver, 2, 0, {
        "system_id": "esme", "password": "pw", "system_type": "VMS",
        "interface_version": 0x34, "addr_ton": 1, "addr_npi": 1, "address_range": "^7999"}),
     "00000025 00000001 00000000 00000002 | 65736d6500 707700 564d5300 34 01 01 5e3739393900"),
    (PDU(C.bind_transceiver, 3, 0, {
        "system_id": "a", "password": "", "system_type": "", "interface_version": 0x50,
        "addr_ton": 0, "addr_npi": 0, "address_range": ""}),
     "00000018 00000009 00000000 00000003 | 6100 00 00 50 00 00 00"),
    (PDU(C.bind_transmitter_resp, 1, 0, {"system_id": "SMSC"},
         {"sc_interface_version": 0x34}),
     "0000001a 80000002 00000000 00000001 | 534d534300 | 0210 0001 34"),
    (PDU(C.bind_receiver_resp, 2, S.ESME_RINVPASWD),
     "00000010 80000001 0000000e 00000002"),
    (PDU(C.bind_transceiver_resp, 3, 0, {"system_id": "SMSC"}),
     "00000015 80000009 00000000 00000003 | 534d534300"),
    (PDU(C.outbind, 4, 0, {"system_id": "smsc", "password": "secret"}),
     "0000001c 0000000b 00000000 00000004 | 736d736300 73656372657400"),
    (PDU(C.unbind, 5), "00000010 00000006 00000000 00000005"),
    (PDU(C.unbind_resp, 5), "00000010 80000006 00000000 00000005"),
    (PDU(C.generic_nack, 7, S.ESME_RINVCMDID), "00000010 80000000 00000003 00000007"),
    (PDU(C.enquire_link, 9), "00000010 00000015 00000000 00000009"),
    (PDU(C.enquire_link_resp, 9), "00000010 80000015 00000000 00000009"),
    (PDU(C.submit_sm, 2, 0, {
        **_SUBMIT_DEFAULTS, "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0,
        "source_addr": "Shop", "dest_addr_ton": 1, "dest_addr_npi": 1,
        "destination_addr": "79991234567", "registered_delivery": 1,
        "short_message": b"Hello"}),
     "00000035 00000004 00000000 00000002 | 00 05 00 53686f7000 01 01"
     " 373939393132333435363700 00 00 00 00 00 01 00 00 00 05 48656c6c6f"),
    (PDU(C.submit_sm, 3, 0, {
        **_SUBMIT_DEFAULTS, "service_type": "CMT", "source_addr_ton": 1,
        "source_addr_npi": 1, "source_addr": "79990000001", "dest_addr_ton": 1,
        "dest_addr_npi": 1, "destination_addr": "79990000002", "esm_class": 0x40,
        "priority_flag": 1, "validity_period": "240115123000000+",
        "registered_delivery": 1, "data_coding": 8,
        "short_message": bytes.fromhex("0500032a0201041f0440")},
        {"user_message_reference": 0x17, 0x1401: b"\xaa\xbb\xcc"}),
     "00000061 00000004 00000000 00000003 | 434d5400 01 01 373939393030303030303100"
     " 01 01 373939393030303030303200 40 00 01 00"
     " 3234303131353132333030303030302b00 01 00 08 00 0a 0500032a0201041f0440"
     " | 0204 0002 0017 | 1401 0003 aabbcc"),
    (PDU(C.submit_sm_resp, 2, 0, {"message_id": "a1b2c3"}),
     "00000017 80000004 00000000 00000002 | 61316232633300"),
    (PDU(C.submit_sm_resp, 3, S.ESME_RTHROTTLED), "00000010 80000004 00000058 00000003"),
    (PDU(C.deliver_sm, 6, 0, {
        **_SUBMIT_DEFAULTS, "service_type": "", "source_addr_ton": 1, "source_addr_npi": 1,
        "source_addr": "79991234567", "dest_addr_ton": 5, "dest_addr_npi": 0,
        "destination_addr": "Shop", "esm_class": 4, "short_message": b"id:42 stat:DELIVRD"},
        {"receipted_message_id": "42", "message_state": 2,
         "network_error_code": b"\x03\x00\x00"}),
     "00000055 00000005 00000000 00000006 | 00 01 01 373939393132333435363700 05 00"
     " 53686f7000 04 00 00 00 00 00 00 00 00 12 69643a34322073746174 3a44454c49565244"
     " | 001e 0003 343200 | 0427 0001 02 | 0423 0003 030000"),
    (PDU(C.deliver_sm_resp, 6, 0, {"message_id": ""}),
     "00000011 80000005 00000000 00000006 | 00"),
    (PDU(C.data_sm, 10, 0, {
        "service_type": "", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "123",
        "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "456", "esm_class": 0,
        "registered_delivery": 1, "data_coding": 0}, {"message_payload": b"hi"}),
     "00000026 00000103 00000000 0000000a | 00 01 01 31323300 01 01 34353600 00 01 00"
     " | 0424 0002 6869"),
    (PDU(C.data_sm_resp, 10, 0, {"message_id": "x"}),
     "00000012 80000103 00000000 0000000a | 7800"),
    (PDU(C.query_sm, 11, 0, {
        "message_id": "42", "source_addr_ton": 1, "source_addr_npi": 1,
        "source_addr": "79991234567"}),
     "00000021 00000003 00000000 0000000b | 343200 01 01 373939393132333435363700"),
    (PDU(C.query_sm_resp, 11, 0, {
        "message_id": "42", "final_date": "240115123100000+", "message_state": 2,
        "error_code": 0}),
     "00000026 80000003 00000000 0000000b | 343200 3234303131353132333130303030302b00"
     " 02 00"),
    (PDU(C.cancel_sm, 12, 0, {
        "service_type": "", "message_id": "42", "source_addr_ton": 1, "source_addr_npi": 1,
        "source_addr": "1", "dest_addr_ton": 1, "dest_addr_npi": 1,
        "destination_addr": "2"}),
     "0000001c 00000008 00000000 0000000c | 00 343200 01 01 3100 01 01 3200"),
    (PDU(C.cancel_sm_resp, 12), "00000010 80000008 00000000 0000000c"),
    (PDU(C.replace_sm, 13, 0, {
        "message_id": "42", "source_addr_ton": 0, "source_addr_npi": 0, "source_addr": "",
        "schedule_delivery_time": "", "validity_period": "", "registered_delivery": 1,
        "sm_default_msg_id": 0, "short_message": b"new"}),
     "0000001e 00000007 00000000 0000000d | 343200 00 00 00 00 00 01 00 03 6e6577"),
    (PDU(C.replace_sm_resp, 13), "00000010 80000007 00000000 0000000d"),
    (PDU(C.alert_notification, 14, 0, {
        "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "79991234567",
        "esme_addr_ton": 0, "esme_addr_npi": 0, "esme_addr": "app"},
        {"ms_availability_status": 0}),
     "00000029 00000102 00000000 0000000e | 01 01 373939393132333435363700 00 00 61707000"
     " | 0422 0001 00"),
    (PDU(C.submit_multi, 15, 0, {
        **_SUBMIT_DEFAULTS, "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0,
        "source_addr": "Shop",
        "dest_address": [DestAddress(1, 1, "79990000001"), DistributionList("friends")],
        "short_message": b"hi"}),
     "0000003d 00000021 00000000 0000000f | 00 05 00 53686f7000 02"
     " 01 01 01 373939393030303030303100 02 667269656e647300"
     " 00 00 00 00 00 00 00 00 00 02 6869"),
    (PDU(C.submit_multi_resp, 15, 0, {
        "message_id": "m1",
        "unsuccess_sme": [UnsuccessSme(1, 1, "79990000001", S.ESME_RINVDSTADR)]}),
     "00000026 80000021 00000000 0000000f | 6d3100 01 01 01 373939393030303030303100"
     " 0000000b"),
    (PDU(C.broadcast_sm, 16, 0, {
        "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "Shop",
        "message_id": "", "priority_flag": 0, "schedule_delivery_time": "",
        "validity_period": "", "replace_if_present_flag": 0, "data_coding": 0,
        "sm_default_msg_id": 0},
        {"broadcast_area_identifier": [b"\x00\x01\x02"],
         "broadcast_content_type": b"\x01\x00\x01", "broadcast_rep_num": 1,
         "broadcast_frequency_interval": b"\x08\x00\x05", "message_payload": b"hi"}),
     "00000040 00000111 00000000 00000010 | 00 05 00 53686f7000 00 00 00 00 00 00 00"
     " | 0606 0003 000102 | 0601 0003 010001 | 0604 0002 0001 | 0605 0003 080005"
     " | 0424 0002 6869"),
    (PDU(C.broadcast_sm_resp, 16, 0, {"message_id": "b1"}),
     "00000013 80000111 00000000 00000010 | 623100"),
    (PDU(C.query_broadcast_sm, 17, 0, {
        "message_id": "b1", "source_addr_ton": 5, "source_addr_npi": 0,
        "source_addr": "Shop"}),
     "0000001a 00000112 00000000 00000011 | 623100 05 00 53686f7000"),
    (PDU(C.query_broadcast_sm_resp, 17, 0, {"message_id": "b1"}, {
        "message_state": 1, "broadcast_area_identifier": [b"\x00\x01\x02"],
        "broadcast_area_success": [100]}),
     "00000024 80000112 00000000 00000011 | 623100 | 0427 0001 01 | 0606 0003 000102"
     " | 0608 0001 64"),
    (PDU(C.cancel_broadcast_sm, 18, 0, {
        "service_type": "", "message_id": "b1", "source_addr_ton": 5, "source_addr_npi": 0,
        "source_addr": "Shop"}),
     "0000001b 00000113 00000000 00000012 | 00 623100 05 00 53686f7000"),
    (PDU(C.cancel_broadcast_sm_resp, 18), "00000010 80000113 00000000 00000012"),
]


@pytest.mark.parametrize("pdu, hex_text", VECTORS,
                         ids=[f"{pdu.command_id.name}-{pdu.sequence_number}"
                              for pdu, _ in VECTORS])
def test_vector_encodes_and_decodes_byte_exact(pdu, hex_text):
    data = wire(hex_text)
    assert len(data) == int.from_bytes(data[:4], "big")  # the vector itself is consistent
    assert encode(pdu) == data
    assert decode(data) == pdu


def test_every_command_has_a_vector():
    assert {pdu.command_id for pdu, _ in VECTORS} == set(COMMANDS)


def test_unknown_tlvs_are_reencoded_untouched_in_their_order():
    data = wire("0000002a 80000004 00000000 00000001 | 6100 | 1402 0001 ff"
                " | 001d 0003 6f6b00 | 1401 0000 | 3fff 0004 deadbeef")
    pdu = decode(data)
    assert list(pdu.tlvs) == [0x1402, "additional_status_info_text", 0x1401, 0x3FFF]
    assert pdu.tlvs[0x1401] == b""
    assert encode(pdu) == data


def test_repeated_unknown_tlv_keeps_every_occurrence():
    data = wire("0000001c 80000015 00000000 00000001 | 1500 0002 0102 | 1500 0002 0304")
    pdu = decode(data)
    assert pdu.tlvs == {0x1500: [b"\x01\x02", b"\x03\x04"]}
    assert encode(pdu) == data


def test_receipted_message_id_without_terminating_nul_is_accepted():
    data = wire("0000001b 80000015 00000000 00000001 | 001e 0007 61626364656667")
    assert decode(data).tlvs == {"receipted_message_id": "abcdefg"}


def test_successful_resp_without_body_decodes_with_empty_params():
    # Several SMSCs send deliver_sm_resp / bind_*_resp as a bare header.
    pdu = decode(wire("00000010 80000005 00000000 00000001"))
    assert pdu.command_id == C.deliver_sm_resp and pdu.params == {}


def test_error_resp_with_params_keeps_its_body():
    pdu = PDU(C.submit_sm_resp, 1, S.ESME_RSYSERR, {"message_id": "x"})
    assert encode(pdu) == wire("00000012 80000004 00000008 00000001 | 7800")


def test_missing_params_encode_as_null_values():
    assert encode(PDU(C.query_sm, 1)) == wire("00000014 00000003 00000000 00000001"
                                              " | 00 00 00 00")
