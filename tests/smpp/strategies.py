"""Hypothesis strategies for SMPP PDUs, built from the same tables the codec uses."""

from hypothesis import strategies as st

from gateway.smpp import tables
from gateway.smpp.codec import COMMANDS
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import PDU, DestAddress, DistributionList, UnsuccessSme

#: Any octet but NUL, as a latin-1 character (how C-Octet Strings decode).
_CSTRING_CHARS = st.characters(min_codepoint=1, max_codepoint=255)


def cstrings(size):
    """Values of a C-Octet String of at most ``size`` octets including the NUL."""
    return st.text(alphabet=_CSTRING_CHARS, max_size=size - 1)


def _uint(size):
    return st.integers(0, 2 ** (8 * size) - 1)


_addresses = cstrings(21)
_dest_addresses = st.lists(st.one_of(
    st.builds(DestAddress, _uint(1), _uint(1), _addresses),
    st.builds(DistributionList, _addresses),
), max_size=4)
_unsuccess_smes = st.lists(
    st.builds(UnsuccessSme, _uint(1), _uint(1), _addresses, _uint(4)), max_size=4)


def field_values(field):
    """Values of one mandatory parameter."""
    if field.kind == tables.INT:
        return _uint(field.size)
    if field.kind == tables.CSTR:
        return cstrings(field.size)
    if field.kind == tables.SM:
        return st.binary(max_size=255)
    if field.kind == tables.DEST_ADDRESSES:
        return _dest_addresses
    return _unsuccess_smes


def tlv_values(spec):
    """Values of one known TLV (a list of them for repeatable TLVs)."""
    if spec.kind == tables.INT:
        single = _uint(spec.size)
    elif spec.kind == tables.CSTR:
        single = cstrings(spec.size)
    else:
        single = st.binary(min_size=spec.min_size, max_size=min(spec.size, 40))
    return st.lists(single, min_size=1, max_size=3) if spec.multi else single


_unknown_tags = st.integers(0x1400, 0x3FFF).filter(lambda tag: tag not in tables.TLV_BY_TAG)


@st.composite
def tlv_dicts(draw, required=()):
    """A TLV dict: some known TLVs, maybe unknown vendor ones, and ``required`` ones."""
    specs = draw(st.lists(st.sampled_from(tables.TLVS), max_size=4, unique=True))
    names = {spec.name for spec in specs} | set(required)
    tlvs = {}
    for name in names:
        tlvs[name] = draw(tlv_values(tables.TLV_BY_NAME[name]))
    for tag in draw(st.lists(_unknown_tags, max_size=2, unique=True)):
        tlvs[tag] = draw(st.binary(max_size=20))
    return tlvs


_statuses = st.one_of(st.just(0), st.sampled_from(list(CommandStatus)))


@st.composite
def pdus(draw, commands=COMMANDS):
    """A PDU of any command with every mandatory parameter set."""
    command_id = draw(st.sampled_from(commands))
    params = {field.name: draw(field_values(field))
              for field in tables.MANDATORY[command_id]}
    tlvs = draw(tlv_dicts(tables.REQUIRED_TLVS.get(command_id, ())))
    status = draw(_statuses) if command_id.is_resp else 0
    return PDU(command_id, draw(st.integers(0, 0x7FFFFFFF)), status, params, tlvs)
