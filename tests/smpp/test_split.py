"""Splitting long messages into parts, reading UDH/SAR, and reassembling incoming parts."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import task

from gateway.smpp.constants import CommandStatus, DataCoding, EsmClass
from gateway.smpp.reassembly import Reassembler
from gateway.smpp.split import (
    Concat, MessageTooLong, SplitMode, build_udh, choose_data_coding, concat_udh,
    count_parts, is_too_long, message_part, parse_udh, split_message, split_text,
)
from gateway.smpp.text import ESC, GSM_BASIC, GSM_EXTENSION, TextError, decode_text, gsm_septets

GSM, UCS2, LATIN_1 = DataCoding.DEFAULT, DataCoding.UCS2, DataCoding.LATIN_1


@pytest.mark.parametrize("coding, mode, single, per_part", [
    (GSM, SplitMode.UDH8, 160, 153),
    (GSM, SplitMode.UDH16, 160, 152),
    (GSM, SplitMode.SAR, 160, 153),
    (UCS2, SplitMode.UDH8, 70, 67),
    (UCS2, SplitMode.UDH16, 70, 66),
    (LATIN_1, SplitMode.UDH8, 140, 134),
    (LATIN_1, SplitMode.UDH16, 140, 133),
])
def test_part_sizes_follow_the_coding_and_reference_width(coding, mode, single, per_part):
    letter = "ж" if coding == UCS2 else "a"
    assert split_text(letter * single, coding, mode) == [letter * single]
    assert [len(p) for p in split_text(letter * (single + 1), coding, mode)] == [
        per_part, single + 1 - per_part]


def test_iso_flag_splits_data_coding_0_as_8_bit_text():
    assert [len(p) for p in split_text("é" * 141, GSM, iso=True)] == [134, 7]
    segments = split_message("é" * 141, GSM, iso=True)
    assert segments[0].short_message[6:] == b"\xe9" * 134


def test_extension_char_never_split_across_parts():
    parts = split_text("a" * 152 + "€" + "b" * 10, GSM)  # € would be septets 153 and 154
    assert parts == ["a" * 152, "€" + "b" * 10]
    assert gsm_septets(parts[0]) == 152


def test_surrogate_pair_never_split_across_parts():
    parts = split_text("a" * 66 + "😀" + "b" * 10, UCS2)
    assert parts == ["a" * 66, "😀" + "b" * 10]


def test_udh_with_8_bit_reference():
    segments = split_message("x" * 200, GSM, SplitMode.UDH8, reference=0x1234)
    assert [s.short_message[:6].hex() for s in segments] == ["050003340201", "050003340202"]
    assert all(s.esm_class == EsmClass.UDHI and s.tlvs == {} for s in segments)
    assert segments[0].short_message[6:] == b"x" * 153


def test_udh_with_16_bit_reference():
    segments = split_message("x" * 200, GSM, SplitMode.UDH16, reference=0x1234)
    assert [s.short_message[:7].hex() for s in segments] == ["06080412340201",
                                                            "06080412340202"]
    assert segments[0].short_message[7:] == b"x" * 152


def test_sar_parts_carry_the_reference_in_tlvs():
    segments = split_message("ж" * 100, UCS2, SplitMode.SAR, reference=700)
    assert [s.tlvs for s in segments] == [
        {"sar_msg_ref_num": 700, "sar_total_segments": 2, "sar_segment_seqnum": 1},
        {"sar_msg_ref_num": 700, "sar_total_segments": 2, "sar_segment_seqnum": 2}]
    assert [len(s.short_message) for s in segments] == [134, 66]
    assert all(s.esm_class == 0 and s.data_coding == UCS2 for s in segments)


def test_payload_mode_sends_one_message_payload():
    (segment,) = split_message("ж" * 100, UCS2, SplitMode.PAYLOAD)
    assert segment.short_message == b"" and segment.tlvs == {
        "message_payload": ("ж" * 100).encode("utf-16-be")}


def test_short_text_is_one_plain_segment_in_every_mode():
    for mode in SplitMode:
        (segment,) = split_message("hi", None, mode)
        assert segment == (b"hi", GSM, 0, {})


def test_more_than_255_parts_is_message_too_long():
    with pytest.raises(MessageTooLong) as caught:
        split_message("x" * 153 * 256, GSM)
    assert caught.value.status == CommandStatus.VENDOR_MESSAGE_TOO_LONG


def test_cheapest_coding_is_gsm_when_possible_else_ucs2():
    assert choose_data_coding("Hello {world}") == GSM
    assert choose_data_coding("Привет") == UCS2
    assert choose_data_coding("café") == GSM  # é is in the GSM table, ç is not
    assert choose_data_coding("ça va") == UCS2


def test_cheapest_coding_counts_extension_chars_as_two_septets():
    text = "[" * 100  # 200 septets: 2 GSM parts, 1 Latin-1 part
    assert count_parts(text, GSM) == 2
    assert choose_data_coding(text, (GSM, LATIN_1, UCS2)) == LATIN_1


def test_no_candidate_coding_fits():
    with pytest.raises(TextError):
        choose_data_coding("Привет", (GSM, LATIN_1))


def test_parse_udh_keeps_port_addressing_and_reads_concatenation():
    udh = build_udh([(0x05, b"\x0b\x84\x23\xf0"), (0x00, b"\x2a\x03\x02")])
    header, rest = parse_udh(udh + b"payload")
    assert header.elements == ((0x05, b"\x0b\x84\x23\xf0"), (0x00, b"\x2a\x03\x02"))
    assert header.length == len(udh) and rest == b"payload"
    assert header.concat == Concat(0x2A, 3, 2, 8)


def test_parse_udh_reads_16_bit_reference():
    header, _ = parse_udh(concat_udh(0xBEEF, 4, 4, 16))
    assert header.concat == Concat(0xBEEF, 4, 4, 16)


def test_concatenation_element_with_bad_sequence_is_ignored():
    header, _ = parse_udh(bytes.fromhex("0500032a0203"))
    assert header.concat is None and header.elements == ((0, b"\x2a\x02\x03"),)


@pytest.mark.parametrize("data", ["", "06000301", "0300050101", "020003"])
def test_malformed_udh_is_a_text_error(data):
    with pytest.raises(TextError):
        parse_udh(bytes.fromhex(data))


def test_message_part_from_udh():
    params = {"esm_class": 0x40, "short_message": concat_udh(9, 2, 1) + b"abc"}
    assert message_part(params, {}) == (b"abc", Concat(9, 2, 1, 8), parse_udh(
        params["short_message"])[0])


def test_message_part_from_sar_tlvs_and_payload():
    tlvs = {"sar_msg_ref_num": 300, "sar_total_segments": 3, "sar_segment_seqnum": 3,
            "message_payload": b"xyz"}
    assert message_part({"short_message": b""}, tlvs) == (b"xyz", Concat(300, 3, 3, 16), None)


def test_message_part_of_a_single_message():
    assert message_part({"short_message": b"hi"}, {}) == (b"hi", None, None)


def test_short_message_over_160_octets_without_udh_or_payload_is_too_long():
    assert is_too_long({"short_message": b"x" * 161}, {})
    assert not is_too_long({"short_message": b"x" * 160}, {})
    assert not is_too_long({"short_message": b"x" * 161, "esm_class": 0x40}, {})
    assert not is_too_long({"short_message": b"x" * 161}, {"message_payload": b""})


def _part_text(segment):
    info = message_part({"esm_class": segment.esm_class,
                         "short_message": segment.short_message}, segment.tlvs)
    return info, decode_text(info.payload, segment.data_coding)


gsm_chars = [ch for code, ch in enumerate(GSM_BASIC) if code != ESC] + list(
    GSM_EXTENSION.values())
texts = st.one_of(
    st.text(alphabet=st.sampled_from(gsm_chars), max_size=700),
    st.text(alphabet=st.sampled_from(["a", "ж", "😀", "€", " "]), max_size=400),
)


@settings(max_examples=250, deadline=None)
@given(texts, st.sampled_from([SplitMode.UDH8, SplitMode.UDH16, SplitMode.SAR]),
       st.integers(0, 0xFFFF))
def test_split_parts_join_to_the_text_and_fit_their_limits(text, mode, reference):
    segments = split_message(text, None, mode, reference=reference)
    pieces = [_part_text(s) for s in segments]
    assert "".join(piece for _, piece in pieces) == text
    for segment, (info, piece) in zip(segments, pieces):
        if segment.data_coding == GSM:
            assert not info.payload.endswith(bytes((ESC,)))  # no extension char cut
            assert len(info.payload) <= (160 if len(segments) == 1 else 153)
        else:
            assert len(info.payload) <= (140 if len(segments) == 1 else 134)
        if len(segments) > 1:
            assert info.concat.total == len(segments)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "ж", "😀"]), min_size=71, max_size=300),
       st.randoms(use_true_random=False), st.data())
def test_parts_reassemble_in_any_order_with_duplicates(text, rnd, data):
    segments = split_message(text, UCS2, SplitMode.UDH8, reference=77)
    arrivals = segments + data.draw(st.lists(st.sampled_from(segments), max_size=3))
    rnd.shuffle(arrivals)
    reassembler, done = Reassembler(timeout=60), []
    for segment in arrivals:
        info = message_part({"esm_class": segment.esm_class,
                             "short_message": segment.short_message}, {})
        key = ("79990000001", "Shop", info.concat.reference)
        parts = reassembler.add(key, info.concat.total, info.concat.seqnum, info.payload,
                                now=0)
        if parts is not None:
            done.append(b"".join(parts))
    assert len(done) >= 1
    assert decode_text(done[0], UCS2) == text


def test_incomplete_message_expires_on_the_injected_clock():
    clock, expired = task.Clock(), []
    reassembler = Reassembler(timeout=30, clock=clock,
                              on_expired=lambda key, parts: expired.append((key, parts)))
    assert reassembler.add("k", 3, 1, b"a") is None
    assert reassembler.add("k", 3, 3, b"c") is None
    clock.advance(29)
    assert expired == [] and len(reassembler) == 1
    clock.advance(1)
    assert expired == [("k", {1: b"a", 3: b"c"})] and len(reassembler) == 0


def test_completed_message_cancels_its_timeout():
    clock = task.Clock()
    reassembler = Reassembler(timeout=30, clock=clock, on_expired=pytest.fail)
    reassembler.add("k", 2, 2, b"b")
    assert reassembler.add("k", 2, 1, b"a") == [b"a", b"b"]
    assert clock.getDelayedCalls() == []


def test_expire_with_explicit_time():
    reassembler = Reassembler(timeout=10)
    reassembler.add("old", 2, 1, b"x", now=100)
    reassembler.add("new", 2, 1, b"y", now=105)
    assert reassembler.expire(now=111) == [("old", {1: b"x"})]
    assert len(reassembler) == 1


def test_duplicate_part_keeps_the_first_and_mismatched_total_is_ignored():
    reassembler = Reassembler()
    reassembler.add("k", 2, 1, b"first", now=0)
    assert reassembler.add("k", 2, 1, b"again", now=0) is None
    assert reassembler.add("k", 3, 2, b"other", now=0) is None
    assert reassembler.add("k", 2, 2, b"second", now=0) == [b"first", b"second"]


def test_oldest_group_is_evicted_beyond_max_pending():
    evicted = []
    reassembler = Reassembler(max_pending=2, on_expired=lambda k, p: evicted.append(k))
    for key in ("a", "b", "c"):
        reassembler.add(key, 2, 1, b"x", now=0)
    assert evicted == ["a"] and len(reassembler) == 2


def test_reassembler_without_clock_needs_explicit_time():
    with pytest.raises(ValueError):
        Reassembler().add("k", 2, 1, b"x")
