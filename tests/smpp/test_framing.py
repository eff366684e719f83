"""The stream framer: arbitrary chunks in, PDUs out, errors that say whether to go on."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId as C
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import PDU, PDUError
from tests.smpp.strategies import pdus

SUBMIT = PDU(C.submit_sm, 1, 0, {"source_addr": "Shop", "destination_addr": "7999",
                                 "short_message": b"hello"})
LINK = PDU(C.enquire_link, 2)
RESP = PDU(C.submit_sm_resp, 3, 0, {"message_id": "abc"})
UNKNOWN_COMMAND = bytes.fromhex("00000010 000000ff 00000000 00000063")


def feed_all(framer, chunks):
    """Feed chunks as a protocol would: collect PDUs and the errors of intact framing."""
    pdus_out, errors = [], []
    for chunk in chunks:
        data = chunk
        while True:
            try:
                pdus_out += framer.feed(data)
                break
            except PDUError as error:
                pdus_out += error.pdus
                errors.append(error)
                if not error.intact:
                    return pdus_out, errors
                data = b""
    return pdus_out, errors


def expected(pdu):
    """A PDU as decoding returns it: every mandatory parameter present."""
    from gateway.smpp.codec import decode
    return decode(encode(pdu))


def test_pdu_arriving_one_octet_at_a_time_is_decoded_once_complete():
    data = encode(SUBMIT)
    framer = Framer()
    for octet in data[:-1]:
        assert framer.feed(bytes((octet,))) == []
    assert framer.feed(data[-1:]) == [expected(SUBMIT)]
    assert framer.buffered == 0


def test_many_pdus_in_one_chunk_come_out_in_order():
    stream = b"".join(encode(p) for p in [SUBMIT, LINK, RESP] * 1000)
    out = Framer().feed(stream)
    assert out == [expected(p) for p in [SUBMIT, LINK, RESP] * 1000]


def test_partial_tail_is_kept_for_the_next_chunk():
    stream = encode(LINK) + encode(RESP)
    framer = Framer()
    assert framer.feed(stream[:20]) == [LINK]
    assert framer.buffered == 4
    assert framer.feed(stream[20:]) == [RESP]


def test_framer_continues_with_next_pdu_after_a_body_error():
    framer = Framer()
    stream = encode(LINK) + UNKNOWN_COMMAND + encode(RESP)
    with pytest.raises(PDUError) as caught:
        framer.feed(stream)
    error = caught.value
    assert (error.status, error.intact, error.sequence_number) == (S.ESME_RINVCMDID, True, 0x63)
    assert error.pdus == [LINK]
    assert framer.feed(b"") == [RESP]


def test_framing_error_is_final():
    framer = Framer(max_length=100)
    with pytest.raises(PDUError) as caught:
        framer.feed(encode(LINK) + bytes.fromhex("00000fff"))
    assert caught.value.pdus == [LINK] and not caught.value.intact
    with pytest.raises(PDUError) as again:
        framer.feed(encode(LINK))
    assert again.value.status == S.ESME_RINVCMDLEN and not again.value.intact


def test_bad_length_is_reported_as_soon_as_its_four_octets_arrive():
    framer = Framer()
    assert framer.feed(b"\x00\x00") == []
    with pytest.raises(PDUError) as caught:
        framer.feed(b"\x00\x05")
    assert caught.value.sequence_number is None and caught.value.command_id is None
    assert caught.value.response() == PDU(C.generic_nack, 0, S.ESME_RINVCMDLEN)


def test_bytearray_and_memoryview_chunks_are_accepted():
    data = encode(RESP)
    assert Framer().feed(bytearray(data)) == [RESP]
    assert Framer().feed(memoryview(data)) == [RESP]


def test_max_length_below_header_size_is_refused():
    with pytest.raises(ValueError):
        Framer(max_length=15)


@settings(max_examples=200, deadline=None)
@given(st.lists(pdus(), min_size=1, max_size=6), st.data())
def test_valid_stream_chunked_arbitrarily_yields_the_pdus(pdu_list, data):
    stream = b"".join(encode(p) for p in pdu_list)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]
    out, errors = feed_all(Framer(), chunks)
    assert errors == []
    assert out == pdu_list


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=6))
def test_arbitrary_bytes_yield_pdus_or_pdu_errors_only(chunks):
    out, errors = feed_all(Framer(max_length=64), chunks)
    assert all(isinstance(p, PDU) for p in out)
    assert all(e.response().command_id & 0x80000000 for e in errors)
