"""
Malformed SMPP against a live gateway process: random bytes, headers with bad
lengths and unknown commands, and valid PDUs (from the codec's tables) mutated
— flipped octets, cut short, C-strings without their NUL, TLV lengths that lie,
huge command_length — sent on a bound and on an unbound connection.

After every input the connection is either still in step (an enquire_link
sent behind the input is answered) or closed by the gateway; the gateway
never stops serving another client bound all along, and logs no traceback.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId
from gateway.smpp.pdu import PDU
from gateway.store.passwords import hash_password
from tests.reliability.support import (Closed, Esme, Gateway, PASSWORD, Simulator, gateway_ini, stop_stale_redis,
                                       submit_pdu)
from tests.smpp.strategies import pdus

pytestmark = pytest.mark.slow

MAX_PDU = 4096
FUZZ = settings(max_examples=250, deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Target:
    """The fuzzed gateway: a connection for the inputs (re-opened when the gateway closes it)
    and a canary bound on its own connection."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.esme: Esme | None = None
        self.bound_mode = False
        self.closed_by_gateway = 0
        self.inputs = 0
        self.canary = Esme(gateway.smpp_port)
        assert self.canary.bind("canary", PASSWORD).command_status == 0

    def connection(self, bound: bool) -> Esme:
        if self.esme is None or self.bound_mode != bound:
            self.drop()
            self.esme = Esme(self.gateway.smpp_port, timeout=10)
            if bound:
                assert self.esme.bind("fuzz", PASSWORD).command_status == 0
            self.bound_mode = bound
        return self.esme

    def drop(self):
        if self.esme is not None:
            self.esme.close()
        self.esme = None

    def feed(self, data: bytes, bound: bool) -> None:
        """Send ``data``; then make sure the gateway either answers an enquire_link behind it
        or has closed the connection."""
        self.inputs += 1
        esme = self.connection(bound)
        try:
            esme.sendall(data)
            if not _framing_complete(data):
                self.drop()  # the gateway waits for octets that never come: not our business
                return
            seq = esme.send(PDU(CommandId.enquire_link, 0x7FFFFF00 + self.inputs % 200))
            while True:
                pdu = esme.read(10)
                assert pdu is not None, f"no answer to enquire_link after {data.hex()}"
                if pdu.command_id == CommandId.enquire_link_resp and pdu.sequence_number == seq:
                    return
                if not pdu.is_resp:
                    esme.answer(pdu)
        except Closed:
            self.closed_by_gateway += 1
            self.drop()


def _framing_complete(data: bytes) -> bool:
    """True when ``data`` is a whole number of PDUs by their length fields, or its framing is
    hopeless (a length below 16 or above the limit: the gateway must close)."""
    off = 0
    while len(data) - off >= 4:
        length = struct.unpack_from(">I", data, off)[0]
        if length < 16 or length > MAX_PDU:
            return True
        off += length
    return off == len(data)


@pytest.fixture(scope="module")
def target():
    folder = Path(tempfile.mkdtemp(prefix="smsgw-fuzz-"))
    simulator = Simulator()
    gateway = None
    quick = hash_password(PASSWORD, n=16)  # a cheap scrypt: the fuzz binds often
    try:
        config = gateway_ini(folder, upstream_port=simulator.smpp_port,
                             accounts={"fuzz": {"password": quick, "max_connections": "9"},
                                       "canary": {"password": quick}},
                             smpp={"max_pdu_size": str(MAX_PDU), "failed_bind_limit": "0",
                                   "failed_bind_account_limit": "0"})
        gateway = Gateway(config)
        yield Target(gateway)
    finally:
        for process in (gateway, simulator):
            if process is not None:
                process.stop()
        stop_stale_redis(folder / "var")
        shutil.rmtree(folder, ignore_errors=True)


# -- inputs --------------------------------------------------------------------------------------

_COMMAND_IDS = st.one_of(st.sampled_from([int(c) for c in CommandId]), st.integers(0, 0xFFFFFFFF))
_LENGTHS = st.one_of(st.integers(0, 15), st.integers(16, 64), st.sampled_from([MAX_PDU, MAX_PDU + 1, 0x7FFFFFFF,
                                                                               0xFFFFFFFF]))


@st.composite
def headers(draw):
    """A header whose length may lie, any command id and status, and a body of random octets."""
    body = draw(st.binary(max_size=120))
    honest = draw(st.booleans())
    length = 16 + len(body) if honest else draw(_LENGTHS)
    return struct.pack(">IIII", length, draw(_COMMAND_IDS), draw(st.integers(0, 0xFFFFFFFF)),
                       draw(st.integers(0, 0xFFFFFFFF))) + body


def _fix_length(data: bytearray) -> bytes:
    data[0:4] = len(data).to_bytes(4, "big")
    return bytes(data)


@st.composite
def mutants(draw):
    """A valid PDU, encoded, then broken in one or more ways."""
    pdu = draw(pdus())
    try:
        data = bytearray(encode(pdu))
    except ValueError:
        data = bytearray(encode(submit_pdu("79001234567")))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["flip", "cut", "nul", "tlv", "insert", "length"]))
        if how == "flip" and len(data) > 16:
            at = draw(st.integers(16, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        elif how == "cut" and len(data) > 16:
            data = bytearray(_fix_length(data[:draw(st.integers(16, len(data) - 1))]))
        elif how == "nul" and b"\0" in data[16:]:
            nuls = [i for i in range(16, len(data)) if data[i] == 0]
            data[draw(st.sampled_from(nuls))] = ord("A")  # a C-string runs into the next field
        elif how == "tlv":
            tail = draw(st.binary(min_size=0, max_size=8))
            tag, length = draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF))
            data = bytearray(_fix_length(data + struct.pack(">HH", tag, length) + tail))
        elif how == "insert":
            at = draw(st.integers(16, len(data)))
            data = bytearray(_fix_length(data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]))
        elif how == "length":
            data[0:4] = draw(_LENGTHS).to_bytes(4, "big")
    return bytes(data)


# -- the tests ---------------------------------------------------------------------------------------

@FUZZ
@given(data=st.binary(min_size=1, max_size=300), bound=st.booleans())
def test_random_bytes(target, data, bound):
    target.feed(data, bound)


@FUZZ
@given(data=headers(), bound=st.booleans())
def test_headers_that_lie(target, data, bound):
    target.feed(data, bound)


@settings(FUZZ, max_examples=500)
@given(data=mutants(), bound=st.booleans())
def test_mutated_valid_pdus(target, data, bound):
    target.feed(data, bound)


def test_the_gateway_survived_and_serves_others(target):
    """Runs after the fuzzing (file order): the canary bound all along still gets answers."""
    assert target.inputs >= 500
    assert target.canary.submit("79001234567", b"still here").command_status == 0
    problems = target.gateway.problems()
    assert not problems, "\n".join(problems[:20])
    assert target.gateway.alive
    print(f"fuzz inputs: {target.inputs}, connections closed by the gateway: {target.closed_by_gateway}")
