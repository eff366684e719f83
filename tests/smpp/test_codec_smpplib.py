"""Interoperability with an independent implementation: smpplib builds, we decode; and back."""

import pytest
from smpplib import smpp

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import CommandId as C
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.pdu import PDU


class FixedSequence:
    """The part of an smpplib client that make_pdu/parse_pdu use: the sequence number."""

    def __init__(self, sequence):
        self.sequence = sequence

    def next_sequence(self):
        return self.sequence


def built_by_smpplib(command, sequence=7, **params):
    return smpp.make_pdu(command, client=FixedSequence(sequence), **params).generate()


def parsed_by_smpplib(data):
    return smpp.parse_pdu(data, client=FixedSequence(0))


_SUBMIT = {
    "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "Shop",
    "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "79991234567",
    "esm_class": 0, "protocol_id": 0, "priority_flag": 0, "schedule_delivery_time": "",
    "validity_period": "", "registered_delivery": 1, "replace_if_present_flag": 0,
    "data_coding": 0, "sm_default_msg_id": 0, "short_message": b"Hello",
}


@pytest.mark.parametrize("command", ["bind_transmitter", "bind_receiver", "bind_transceiver"])
def test_smpplib_bind_decodes(command):
    data = built_by_smpplib(command, system_id="sys", password="secret", system_type="OTA",
                            interface_version=0x34, addr_ton=1, addr_npi=1, address_range="")
    assert decode(data) == PDU(C[command], 7, 0, {
        "system_id": "sys", "password": "secret", "system_type": "OTA",
        "interface_version": 0x34, "addr_ton": 1, "addr_npi": 1, "address_range": ""})


def test_smpplib_submit_sm_with_tlvs_decodes():
    data = built_by_smpplib("submit_sm", **_SUBMIT, user_message_reference=42,
                            sar_msg_ref_num=300, sar_total_segments=2, sar_segment_seqnum=1)
    assert decode(data) == PDU(C.submit_sm, 7, 0, _SUBMIT, {
        "user_message_reference": 42, "sar_msg_ref_num": 300, "sar_total_segments": 2,
        "sar_segment_seqnum": 1})


def test_smpplib_deliver_sm_receipt_decodes():
    text = b"id:42 sub:001 dlvrd:001 stat:DELIVRD err:000"
    data = built_by_smpplib("deliver_sm", **{**_SUBMIT, "esm_class": 4, "short_message": text},
                            receipted_message_id="42", message_state=2,
                            network_error_code=b"\x03\x00\x00")
    pdu = decode(data)
    assert pdu.params["esm_class"] == 4 and pdu.params["short_message"] == text
    assert pdu.tlvs == {"receipted_message_id": "42", "message_state": 2,
                        "network_error_code": b"\x03\x00\x00"}


@pytest.mark.parametrize("command", ["enquire_link", "enquire_link_resp", "unbind",
                                     "unbind_resp", "generic_nack"])
def test_smpplib_header_only_pdus_decode(command):
    assert decode(built_by_smpplib(command)) == PDU(C[command], 7)


@pytest.mark.parametrize("command", ["submit_sm_resp", "deliver_sm_resp", "data_sm_resp"])
def test_smpplib_message_resps_decode(command):
    assert decode(built_by_smpplib(command, message_id="abc")) == PDU(
        C[command], 7, 0, {"message_id": "abc"})


def test_smpplib_bind_resp_decodes():
    data = built_by_smpplib("bind_transceiver_resp", system_id="SMSC")
    assert decode(data) == PDU(C.bind_transceiver_resp, 7, 0, {"system_id": "SMSC"})


@pytest.mark.parametrize("command", ["bind_transmitter", "bind_receiver", "bind_transceiver"])
def test_our_bind_parses_in_smpplib(command):
    parsed = parsed_by_smpplib(encode(PDU(C[command], 3, 0, {
        "system_id": "sys", "password": "secret", "system_type": "", "interface_version": 0x34,
        "addr_ton": 0, "addr_npi": 0, "address_range": "79*"})))
    assert (parsed.command, parsed.sequence) == (command, 3)
    assert (parsed.system_id, parsed.password, parsed.address_range) == (
        b"sys", b"secret", b"79*")
    assert parsed.interface_version == 0x34


def test_our_submit_sm_with_tlvs_parses_in_smpplib():
    parsed = parsed_by_smpplib(encode(PDU(C.submit_sm, 9, 0, {
        **_SUBMIT, "esm_class": 0x40, "data_coding": 8,
        "short_message": bytes.fromhex("050003070201") + "Привет".encode("utf-16-be")},
        {"user_message_reference": 5, "source_port": 1234, "message_payload": b""})))
    assert (parsed.command, parsed.sequence) == ("submit_sm", 9)
    assert parsed.source_addr == b"Shop" and parsed.destination_addr == b"79991234567"
    assert parsed.esm_class == 0x40 and parsed.data_coding == 8
    assert parsed.short_message[6:].decode("utf-16-be") == "Привет"
    assert (parsed.user_message_reference, parsed.source_port) == (5, 1234)


def test_our_deliver_sm_receipt_parses_in_smpplib():
    parsed = parsed_by_smpplib(encode(PDU(C.deliver_sm, 4, 0, {
        **_SUBMIT, "esm_class": 4, "short_message": b"id:42 stat:DELIVRD"},
        {"receipted_message_id": "42", "message_state": 2,
         "network_error_code": b"\x03\x00\x01"})))
    assert parsed.command == "deliver_sm" and parsed.esm_class == 4
    assert parsed.short_message == b"id:42 stat:DELIVRD"
    assert parsed.receipted_message_id == b"42"
    assert parsed.message_state == 2
    assert parsed.network_error_code == b"\x03\x00\x01"


@pytest.mark.parametrize("command", ["submit_sm_resp", "deliver_sm_resp", "data_sm_resp"])
def test_our_message_resps_parse_in_smpplib(command):
    parsed = parsed_by_smpplib(encode(PDU(C[command], 11, 0, {"message_id": "m-1"})))
    assert (parsed.command, parsed.sequence, parsed.status) == (command, 11, 0)
    assert parsed.message_id == b"m-1"


def test_our_error_resp_without_body_parses_in_smpplib():
    parsed = parsed_by_smpplib(encode(PDU(C.submit_sm_resp, 12, S.ESME_RTHROTTLED)))
    assert (parsed.command, parsed.status) == ("submit_sm_resp", S.ESME_RTHROTTLED)


@pytest.mark.parametrize("command", ["enquire_link", "enquire_link_resp", "unbind",
                                     "unbind_resp", "generic_nack"])
def test_our_header_only_pdus_parse_in_smpplib(command):
    parsed = parsed_by_smpplib(encode(PDU(C[command], 13, S.ESME_ROK)))
    assert (parsed.command, parsed.sequence) == (command, 13)
