"""SMPP 3.4 / 5.0 numeric constants as ``IntEnum`` types with the specification's names.

Command ids use the lower-case PDU names of the specification (``CommandId.submit_sm``)
so that ``pdu.command_id.name`` is the spec name; everything else uses upper case.
Where SMPP 5.0 renamed a 3.4 status, both names exist (the second one is an alias).
"""

import enum

__all__ = [
    "CommandId", "CommandStatus", "MessageState", "DataCoding", "EsmClass",
    "RegisteredDelivery", "Ton", "Npi", "InterfaceVersion", "NetworkType",
    "RESPONSE_BIT",
]

#: Bit set in the command_id of every response PDU.
RESPONSE_BIT = 0x80000000


class CommandId(enum.IntEnum):
    """The command_id of every SMPP 3.4 and 5.0 PDU."""

    generic_nack = 0x80000000
    bind_receiver = 0x00000001
    bind_receiver_resp = 0x80000001
    bind_transmitter = 0x00000002
    bind_transmitter_resp = 0x80000002
    query_sm = 0x00000003
    query_sm_resp = 0x80000003
    submit_sm = 0x00000004
    submit_sm_resp = 0x80000004
    deliver_sm = 0x00000005
    deliver_sm_resp = 0x80000005
    unbind = 0x00000006
    unbind_resp = 0x80000006
    replace_sm = 0x00000007
    replace_sm_resp = 0x80000007
    cancel_sm = 0x00000008
    cancel_sm_resp = 0x80000008
    bind_transceiver = 0x00000009
    bind_transceiver_resp = 0x80000009
    outbind = 0x0000000B
    enquire_link = 0x00000015
    enquire_link_resp = 0x80000015
    submit_multi = 0x00000021
    submit_multi_resp = 0x80000021
    alert_notification = 0x00000102
    data_sm = 0x00000103
    data_sm_resp = 0x80000103
    # SMPP 5.0 broadcast operations.
    broadcast_sm = 0x00000111
    broadcast_sm_resp = 0x80000111
    query_broadcast_sm = 0x00000112
    query_broadcast_sm_resp = 0x80000112
    cancel_broadcast_sm = 0x00000113
    cancel_broadcast_sm_resp = 0x80000113

    @property
    def is_resp(self):
        """True for response PDUs (generic_nack included)."""
        return bool(self & RESPONSE_BIT)


class CommandStatus(enum.IntEnum):
    """command_status values: SMPP 3.4 and 5.0 codes plus this gateway's vendor codes."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    # 0xC0-0xC4: 3.4 names first, the 5.0 names are aliases of the same values.
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_RINVTLVSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RTLVNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RINVTLVLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RMISSINGTLV = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RINVTLVVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF
    # SMPP 5.0 additions.
    ESME_RSERTYPUNAUTH = 0x00000100
    ESME_RPROHIBITED = 0x00000101
    ESME_RSERTYPUNAVAIL = 0x00000102
    ESME_RSERTYPDENIED = 0x00000103
    ESME_RINVDCS = 0x00000104
    ESME_RINVSRCADDRSUBUNIT = 0x00000105
    ESME_RINVDSTADDRSUBUNIT = 0x00000106
    ESME_RINVBCASTFREQINT = 0x00000107
    ESME_RINVBCASTALIAS_NAME = 0x00000108
    ESME_RINVBCASTAREAFMT = 0x00000109
    ESME_RINVNUMBCAST_AREAS = 0x0000010A
    ESME_RINVBCASTCNTTYPE = 0x0000010B
    ESME_RINVBCASTMSGCLASS = 0x0000010C
    ESME_RBCASTFAIL = 0x0000010D
    ESME_RBCASTQUERYFAIL = 0x0000010E
    ESME_RBCASTCANCELFAIL = 0x0000010F
    ESME_RINVBCAST_REP = 0x00000110
    ESME_RINVBCASTSRVGRP = 0x00000111
    ESME_RINVBCASTCHANIND = 0x00000112
    # Vendor-specific range 0x0400-0x04FF: the codes this gateway answers with.
    VENDOR_BAD_ENCODING = 0x00000400
    VENDOR_MESSAGE_TOO_LONG = 0x00000401
    VENDOR_REGISTRATION_ERROR = 0x00000402
    VENDOR_FORBIDDEN_WORDS = 0x00000403
    VENDOR_BLACKLISTED = 0x00000404
    VENDOR_INSUFFICIENT_FUNDS = 0x00000433
    VENDOR_NO_TARIFF = 0x0000043C
    VENDOR_NO_UPSTREAM_TARIFF = 0x0000043F
    VENDOR_TRANSPORT_ERROR = 0x00000446
    VENDOR_DUPLICATE = 0x00000453
    VENDOR_NO_ROUTING_POLICY = 0x0000045A


class MessageState(enum.IntEnum):
    """message_state (query_sm_resp, the message_state TLV), with DLR ``stat:`` names."""

    SCHEDULED = 0  # 5.0
    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8
    SKIPPED = 9  # 5.0

    @property
    def stat(self):
        """The short name used in delivery receipt text (``stat:DELIVRD``)."""
        return _STAT_BY_STATE[self]

    @property
    def is_final(self):
        """True when the message will not change state any more."""
        return self not in (MessageState.SCHEDULED, MessageState.ENROUTE,
                            MessageState.ACCEPTED, MessageState.UNKNOWN)

    @classmethod
    def from_stat(cls, stat):
        """Map a receipt ``stat:`` value (short or full name, any case) to a state.

        Unrecognised values give ``UNKNOWN`` rather than an error: receipts come from
        SMSCs that invent their own words.
        """
        key = stat.strip().upper()
        if key in _STATE_BY_STAT:
            return _STATE_BY_STAT[key]
        return cls.__members__.get(key, cls.UNKNOWN)


_STAT_BY_STATE = {
    MessageState.SCHEDULED: "SCHEDULED",
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
    MessageState.SKIPPED: "SKIPPED",
}
_STATE_BY_STAT = {v: k for k, v in _STAT_BY_STATE.items()}


class DataCoding(enum.IntEnum):
    """data_coding values of SMPP 3.4 section 5.2.19 (the low, non-GSM-DCS range)."""

    DEFAULT = 0x00  # SMSC default alphabet; GSM 03.38 here
    IA5 = 0x01  # IA5 / ASCII
    BINARY = 0x02  # octet unspecified (8-bit binary)
    LATIN_1 = 0x03  # ISO-8859-1
    BINARY_4 = 0x04  # octet unspecified (8-bit binary), second code
    JIS = 0x05
    CYRILLIC = 0x06  # ISO-8859-5
    LATIN_HEBREW = 0x07  # ISO-8859-8
    UCS2 = 0x08  # ISO/IEC-10646, sent as UTF-16BE
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A
    EXTENDED_KANJI_JIS = 0x0D
    KS_C_5601 = 0x0E


class EsmClass(enum.IntEnum):
    """esm_class bits: messaging mode (bits 1-0), message type (bits 5-2), GSM features."""

    MODE_DEFAULT = 0x00
    MODE_DATAGRAM = 0x01
    MODE_FORWARD = 0x02
    MODE_STORE_AND_FORWARD = 0x03
    MODE_MASK = 0x03
    TYPE_DEFAULT = 0x00
    TYPE_DELIVERY_RECEIPT = 0x04  # SMSC delivery receipt (deliver_sm)
    TYPE_DELIVERY_ACK = 0x08  # SME delivery acknowledgement
    TYPE_MANUAL_ACK = 0x10  # SME manual/user acknowledgement
    TYPE_CONVERSATION_ABORT = 0x18  # Korean CDMA
    TYPE_INTERMEDIATE_NOTIFICATION = 0x20
    TYPE_MASK = 0x3C
    UDHI = 0x40  # short_message starts with a User Data Header
    REPLY_PATH = 0x80
    UDHI_AND_REPLY_PATH = 0xC0


class RegisteredDelivery(enum.IntEnum):
    """registered_delivery bits: SMSC receipt (bits 1-0), SME acks (3-2), intermediate (4)."""

    NONE = 0x00
    RECEIPT = 0x01  # on success or failure
    RECEIPT_ON_FAILURE = 0x02
    RECEIPT_ON_SUCCESS = 0x03  # 5.0
    RECEIPT_MASK = 0x03
    SME_DELIVERY_ACK = 0x04
    SME_MANUAL_ACK = 0x08
    SME_BOTH_ACKS = 0x0C
    INTERMEDIATE_NOTIFICATION = 0x10


class Ton(enum.IntEnum):
    """Type of Number (addr_ton, source_addr_ton, dest_addr_ton...)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(enum.IntEnum):
    """Numbering Plan Indicator (addr_npi, source_addr_npi, dest_addr_npi...)."""

    UNKNOWN = 0
    ISDN = 1  # E.163/E.164
    DATA = 3  # X.121
    TELEX = 4  # F.69
    LAND_MOBILE = 6  # E.212
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14  # IP
    WAP_CLIENT_ID = 18  # 5.0


class InterfaceVersion(enum.IntEnum):
    """interface_version / sc_interface_version values."""

    SMPP_3_3 = 0x33
    SMPP_3_4 = 0x34
    SMPP_5_0 = 0x50


class NetworkType(enum.IntEnum):
    """First octet of the network_error_code TLV."""

    ANSI_136 = 1
    IS_95 = 2
    GSM = 3
