"""The SMPP PDU layouts as data: mandatory parameters per command and the TLV table.

The codec (:mod:`gateway.smpp.codec`) compiles these tables once at import time; adding a
TLV is one line in ``TLVS``, adding a command is one entry in ``MANDATORY``.

Mandatory parameter kinds (``Field.kind``):

``INT``
    big-endian unsigned integer of ``size`` octets; value ``int``.
``CSTR``
    C-Octet String, at most ``size`` octets *including* the terminating NUL (the spec's
    "Var. max N"); value ``str`` (latin-1, so any octet round-trips).
``SM``
    ``sm_length`` (1 octet) followed by that many octets; value ``bytes`` under the name
    ``short_message``. ``sm_length`` itself is derived, never stored.
``DEST_ADDRESSES``
    submit_multi ``number_of_dests`` + the ``dest_address`` list; value a list of
    :class:`~gateway.smpp.pdu.DestAddress` / :class:`~gateway.smpp.pdu.DistributionList`.
``UNSUCCESS_SMES``
    submit_multi_resp ``no_unsuccess`` + the ``unsuccess_sme`` list; value a list of
    :class:`~gateway.smpp.pdu.UnsuccessSme`.

TLV kinds (``TlvSpec.kind``): ``INT`` (exactly ``size`` octets), ``CSTR`` (at most ``size``
octets including NUL), ``OCTETS`` (``min_size``..``size`` octets, ``bytes``). TLVs whose
width differs between 3.4 and 5.0 or between vendors (telematics ids, ms_validity,
alert_on_message_delivery...) are ``OCTETS`` so that any variant decodes and re-encodes
unchanged. ``multi`` TLVs may occur several times; their value is a list.
"""

import enum
from typing import NamedTuple

from gateway.smpp.constants import CommandId

__all__ = [
    "INT", "CSTR", "OCTETS", "SM", "DEST_ADDRESSES", "UNSUCCESS_SMES",
    "Field", "TlvSpec", "TLVS", "Tag", "TLV_BY_TAG", "TLV_BY_NAME",
    "MANDATORY", "REQUIRED_TLVS",
]

INT = "int"
CSTR = "cstr"
OCTETS = "octets"
SM = "sm"
DEST_ADDRESSES = "dest_addresses"
UNSUCCESS_SMES = "unsuccess_smes"


class Field(NamedTuple):
    """One mandatory parameter: spec name, kind, size (octets or max octets with NUL)."""

    name: str
    kind: str
    size: int = 0


class TlvSpec(NamedTuple):
    """One TLV: tag, spec name, kind, size (exact/max octets), min size, repeatable."""

    tag: int
    name: str
    kind: str
    size: int
    min_size: int = 0
    multi: bool = False


TLVS = (
    # SMPP 3.4 (section 5.3.2) ---------------------------------------------------
    TlvSpec(0x0005, "dest_addr_subunit", INT, 1),
    TlvSpec(0x0006, "dest_network_type", INT, 1),
    TlvSpec(0x0007, "dest_bearer_type", INT, 1),
    TlvSpec(0x0008, "dest_telematics_id", OCTETS, 2),
    TlvSpec(0x000D, "source_addr_subunit", INT, 1),
    TlvSpec(0x000E, "source_network_type", INT, 1),
    TlvSpec(0x000F, "source_bearer_type", INT, 1),
    TlvSpec(0x0010, "source_telematics_id", OCTETS, 2),
    TlvSpec(0x0017, "qos_time_to_live", INT, 4),
    TlvSpec(0x0019, "payload_type", INT, 1),
    TlvSpec(0x001D, "additional_status_info_text", CSTR, 256),
    TlvSpec(0x001E, "receipted_message_id", CSTR, 65),
    TlvSpec(0x0030, "ms_msg_wait_facilities", INT, 1),
    TlvSpec(0x0201, "privacy_indicator", INT, 1),
    TlvSpec(0x0202, "source_subaddress", OCTETS, 23, 2),
    TlvSpec(0x0203, "dest_subaddress", OCTETS, 23, 2),
    TlvSpec(0x0204, "user_message_reference", INT, 2),
    TlvSpec(0x0205, "user_response_code", INT, 1),
    TlvSpec(0x020A, "source_port", INT, 2),
    TlvSpec(0x020B, "destination_port", INT, 2),
    TlvSpec(0x020C, "sar_msg_ref_num", INT, 2),
    TlvSpec(0x020D, "language_indicator", INT, 1),
    TlvSpec(0x020E, "sar_total_segments", INT, 1),
    TlvSpec(0x020F, "sar_segment_seqnum", INT, 1),
    TlvSpec(0x0210, "sc_interface_version", INT, 1),
    TlvSpec(0x0302, "callback_num_pres_ind", INT, 1),
    TlvSpec(0x0303, "callback_num_atag", OCTETS, 65),
    TlvSpec(0x0304, "number_of_messages", INT, 1),
    TlvSpec(0x0381, "callback_num", OCTETS, 19, 4),
    TlvSpec(0x0420, "dpf_result", INT, 1),
    TlvSpec(0x0421, "set_dpf", INT, 1),
    TlvSpec(0x0422, "ms_availability_status", INT, 1),
    TlvSpec(0x0423, "network_error_code", OCTETS, 3, 3),
    TlvSpec(0x0424, "message_payload", OCTETS, 0xFFFF),
    TlvSpec(0x0425, "delivery_failure_reason", INT, 1),
    TlvSpec(0x0426, "more_messages_to_send", INT, 1),
    TlvSpec(0x0427, "message_state", INT, 1),
    TlvSpec(0x0501, "ussd_service_op", INT, 1),
    TlvSpec(0x1201, "display_time", INT, 1),
    TlvSpec(0x1203, "sms_signal", INT, 2),
    TlvSpec(0x1204, "ms_validity", OCTETS, 4),  # 1 octet in 3.4, 1 or 4 in 5.0
    TlvSpec(0x130C, "alert_on_message_delivery", OCTETS, 1),  # 0 octets in 3.4
    TlvSpec(0x1380, "its_reply_type", INT, 1),
    TlvSpec(0x1383, "its_session_info", OCTETS, 2),
    # SMPP 5.0 (section 4.8.4) additions -----------------------------------------
    TlvSpec(0x0428, "congestion_state", INT, 1),
    TlvSpec(0x0600, "broadcast_channel_indicator", INT, 1),
    TlvSpec(0x0601, "broadcast_content_type", OCTETS, 3, 3),
    TlvSpec(0x0602, "broadcast_content_type_info", OCTETS, 255),
    TlvSpec(0x0603, "broadcast_message_class", INT, 1),
    TlvSpec(0x0604, "broadcast_rep_num", INT, 2),
    TlvSpec(0x0605, "broadcast_frequency_interval", OCTETS, 3, 3),
    # Also carries failed_broadcast_area_identifier in broadcast_sm_resp (same tag).
    TlvSpec(0x0606, "broadcast_area_identifier", OCTETS, 0xFFFF, 1, True),
    TlvSpec(0x0607, "broadcast_error_status", INT, 4),
    TlvSpec(0x0608, "broadcast_area_success", INT, 1, 0, True),
    TlvSpec(0x0609, "broadcast_end_time", CSTR, 17),
    TlvSpec(0x060A, "broadcast_service_group", OCTETS, 255),
    TlvSpec(0x060B, "billing_identification", OCTETS, 1024),
    TlvSpec(0x060D, "source_network_id", CSTR, 65),
    TlvSpec(0x060E, "dest_network_id", CSTR, 65),
    TlvSpec(0x060F, "source_node_id", OCTETS, 6, 6),
    TlvSpec(0x0610, "dest_node_id", OCTETS, 6, 6),
    TlvSpec(0x0611, "dest_addr_np_resolution", INT, 1),
    TlvSpec(0x0612, "dest_addr_np_information", OCTETS, 10),
    TlvSpec(0x0613, "dest_addr_np_country", OCTETS, 5, 1),
)

#: TLV tags by spec name (``Tag.message_payload == 0x0424``), built from ``TLVS``.
Tag = enum.IntEnum("Tag", [(spec.name, spec.tag) for spec in TLVS], module=__name__)
Tag.__doc__ = "Standard SMPP 3.4 and 5.0 TLV tags, named as in the specifications."

TLV_BY_TAG = {spec.tag: spec for spec in TLVS}
TLV_BY_NAME = {spec.name: spec for spec in TLVS}


def _cstr(name, size):
    return Field(name, CSTR, size)


def _int(name, size=1):
    return Field(name, INT, size)


_SYSTEM_ID = _cstr("system_id", 16)
_PASSWORD = _cstr("password", 9)
_SERVICE_TYPE = _cstr("service_type", 6)
_MESSAGE_ID = _cstr("message_id", 65)
_SCHEDULE = _cstr("schedule_delivery_time", 17)
_VALIDITY = _cstr("validity_period", 17)


def _source(addr_max=21):
    return (_int("source_addr_ton"), _int("source_addr_npi"), _cstr("source_addr", addr_max))


def _dest(addr_max=21):
    return (_int("dest_addr_ton"), _int("dest_addr_npi"), _cstr("destination_addr", addr_max))


_BIND = (
    _SYSTEM_ID, _PASSWORD, _cstr("system_type", 13), _int("interface_version"),
    _int("addr_ton"), _int("addr_npi"), _cstr("address_range", 41),
)
_MESSAGE_TAIL = (  # submit_sm / deliver_sm / submit_multi after the addresses
    _int("esm_class"), _int("protocol_id"), _int("priority_flag"), _SCHEDULE, _VALIDITY,
    _int("registered_delivery"), _int("replace_if_present_flag"), _int("data_coding"),
    _int("sm_default_msg_id"), Field("short_message", SM),
)
_SM = (_SERVICE_TYPE, *_source(), *_dest(), *_MESSAGE_TAIL)

#: Mandatory parameters of every command, in wire order.
MANDATORY = {
    CommandId.generic_nack: (),
    CommandId.bind_receiver: _BIND,
    CommandId.bind_receiver_resp: (_SYSTEM_ID,),
    CommandId.bind_transmitter: _BIND,
    CommandId.bind_transmitter_resp: (_SYSTEM_ID,),
    CommandId.bind_transceiver: _BIND,
    CommandId.bind_transceiver_resp: (_SYSTEM_ID,),
    CommandId.outbind: (_SYSTEM_ID, _PASSWORD),
    CommandId.unbind: (),
    CommandId.unbind_resp: (),
    CommandId.enquire_link: (),
    CommandId.enquire_link_resp: (),
    CommandId.submit_sm: _SM,
    CommandId.submit_sm_resp: (_MESSAGE_ID,),
    CommandId.deliver_sm: _SM,
    CommandId.deliver_sm_resp: (_MESSAGE_ID,),
    CommandId.submit_multi: (
        _SERVICE_TYPE, *_source(), Field("dest_address", DEST_ADDRESSES), *_MESSAGE_TAIL,
    ),
    CommandId.submit_multi_resp: (_MESSAGE_ID, Field("unsuccess_sme", UNSUCCESS_SMES)),
    CommandId.data_sm: (
        _SERVICE_TYPE, *_source(65), *_dest(65), _int("esm_class"),
        _int("registered_delivery"), _int("data_coding"),
    ),
    CommandId.data_sm_resp: (_MESSAGE_ID,),
    CommandId.query_sm: (_MESSAGE_ID, *_source()),
    CommandId.query_sm_resp: (
        _MESSAGE_ID, _cstr("final_date", 17), _int("message_state"), _int("error_code"),
    ),
    CommandId.cancel_sm: (_SERVICE_TYPE, _MESSAGE_ID, *_source(), *_dest()),
    CommandId.cancel_sm_resp: (),
    CommandId.replace_sm: (
        _MESSAGE_ID, *_source(), _SCHEDULE, _VALIDITY, _int("registered_delivery"),
        _int("sm_default_msg_id"), Field("short_message", SM),
    ),
    CommandId.replace_sm_resp: (),
    CommandId.alert_notification: (
        *_source(65), _int("esme_addr_ton"), _int("esme_addr_npi"), _cstr("esme_addr", 65),
    ),
    CommandId.broadcast_sm: (
        _SERVICE_TYPE, *_source(), _MESSAGE_ID, _int("priority_flag"), _SCHEDULE, _VALIDITY,
        _int("replace_if_present_flag"), _int("data_coding"), _int("sm_default_msg_id"),
    ),
    CommandId.broadcast_sm_resp: (_MESSAGE_ID,),
    CommandId.query_broadcast_sm: (_MESSAGE_ID, *_source()),
    CommandId.query_broadcast_sm_resp: (_MESSAGE_ID,),
    CommandId.cancel_broadcast_sm: (_SERVICE_TYPE, _MESSAGE_ID, *_source()),
    CommandId.cancel_broadcast_sm_resp: (),
}

#: TLVs SMPP 5.0 makes mandatory; their absence is ESME_RMISSINGTLV.
REQUIRED_TLVS = {
    CommandId.broadcast_sm: (
        "broadcast_area_identifier", "broadcast_content_type", "broadcast_rep_num",
        "broadcast_frequency_interval",
    ),
    CommandId.query_broadcast_sm_resp: (
        "message_state", "broadcast_area_identifier", "broadcast_area_success",
    ),
}
