"""
The keys of a ``[provider:NAME] type = smpp`` section, parsed and validated.

`parse_options(section)` takes the section as strings and returns an
`SMPPOptions`; anything wrong raises `OptionError` (a ValueError) naming the
key, the value and what is allowed, which the configuration loader turns into
a ConfigError with file and section.  `KEYS` documents every key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.smpp.client import BindMode
from gateway.smpp.constants import CommandStatus, InterfaceVersion
from gateway.smpp.split import SplitMode

__all__ = ["OptionError", "SMPPOptions", "parse_options", "KEYS"]


class OptionError(ValueError):
    """A bad key or value in an smpp provider section."""

    def __init__(self, key: str, value, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        shown = "(missing)" if value is None else repr(value)
        super().__init__(f"{key} = {shown}: {allowed}")


def _text(max_octets: int):
    def parse(key, value):
        if len(value.encode("latin-1", "replace")) > max_octets:
            raise OptionError(key, value, f"at most {max_octets} characters")
        return value
    return parse


def _number(kind, minimum, maximum=None):
    def parse(key, value):
        try:
            number = kind(value, 0) if kind is int else kind(value)
        except ValueError:
            raise OptionError(key, value, f"a {'whole ' if kind is int else ''}number") from None
        if number < minimum or (maximum is not None and number > maximum):
            top = "" if maximum is None else f" and {maximum}"
            raise OptionError(key, value, f"a number between {minimum}{top}" if top else f"a number of at least {minimum}")
        return number
    return parse


def _choice(*allowed):
    def parse(key, value):
        if value.lower() not in allowed:
            raise OptionError(key, value, "one of " + ", ".join(allowed))
        return value.lower()
    return parse


def _yes_no(key, value):
    lowered = value.lower()
    if lowered in ("yes", "true", "on", "1"):
        return True
    if lowered in ("no", "false", "off", "0"):
        return False
    raise OptionError(key, value, "yes or no")


def _ton_npi(key, value):
    if value.lower() == "auto":
        return None
    return _number(int, 0, 255)(key, value)


def _statuses(key, value):
    codes = []
    for word in re.split(r"[\s,]+", value.strip()):
        if word:
            codes.append(_number(int, 0, 0xFFFFFFFF)(key, word))
    return frozenset(codes)


def _interface_version(key, value):
    versions = {"3.3": InterfaceVersion.SMPP_3_3, "3.4": InterfaceVersion.SMPP_3_4,
                "5.0": InterfaceVersion.SMPP_5_0, "0x33": 0x33, "0x34": 0x34, "0x50": 0x50}
    if value.lower() not in versions:
        raise OptionError(key, value, "3.4, 5.0 (or 0x34, 0x50)")
    return int(versions[value.lower()])


_BINDS = ("transmitter", "receiver", "transceiver", "transmitter+receiver")
_SPLITS = {"udh": SplitMode.UDH8, "udh16": SplitMode.UDH16, "sar": SplitMode.SAR,
           "payload": SplitMode.PAYLOAD}

#: key → (parser, default, what it is).  A default of None means required.
KEYS = {
    "type": (_choice("smpp"), "smpp", "provider type"),
    "host": (_text(255), None, "SMSC host name or address"),
    "port": (_number(int, 1, 65535), "2775", "SMSC port"),
    "bind": (_choice(*_BINDS), "transceiver", "bind mode; transmitter+receiver opens two connections"),
    "system_id": (_text(15), None, "login"),
    "password": (_text(8), "", "password"),
    "system_type": (_text(12), "", "system_type of the bind (e.g. MCON2, ISO)"),
    "interface_version": (_interface_version, "3.4", "interface_version of the bind"),
    "address_range": (_text(40), "", "address_range of the bind"),
    "tls": (_yes_no, "no", "connect over TLS"),
    "tls_verify": (_yes_no, "yes", "verify the SMSC certificate and host name"),
    "tls_ca": (_text(4096), "", "PEM file of the CA to trust (empty: the system's CAs)"),
    "tls_hostname": (_text(255), "", "name the certificate must carry (empty: host)"),
    "tls_cert": (_text(4096), "", "PEM file with our client certificate and key (optional)"),
    "reconnect_initial": (_number(float, 0.01), "1", "first reconnect delay, seconds"),
    "reconnect_max": (_number(float, 0.01), "60", "longest reconnect delay, seconds"),
    "reconnect_factor": (_number(float, 1.0, 10.0), "2", "growth of the reconnect delay"),
    "enquire_link": (_number(float, 0), "30", "enquire_link interval when idle, seconds (0: never)"),
    "response_timeout": (_number(float, 0.1), "30", "seconds to wait for any response"),
    "window": (_number(int, 1, 10000), "10", "submits awaiting a response at most"),
    "throughput": (_number(float, 0), "0", "messages per second at most (0: no cap)"),
    "burst": (_number(float, 0), "0", "tokens saved up at most (0: one second of throughput)"),
    "throttle_pause": (_number(float, 0.01), "1", "pause after ESME_RTHROTTLED/RMSGQFUL, seconds"),
    "throttle_pause_max": (_number(float, 0.01), "30", "longest pause after repeated throttling"),
    "temporary_errors": (_statuses, "0x14 0x58 0x64", "command_status values retried later (others fail over)"),
    "split": (_choice(*_SPLITS), "udh", "how long messages are sent: udh, udh16, sar, payload"),
    "data_coding": (_choice("auto", "auto_latin1", "latin1", "ucs2"), "auto",
                    "auto: GSM 03.38 else UCS2; auto_latin1 adds Latin-1; latin1/ucs2 force"),
    "smsc_alphabet": (_choice("gsm", "latin1"), "gsm", "what data_coding 0 means to this SMSC"),
    "source_ton": (_ton_npi, "auto", "source_addr_ton (auto: 5 for names, 1 for +numbers)"),
    "source_npi": (_ton_npi, "auto", "source_addr_npi (auto: 0 for names, 1 for numbers)"),
    "dest_ton": (_ton_npi, "1", "dest_addr_ton"),
    "dest_npi": (_ton_npi, "1", "dest_addr_npi"),
    "default_source": (_text(20), "", "sender for messages without one"),
    "service_type": (_text(5), "", "service_type of submit_sm"),
    "receipt_ids": (_choice("auto", "as_is"), "auto",
                    "auto: also try the hex/decimal form of a receipt's id; as_is: exact only"),
    "mo_timeout": (_number(float, 1), "300", "seconds to wait for all parts of a long MO message"),
}


@dataclass(frozen=True)
class SMPPOptions:
    """A validated smpp provider section (see `KEYS`)."""

    host: str
    port: int
    bind: str
    system_id: str
    password: str
    system_type: str
    interface_version: int
    address_range: str
    tls: bool
    tls_verify: bool
    tls_ca: str
    tls_hostname: str
    tls_cert: str
    reconnect_initial: float
    reconnect_max: float
    reconnect_factor: float
    enquire_link: float
    response_timeout: float
    window: int
    throughput: float
    burst: float
    throttle_pause: float
    throttle_pause_max: float
    temporary_errors: frozenset
    split: str
    data_coding: str
    smsc_alphabet: str
    source_ton: int | None
    source_npi: int | None
    dest_ton: int | None
    dest_npi: int | None
    default_source: str
    service_type: str
    receipt_ids: str
    mo_timeout: float
    type: str = "smpp"

    @property
    def bind_modes(self) -> tuple[BindMode, ...]:
        """One mode per connection."""
        if self.bind == "transmitter+receiver":
            return (BindMode.TRANSMITTER, BindMode.RECEIVER)
        return (BindMode(self.bind),)

    @property
    def split_mode(self) -> SplitMode:
        return _SPLITS[self.split]

    @property
    def throttling_errors(self) -> frozenset:
        """The statuses that mean "slow down": they pause the token bucket."""
        return frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})


def parse_options(section: dict) -> SMPPOptions:
    """Validate a provider section (strings); raises `OptionError` for the first problem."""
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        raise OptionError(unknown[0], section[unknown[0]], "unknown key; known keys: " + ", ".join(KEYS))
    values = {}
    for key, (parse, default, _) in KEYS.items():
        raw = section.get(key)
        if raw is None:
            if default is None:
                raise OptionError(key, None, "this key is required")
            raw = default
        values[key] = parse(key, str(raw).strip())
    if not values["host"]:
        raise OptionError("host", "", "this key is required")
    if values["reconnect_max"] < values["reconnect_initial"]:
        raise OptionError("reconnect_max", section.get("reconnect_max"), "at least reconnect_initial")
    if values["tls_ca"] and not values["tls"]:
        raise OptionError("tls_ca", values["tls_ca"], "only with tls = yes")
    return SMPPOptions(**values)
