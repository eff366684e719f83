"""Compile :data:`gateway.smpp.tables.MANDATORY` into one decoder and one encoder per command.

Why generate code: a loop interpreting the field table costs more per field than the
work itself (find a NUL, slice, unpack), and so does a call per field. So at import time
each command's field list becomes straight-line Python source -- C-strings found with
``bytes.find``, runs of adjacent integers read and written by one precompiled
``struct.Struct``, the params dict built by one literal, the header packed into the same
``b"".join`` as the body -- and is compiled once. The table stays the only description of
a layout; :func:`source` shows what was generated for a command.

Generated decoders: ``decode(data, off, end, command_status, sequence_number) -> PDU``
for the body ``data[off:end]``. Generated encoders: ``encode(pdu) -> bytes`` (whole PDU).
Problems are raised as :class:`PDUError` / ``ValueError`` by the helpers below.
"""

import struct

from gateway.smpp import tables
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import PDU, DestAddress, DistributionList, PDUError, UnsuccessSme
from gateway.smpp.tlv import as_bytes, decode_tlvs, encode_cstring, encode_tlvs

__all__ = ["DECODERS", "ENCODERS", "HEADER", "source"]

HEADER = struct.Struct(">IIII")
_FORMATS = {1: "B", 2: "H", 4: "I"}
_SME = struct.Struct(">BB")
_ERROR_STATUS = struct.Struct(">I")
_BYTES = tuple(bytes((i,)) for i in range(256))
_NUL = b"\0"


# ------------------------------------------------------- helpers the generated code calls

def truncated(name):
    """The error for a body that ends before mandatory parameter ``name``."""
    return PDUError(f"PDU ends inside mandatory parameter {name}",
                    CommandStatus.ESME_RINVCMDLEN)


def cstring_error(name, size, complete):
    """No NUL within ``size`` octets: too long if the octets were there, else truncated."""
    if complete:
        return PDUError(f"{name} longer than {size - 1} octets", CommandStatus.ESME_RINVPARLEN)
    return truncated(name)


def make_pdu(command_id, sequence_number, command_status, params, tlvs):
    """Build a decoded PDU without ``PDU.__init__``'s coercions (values are known good)."""
    pdu = object.__new__(PDU)
    pdu.command_id = command_id
    pdu.sequence_number = sequence_number
    pdu.command_status = command_status
    pdu.params = params
    pdu.tlvs = tlvs
    return pdu


def check_required(command_id, tlvs, required):
    """SMPP 5.0 mandatory TLVs: their absence is ESME_RMISSINGTLV."""
    missing = [name for name in required if name not in tlvs]
    if missing:
        raise PDUError(f"{command_id.name} without {', '.join(missing)}",
                       CommandStatus.ESME_RMISSINGTLV)


def check_short_message(value):
    """Coerce and bound-check short_message (sm_length is one octet)."""
    if type(value) is not bytes:
        value = as_bytes(value, "short_message")
    if len(value) > 255:
        raise ValueError(f"short_message of {len(value)} octets (max 255)")
    return value


def _cstring_at(data, off, end, name, size):
    nul = data.find(_NUL, off, min(off + size, end))
    if nul < 0:
        raise cstring_error(name, size, off + size <= end)
    return data[off:nul].decode("latin-1"), nul + 1


def decode_dest_addresses(data, off, end):
    """submit_multi: number_of_dests, then each dest_flag + SME address or DL name."""
    if off >= end:
        raise truncated("number_of_dests")
    count, off = data[off], off + 1
    dests = []
    for _ in range(count):
        if off >= end:
            raise truncated("dest_flag")
        flag, off = data[off], off + 1
        if flag == 1:
            if off + 2 > end:
                raise truncated("dest_address")
            ton, npi = _SME.unpack_from(data, off)
            addr, off = _cstring_at(data, off + 2, end, "destination_addr", 21)
            dests.append(DestAddress(ton, npi, addr))
        elif flag == 2:
            name, off = _cstring_at(data, off, end, "dl_name", 21)
            dests.append(DistributionList(name))
        else:
            raise PDUError(f"dest_flag {flag} is neither 1 nor 2",
                           CommandStatus.ESME_RINVDESTFLAG)
    return dests, off


def decode_unsuccess_smes(data, off, end):
    """submit_multi_resp: no_unsuccess, then each address + error_status_code."""
    if off >= end:
        raise truncated("no_unsuccess")
    count, off = data[off], off + 1
    smes = []
    for _ in range(count):
        if off + 2 > end:
            raise truncated("unsuccess_sme")
        ton, npi = _SME.unpack_from(data, off)
        addr, off = _cstring_at(data, off + 2, end, "destination_addr", 21)
        if off + 4 > end:
            raise truncated("error_status_code")
        smes.append(UnsuccessSme(ton, npi, addr, _ERROR_STATUS.unpack_from(data, off)[0]))
        off += 4
    return smes, off


def encode_dest_addresses(dests):
    """Inverse of :func:`decode_dest_addresses`."""
    if len(dests) > 255:
        raise ValueError(f"{len(dests)} dest_address entries (max 255)")
    parts = [_BYTES[len(dests)]]
    for dest in dests:
        if isinstance(dest, DistributionList):
            parts += (b"\x02", encode_cstring(dest.dl_name, "dl_name", 21), _NUL)
        else:
            ton, npi, addr = dest
            parts += (b"\x01", _SME.pack(ton, npi),
                      encode_cstring(addr, "destination_addr", 21), _NUL)
    return b"".join(parts)


def encode_unsuccess_smes(smes):
    """Inverse of :func:`decode_unsuccess_smes`."""
    if len(smes) > 255:
        raise ValueError(f"{len(smes)} unsuccess_sme entries (max 255)")
    parts = [_BYTES[len(smes)]]
    for ton, npi, addr, error_status_code in smes:
        parts += (_SME.pack(ton, npi), encode_cstring(addr, "destination_addr", 21), _NUL,
                  _ERROR_STATUS.pack(error_status_code))
    return b"".join(parts)


_NAMESPACE = {
    "PDU": PDU, "new": object.__new__, "NUL": _NUL, "BYTES": _BYTES, "pack_header": HEADER.pack,
    "truncated": truncated, "cstring_error": cstring_error, "make_pdu": make_pdu,
    "check_required": check_required, "check_short_message": check_short_message,
    "as_bytes": as_bytes, "encode_cstring": encode_cstring,
    "decode_tlvs": decode_tlvs, "encode_tlvs": encode_tlvs,
    "decode_dest_addresses": decode_dest_addresses,
    "decode_unsuccess_smes": decode_unsuccess_smes,
    "encode_dest_addresses": encode_dest_addresses,
    "encode_unsuccess_smes": encode_unsuccess_smes,
}


# ------------------------------------------------------------------------ generators

def _group(fields):
    """Split a field list into items: single fields, or lists of adjacent INT fields."""
    items, run = [], []
    for field in fields:
        if field.kind == tables.INT:
            run.append(field)
            continue
        if run:
            items.append(run)
            run = []
        items.append(field)
    if run:
        items.append(run)
    return items


class _Code:
    """Generated fragments of one command, gathered field by field."""

    def __init__(self, fields):
        # Bind data.find / params.get to locals only when used more than once.
        self.find = "find" if sum(f.kind == tables.CSTR for f in fields) > 1 else "data.find"
        self.get = "get" if len(fields) > 1 else "params.get"
        self.decode = []  # decoder statements
        self.encode = []  # encoder statements before the final join
        self.outputs = []  # (param name, decoder variable)
        self.parts = []  # expressions joined into the encoded PDU, in wire order
        self.fixed = HEADER.size  # octets known in advance
        self.lengths = ["len(tail)"]  # expressions for the variable octets

    def add(self, index, item, namespace):
        var = f"v{index}"
        if isinstance(item, list):  # adjacent integers: one Struct each way
            self._integers(var, item, namespace)
        elif item.kind == tables.CSTR:
            self._cstring(var, item)
        elif item.kind == tables.SM:
            self._short_message(var, item)
        else:
            kind = "dest_addresses" if item.kind == tables.DEST_ADDRESSES else "unsuccess_smes"
            self.decode.append(f"{var}, off = decode_{kind}(data, off, end)")
            self.encode.append(f"{var} = encode_{kind}({self.get}({item.name!r}, ()))")
            self.outputs.append((item.name, var))
            self.parts.append(var)
            self.lengths.append(f"len({var})")

    def _integers(self, var, fields, namespace):
        st_name = f"S{var}"
        namespace[st_name] = st = struct.Struct(">" + "".join(_FORMATS[f.size] for f in fields))
        names = [f"{var}_{i}" for i in range(len(fields))]
        self.decode += [f"nxt = off + {st.size}",
                        f"if nxt > end: raise truncated({fields[0].name!r})",
                        f"{', '.join(names)}, = {st_name}.unpack_from(data, off)",
                        "off = nxt"]
        self.outputs += zip((f.name for f in fields), names)
        getters = ", ".join(f"{self.get}({f.name!r}, 0)" for f in fields)
        self.parts.append(f"{st_name}.pack({getters})")
        self.fixed += st.size

    def _cstring(self, var, field):
        name, size = field.name, field.size
        self.decode += [f"lim = off + {size}",
                        f"nul = {self.find}(NUL, off, lim if lim < end else end)",
                        f"if nul < 0: raise cstring_error({name!r}, {size}, lim <= end)",
                        f"{var} = data[off:nul].decode('latin-1')",
                        "off = nul + 1"]
        # ``0 in raw`` is a memchr; testing for the bytes NUL costs several times more.
        self.encode += [f"{var} = {self.get}({name!r}, '')",
                        f"{var} = {var}.encode('latin-1') if type({var}) is str"
                        f" else as_bytes({var}, {name!r})",
                        f"if len({var}) >= {size} or 0 in {var}:"
                        f" encode_cstring({var}, {name!r}, {size})"]
        self.outputs.append((name, var))
        self.parts += [var, "NUL"]
        self.fixed += 1
        self.lengths.append(f"len({var})")

    def _short_message(self, var, field):
        self.decode += ["if off >= end: raise truncated('sm_length')",
                        "nxt = off + 1 + data[off]",
                        f"if nxt > end: raise truncated({field.name!r})",
                        f"{var} = data[off + 1:nxt]",
                        "off = nxt"]
        self.encode += [f"{var} = {self.get}({field.name!r}, b'')",
                        f"if type({var}) is not bytes or len({var}) > 255:"
                        f" {var} = check_short_message({var})"]
        self.outputs.append((field.name, var))
        self.parts += [f"BYTES[len({var})]", var]
        self.fixed += 1
        self.lengths.append(f"len({var})")


def _decoder_source(command_id, fields, required, code):
    lines = [f"def decode_{command_id.name}(data, off, end, command_status, sequence_number):"]
    if fields and command_id.is_resp:  # error responses usually come without a body
        lines += ["if off == end:",
                  "    return make_pdu(CID, sequence_number, command_status, {}, {})"]
    if code.find == "find":
        lines.append("find = data.find")
    params = "{" + ", ".join(f"{n!r}: {v}" for n, v in code.outputs) + "}"
    lines += code.decode + [
        "pdu = new(PDU)",
        "pdu.command_id = CID",
        "pdu.sequence_number = sequence_number",
        "pdu.command_status = command_status",
        f"pdu.params = {params}",
        "pdu.tlvs = decode_tlvs(data, off, end) if off < end else {}"]
    if required:
        lines.append("if not command_status: check_required(CID, pdu.tlvs, REQUIRED)")
    lines.append("return pdu")
    return "\n    ".join(lines)


def _encoder_source(command_id, fields, code):
    header_only = ("pack_header(16 + len(tail), CID, pdu.command_status, pdu.sequence_number)"
                   " + tail")
    lines = [f"def encode_{command_id.name}(pdu):",
             "params = pdu.params",
             "tail = encode_tlvs(pdu.tlvs) if pdu.tlvs else b''"]
    if not fields:
        return "\n    ".join(lines + [f"return {header_only}"])
    if command_id.is_resp:  # SMPP 3.4: no body in an error response
        lines += ["if not params and pdu.command_status:", f"    return {header_only}"]
    if code.get == "get":
        lines.append("get = params.get")
    header = (f"pack_header({code.fixed} + {' + '.join(code.lengths)}, CID, "
              "pdu.command_status, pdu.sequence_number)")
    lines += code.encode + [f"return b''.join(({header}, {', '.join(code.parts)}, tail))"]
    return "\n    ".join(lines)


def _generate(command_id, fields, required, namespace):
    """Source of ``decode_<name>`` and ``encode_<name>``; constants go into ``namespace``."""
    namespace["CID"] = command_id
    namespace["REQUIRED"] = required
    code = _Code(fields)
    for index, item in enumerate(_group(fields)):
        code.add(index, item, namespace)
    return (_decoder_source(command_id, fields, required, code) + "\n\n\n"
            + _encoder_source(command_id, fields, code) + "\n")


def _compile(command_id, fields, required):
    namespace = dict(_NAMESPACE)
    text = _generate(command_id, fields, required, namespace)
    exec(compile(text, f"<smpp {command_id.name}>", "exec"), namespace)
    return namespace[f"decode_{command_id.name}"], namespace[f"encode_{command_id.name}"], text


_COMPILED = {cid: _compile(cid, fields, tables.REQUIRED_TLVS.get(cid, ()))
             for cid, fields in tables.MANDATORY.items()}

#: command_id (int) -> generated decoder / encoder.
DECODERS = {int(cid): fns[0] for cid, fns in _COMPILED.items()}
ENCODERS = {int(cid): fns[1] for cid, fns in _COMPILED.items()}


def source(command_id):
    """The generated Python source for ``command_id``, for reading and debugging."""
    return _COMPILED[command_id][2]
