"""Properties of the codec over generated PDUs of every command."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp import codegen
from gateway.smpp.codec import COMMANDS, decode, encode
from gateway.smpp.pdu import PDUError
from tests.smpp.strategies import pdus


@settings(max_examples=300, deadline=None)
@given(pdus())
def test_decode_inverts_encode(pdu):
    data = encode(pdu)
    assert int.from_bytes(data[:4], "big") == len(data)
    assert decode(data) == pdu


def test_every_command_round_trips():
    for command in COMMANDS:
        @settings(max_examples=15, deadline=None, database=None)
        @given(pdus(commands=(command,)))
        def round_trips(pdu):
            assert decode(encode(pdu)) == pdu

        round_trips()


@settings(max_examples=300, deadline=None)
@given(pdus(), st.data())
def test_truncated_pdu_is_a_pdu_error_never_another_exception(pdu, data):
    wire = encode(pdu)
    cut = data.draw(st.integers(16, len(wire)))
    body = wire[16:cut]
    patched = (16 + len(body)).to_bytes(4, "big") + wire[4:16] + body
    try:
        decode(patched)
    except PDUError as error:
        assert error.intact and error.sequence_number == pdu.sequence_number


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=16, max_size=80))
def test_decoding_arbitrary_bytes_raises_only_pdu_error(raw):
    raw = len(raw).to_bytes(4, "big") + raw[4:]
    try:
        pdu = decode(raw)
    except PDUError:
        return
    assert decode(encode(pdu)) == pdu


def test_generated_source_is_available_for_reading():
    text = codegen.source(COMMANDS[0])
    assert text.startswith("def decode_")
