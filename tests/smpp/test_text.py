"""GSM 03.38, IA5, Latin-1 and UCS2 encodings of message text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.constants import CommandStatus, DataCoding
from gateway.smpp.text import (
    ESC, GSM_BASIC, GSM_EXTENSION, TextError, UnsupportedDataCoding, decode_text,
    encode_text, gsm_decode, gsm_encode, gsm_pack, gsm_septets, gsm_unpack, is_gsm,
)

BASIC_CHARS = [ch for code, ch in enumerate(GSM_BASIC) if code != ESC]
EXTENSION_CHARS = list(GSM_EXTENSION.values())
gsm_texts = st.text(alphabet=st.sampled_from(BASIC_CHARS + EXTENSION_CHARS), max_size=200)


def test_every_basic_character_is_one_septet_with_its_table_code():
    for code, ch in enumerate(GSM_BASIC):
        if code != ESC:
            assert gsm_encode(ch) == bytes((code,))
            assert gsm_decode(bytes((code,))) == ch


def test_every_extension_character_is_escape_plus_code():
    for code, ch in GSM_EXTENSION.items():
        assert gsm_encode(ch) == bytes((ESC, code))
        assert gsm_decode(bytes((ESC, code))) == ch
        assert gsm_septets(ch) == 2


@settings(max_examples=300, deadline=None)
@given(gsm_texts)
def test_gsm_text_round_trips_unpacked(text):
    assert gsm_decode(gsm_encode(text)) == text


@settings(max_examples=300, deadline=None)
@given(gsm_texts, st.integers(0, 6))
def test_gsm_text_round_trips_packed(text, fill_bits):
    septets = gsm_encode(text)
    packed = gsm_pack(septets, fill_bits)
    assert len(packed) == (7 * len(septets) + fill_bits + 7) // 8
    assert gsm_unpack(packed, len(septets), fill_bits) == septets
    assert gsm_decode(gsm_unpack(packed, len(septets), fill_bits)) == text


def test_packing_matches_the_reference_example():
    assert gsm_pack(gsm_encode("hellohello")).hex() == "e8329bfd4697d9ec37"


def test_unpacking_without_count_drops_seven_bits_of_padding():
    assert gsm_unpack(gsm_pack(gsm_encode("1234567"))) == gsm_encode("1234567")
    assert gsm_unpack(gsm_pack(gsm_encode("12345678"))) == gsm_encode("12345678")


def test_unpacking_more_septets_than_octets_hold_is_an_error():
    with pytest.raises(TextError):
        gsm_unpack(b"\x31", 2)


def test_character_outside_gsm_is_bad_encoding():
    with pytest.raises(TextError) as caught:
        gsm_encode("price: 5`")
    assert caught.value.status == CommandStatus.VENDOR_BAD_ENCODING
    assert not is_gsm("Привет") and is_gsm("Hello {€}")


def test_escape_before_code_without_extension_shows_the_basic_character():
    assert gsm_decode(bytes((ESC, 0x41))) == "A"
    assert gsm_decode(b"\x41" + bytes((ESC,))) == "A"


def test_unpacked_septets_above_0x7f_are_bad_encoding():
    with pytest.raises(TextError):
        gsm_decode(b"\xe8\x32")


@pytest.mark.parametrize("coding, text, wire", [
    (DataCoding.DEFAULT, "@Hi_", b"\x00Hi\x11"),
    (DataCoding.IA5, "Hi `x`", b"Hi `x`"),
    (DataCoding.LATIN_1, "café", b"caf\xe9"),
    (DataCoding.UCS2, "Привет", "Привет".encode("utf-16-be")),
    (DataCoding.UCS2, "a😀", bytes.fromhex("0061d83dde00")),
])
def test_supported_codings_encode_and_decode(coding, text, wire):
    assert encode_text(text, coding) == wire
    assert decode_text(wire, coding) == text


def test_iso_flag_makes_data_coding_0_latin_1():
    assert encode_text("café", 0, iso=True) == b"caf\xe9"
    assert decode_text(b"caf\xe9", 0, iso=True) == "café"


@pytest.mark.parametrize("coding", [2, 4, 5, 6, 0xF5, 0x18])
def test_unsupported_data_coding_maps_to_vendor_bad_encoding(coding):
    with pytest.raises(UnsupportedDataCoding) as caught:
        decode_text(b"x", coding)
    assert caught.value.status == 0x0400 and caught.value.data_coding == coding
    with pytest.raises(UnsupportedDataCoding):
        encode_text("x", coding)


@pytest.mark.parametrize("coding, wire", [
    (DataCoding.UCS2, b"\x00a\x00"),  # odd length
    (DataCoding.UCS2, bytes.fromhex("d83d0061")),  # lone surrogate
    (DataCoding.IA5, b"\xff"),
])
def test_invalid_octets_are_bad_encoding(coding, wire):
    with pytest.raises(TextError):
        decode_text(wire, coding)


def test_text_not_representable_in_coding_is_bad_encoding():
    with pytest.raises(TextError):
        encode_text("Привет", DataCoding.LATIN_1)
    with pytest.raises(TextError):
        encode_text("é", DataCoding.IA5)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_any_text_round_trips_in_ucs2_with_surrogate_pairs(text):
    text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)
    assert decode_text(encode_text(text, DataCoding.UCS2), DataCoding.UCS2) == text
