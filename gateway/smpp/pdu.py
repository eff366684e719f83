"""The in-memory PDU, its composite parameter types, and the one codec error type.

A :class:`PDU` is a plain value::

    PDU(CommandId.submit_sm, sequence_number=7, params={
        "source_addr": "Shop", "destination_addr": "79990001122",
        "registered_delivery": 1, "short_message": b"hello",
    }, tlvs={"user_message_reference": 42})

- ``params`` holds the mandatory parameters under their spec names (see
  :data:`gateway.smpp.tables.MANDATORY`); missing ones encode as 0 / "" / b"". Derived
  length fields (``sm_length``, ``number_of_dests``, ``no_unsuccess``) are never stored.
- ``tlvs`` holds optional parameters by spec name for known tags, typed ``int`` / ``str``
  / ``bytes`` as in :data:`gateway.smpp.tables.TLVS`, and by integer tag with the raw
  ``bytes`` value for unknown ones (kept in wire order and re-encoded untouched).
- A response whose body is empty on the wire (usual for error responses) decodes with
  ``params == {}``; encoding a response with ``command_status != 0`` and empty params
  sends the header only, as SMPP 3.4 prescribes.
"""

from typing import NamedTuple

from gateway.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus

__all__ = [
    "PDU", "PDUError", "make_resp", "DestAddress", "DistributionList", "UnsuccessSme",
]


class DestAddress(NamedTuple):
    """A submit_multi SME destination (dest_flag 1)."""

    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str


class DistributionList(NamedTuple):
    """A submit_multi distribution list destination (dest_flag 2)."""

    dl_name: str


class UnsuccessSme(NamedTuple):
    """One failed destination in submit_multi_resp."""

    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    error_status_code: int


class PDU:
    """One SMPP PDU: header fields plus mandatory ``params`` and optional ``tlvs``."""

    __slots__ = ("command_id", "sequence_number", "command_status", "params", "tlvs")
    __hash__ = None

    def __init__(self, command_id, sequence_number=0, command_status=0, params=None,
                 tlvs=None):
        if type(command_id) is not CommandId:
            command_id = (CommandId[command_id] if isinstance(command_id, str)
                          else CommandId(command_id))
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.command_status = command_status
        self.params = {} if params is None else params
        self.tlvs = {} if tlvs is None else tlvs

    @property
    def command_name(self):
        """The spec name of the command, e.g. ``"submit_sm"``."""
        return self.command_id.name

    @property
    def is_resp(self):
        """True for responses (including generic_nack)."""
        return self.command_id >= RESPONSE_BIT

    def resp(self, status=CommandStatus.ESME_ROK, tlvs=None, **params):
        """Build the response to this request: same sequence number, given status.

        Raises ``ValueError`` for PDUs that have no response (see :func:`make_resp`).
        """
        resp_id = _RESPONSES.get(self.command_id)
        if resp_id is None:
            raise ValueError(f"{self.command_id.name} has no response PDU")
        return PDU(resp_id, self.sequence_number, status, params, tlvs)

    def __eq__(self, other):
        if type(other) is not PDU:
            return NotImplemented
        return (self.command_id == other.command_id
                and self.sequence_number == other.sequence_number
                and self.command_status == other.command_status
                and self.params == other.params and self.tlvs == other.tlvs)

    def __repr__(self):
        status = self.command_status
        try:
            status = CommandStatus(status).name
        except ValueError:
            status = hex(status)
        params = self.params
        if params.get("password"):  # bind and outbind PDUs end up in debug logs: never the password
            params = {**params, "password": "***"}
        return (f"PDU({self.command_id.name}, seq={self.sequence_number}, "
                f"status={status}, params={params!r}, tlvs={self.tlvs!r})")


def make_resp(pdu, status=CommandStatus.ESME_ROK, tlvs=None, **params):
    """Build the response PDU matching request ``pdu`` (same sequence number).

    Raises ``ValueError`` for PDUs that have no response (responses themselves,
    outbind, alert_notification).
    """
    return pdu.resp(status, tlvs, **params)


#: request command_id → its response's (a lookup, not an enum construction, per response)
_RESPONSES = {CommandId(resp & ~RESPONSE_BIT): resp for resp in CommandId
              if resp & RESPONSE_BIT and resp is not CommandId.generic_nack}


class PDUError(Exception):
    """A PDU that cannot be framed or decoded, with everything needed to answer it.

    Attributes:

    ``status``
        the :class:`CommandStatus` to answer with.
    ``sequence_number``, ``command_id``
        from the offending header when known (``None`` otherwise); ``command_id`` is the
        raw integer, which may be an unknown command.
    ``intact``
        True when the stream framing is still good: answer and carry on with the next
        PDU. False when the length was unusable: answer with generic_nack and close.
    ``pdus``
        PDUs the :class:`~gateway.smpp.framing.Framer` decoded from the same chunk
        *before* the bad one; handle them first.
    """

    def __init__(self, message, status, *, sequence_number=None, command_id=None,
                 intact=True):
        super().__init__(message)
        self.status = CommandStatus(status)
        self.sequence_number = sequence_number
        self.command_id = command_id
        self.intact = intact
        self.pdus = []

    def response(self):
        """The PDU to send back: the command's resp for a bad request body, else generic_nack.

        Responses, outbind and alert_notification have no resp of their own, and an
        unknown command or unusable length cannot be answered by one: those get
        generic_nack (sequence 0 when the header was unreadable).
        """
        seq = self.sequence_number or 0
        cid = self.command_id
        if self.intact and cid is not None and not cid & RESPONSE_BIT:
            try:
                return make_resp(PDU(cid, seq), self.status)
            except ValueError:
                pass
        return PDU(CommandId.generic_nack, seq, self.status)

    def __repr__(self):
        cid = self.command_id
        return (f"PDUError({str(self)!r}, status={self.status.name}, "
                f"seq={self.sequence_number}, command_id="
                f"{None if cid is None else hex(cid)}, intact={self.intact})")
