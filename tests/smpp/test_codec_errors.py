"""Malformed PDUs: each gives a PDUError with the status the SMSC answers with."""

import pytest

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import CommandId as C
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU, DestAddress, PDUError


def wire(text):
    return bytes.fromhex(text.replace("|", " "))


def decode_error(hex_text):
    with pytest.raises(PDUError) as caught:
        decode(wire(hex_text))
    return caught.value


def test_command_length_below_header_size_breaks_framing():
    with pytest.raises(PDUError) as caught:
        Framer().feed(wire("0000000a 00000015 00000000 00000001"))
    error = caught.value
    assert (error.status, error.intact) == (S.ESME_RINVCMDLEN, False)
    assert error.response() == PDU(C.generic_nack, 1, S.ESME_RINVCMDLEN)


def test_command_length_above_maximum_breaks_framing():
    with pytest.raises(PDUError) as caught:
        Framer(max_length=1024).feed(wire("00000401 00000004 00000000 00000005"))
    error = caught.value
    assert (error.status, error.intact, error.sequence_number) == (S.ESME_RINVCMDLEN, False, 5)
    assert error.response().command_id == C.generic_nack


def test_command_length_disagreeing_with_data_given_to_decode():
    error = decode_error("00000011 00000015 00000000 00000001")
    assert error.status == S.ESME_RINVCMDLEN


def test_unknown_command_id_is_answered_with_generic_nack_rinvcmdid():
    error = decode_error("00000010 00000099 00000000 0000002a")
    assert (error.status, error.intact, error.command_id) == (S.ESME_RINVCMDID, True, 0x99)
    assert error.response() == PDU(C.generic_nack, 42, S.ESME_RINVCMDID)


def test_body_ending_inside_a_c_string_is_rinvcmdlen():
    error = decode_error("00000012 00000004 00000000 00000003 | 434d")  # "CM", no NUL
    assert (error.status, error.intact) == (S.ESME_RINVCMDLEN, True)
    assert error.response() == PDU(C.submit_sm_resp, 3, S.ESME_RINVCMDLEN)


def test_body_shorter_than_mandatory_params_is_rinvcmdlen():
    # submit_sm stopping after the destination address
    error = decode_error("0000001b 00000004 00000000 00000004 | 00 01 01 3100 01 01 3200")
    assert error.status == S.ESME_RINVCMDLEN


def test_sm_length_beyond_the_body_is_rinvcmdlen():
    error = decode_error("00000021 00000004 00000000 00000004 | 00 00 00 00 00 00 00"
                         " 00 00 00 00 00 00 00 00 00 00 05 6869")
    assert error.status == S.ESME_RINVCMDLEN


def test_c_string_longer_than_its_maximum_is_rinvparlen():
    # system_id is at most 15 characters + NUL; here 16 characters precede the NUL
    error = decode_error("00000027 00000002 00000000 00000006 | 41414141414141414141414141414141"
                         " 00 00 00 34 00 00 00")
    assert (error.status, error.intact) == (S.ESME_RINVPARLEN, True)
    assert error.response() == PDU(C.bind_transmitter_resp, 6, S.ESME_RINVPARLEN)


def test_tlv_with_wrong_length_for_its_type_is_rinvtlvlen():
    error = decode_error("00000016 80000015 00000000 00000001 | 0427 0002 0002")
    assert error.status == S.ESME_RINVTLVLEN


def test_network_error_code_must_be_three_octets():
    error = decode_error("00000015 80000015 00000000 00000001 | 0423 0001 03")
    assert error.status == S.ESME_RINVTLVLEN


def test_tlv_running_past_the_pdu_end_is_rinvtlvstream():
    error = decode_error("00000016 80000015 00000000 00000001 | 0424 0010 6869")
    assert error.status == S.ESME_RINVTLVSTREAM


def test_stray_octets_after_the_last_tlv_are_rinvtlvstream():
    error = decode_error("00000014 80000004 00000000 00000001 | 6100 | 0204")
    assert error.status == S.ESME_RINVTLVSTREAM
    assert error.response().command_id == C.generic_nack  # a resp cannot be answered


def test_repeated_single_valued_tlv_is_rinvtlvstream():
    error = decode_error("0000001a 80000015 00000000 00000001 | 0427 0001 02 | 0427 0001 03")
    assert error.status == S.ESME_RINVTLVSTREAM


def test_broadcast_sm_without_its_mandatory_tlvs_is_rmissingtlv():
    error = decode_error("0000001b 00000111 00000000 00000008 | 00 00 00 00 00 00 00 00 00 00 00")
    assert error.status == S.ESME_RMISSINGTLV
    assert error.response() == PDU(C.broadcast_sm_resp, 8, S.ESME_RMISSINGTLV)


def test_submit_multi_with_unknown_dest_flag_is_rinvdestflag():
    error = decode_error("00000018 00000021 00000000 00000001 | 00 00 00 00 01 03 00 00")
    assert error.status == S.ESME_RINVDESTFLAG


def test_pdu_without_a_resp_is_answered_with_generic_nack():
    error = decode_error("00000012 0000000b 00000000 00000002 | 41 41")  # outbind, no NUL
    assert error.response() == PDU(C.generic_nack, 2, S.ESME_RINVCMDLEN)


@pytest.mark.parametrize("pdu", [
    PDU(C.bind_transmitter, 1, 0, {"system_id": "x" * 16}),
    PDU(C.submit_sm, 1, 0, {"source_addr": "a\0b"}),
    PDU(C.submit_sm, 1, 0, {"esm_class": 256}),
    PDU(C.submit_sm, 1, 0, {"data_coding": -1}),
    PDU(C.submit_sm, 1, 0, {"short_message": "text, not bytes"}),
    PDU(C.submit_sm, 1, 0, {"short_message": b"x" * 256}),
    PDU(C.submit_sm, 1 << 32),
    PDU(C.submit_sm, 1, 0, {}, {"message_state": 256}),
    PDU(C.submit_sm, 1, 0, {}, {"network_error_code": b"\x03"}),
    PDU(C.submit_sm, 1, 0, {}, {"no_such_tlv": 1}),
    PDU(C.submit_sm, 1, 0, {}, {0x1400: 5}),
    PDU(C.submit_multi, 1, 0, {"dest_address": [DestAddress(1, 1, "x" * 21)]}),
])
def test_values_that_do_not_fit_the_wire_raise_value_error(pdu):
    with pytest.raises(ValueError):
        encode(pdu)
