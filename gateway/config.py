"""
The INI configuration, parsed into typed, validated objects at start-up.

This is the only module that reads the configuration file.  Every section and
key smsgw knows is declared once in `SCHEMA` (fixed sections) and
`PREFIXED` (``[account:NAME]``, ``[provider:NAME]``, ``[route:NAME]``);
a wrong value, an unknown key or an unknown section raises `ConfigError`,
whose text is one line naming the file, section, key, the bad value and what
is allowed.
"""

from __future__ import annotations

import configparser
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["Config", "ConfigError", "load", "SCHEMA", "PREFIXED"]


class ConfigError(Exception):
    """A configuration problem, pinned to file, section and key."""

    def __init__(self, source, section, key, value, allowed):
        self.source = source
        self.section = section
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(str(self))

    def __str__(self):
        where = f"{self.source}: [{self.section}]"
        if self.key is not None:
            where += f" {self.key} = {self.value!r}"
        return f"{where}: {self.allowed}"


class _Invalid(ValueError):
    """Raised by a value parser; the loader turns it into a ConfigError."""


# -- value parsers: str -> typed value, raising _Invalid(what is allowed) ----


def text(value: str) -> str:
    return value.strip()


def boolean(value: str) -> bool:
    v = value.strip().lower()
    if v in ("yes", "true", "on", "1"):
        return True
    if v in ("no", "false", "off", "0"):
        return False
    raise _Invalid("expected yes or no")


def integer(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            n = int(value.strip())
        except ValueError:
            raise _Invalid("expected a whole number") from None
        if n < minimum or (maximum is not None and n > maximum):
            top = "" if maximum is None else f" and {maximum}"
            raise _Invalid(f"expected a whole number between {minimum}{top or ' and up'}")
        return n

    return parse


def seconds(value: str) -> float:
    try:
        n = float(value.strip())
    except ValueError:
        raise _Invalid("expected a number of seconds") from None
    if n < 0:
        raise _Invalid("expected a number of seconds, 0 or more")
    return n


def seconds_from(minimum: float) -> Callable[[str], float]:
    """A number of seconds of at least *minimum* (a lease of 0 s would hand messages to two nodes)."""
    def parse(value: str) -> float:
        n = seconds(value)
        if n < minimum:
            raise _Invalid(f"expected a number of seconds, {minimum:g} or more")
        return n

    return parse


def choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        v = value.strip().lower()
        if v not in options:
            raise _Invalid("expected one of: " + ", ".join(options))
        return v

    return parse


def words(value: str) -> list[str]:
    """A list separated by commas and/or white space."""
    return [w for w in re.split(r"[,\s]+", value.strip()) if w]


def items(value: str) -> list[str]:
    """A comma-separated list whose items may contain spaces."""
    return [w.strip() for w in value.split(",") if w.strip()]


def decimal_or_none(value: str) -> Decimal | None:
    if not value.strip():
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise _Invalid("expected a decimal number, or empty for none") from None


def tariff(value: str) -> dict[str, Decimal]:
    """``7:1.50, 380:2`` → {"7": Decimal("1.50"), "380": Decimal("2")}."""
    prices = {}
    for item in items(value):
        prefix, sep, price = item.partition(":")
        if not sep or not prefix.strip().isdigit():
            raise _Invalid("expected prefix:price pairs, e.g. 7:1.50, 380:2")
        try:
            prices[prefix.strip()] = Decimal(price.strip())
        except InvalidOperation:
            raise _Invalid("expected prefix:price pairs, e.g. 7:1.50, 380:2") from None
    return prices


def networks(value: str) -> list[str]:
    result = []
    for item in words(value):
        try:
            result.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise _Invalid("expected IP addresses or networks, e.g. 10.0.0.0/8, 192.0.2.7") from None
    return result


def quiet_hours(value: str) -> str:
    v = value.strip()
    if v and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", v):
        raise _Invalid("expected HH:MM-HH:MM, e.g. 22:00-08:00, or empty")
    return v


def url(value: str) -> str:
    v = value.strip()
    if v and not re.match(r"^https?://[^\s/]+", v):
        raise _Invalid("expected an http:// or https:// URL, or empty")
    return v


def redis_url(value: str) -> str:
    v = value.strip()
    if v and not re.match(r"^(redis|rediss|unix|sentinel)://", v):
        raise _Invalid(
            "expected empty (embedded redis-server), redis://host:port/db, "
            "unix:///path/redis.sock or sentinel://host:port,host:port/master"
        )
    return v


def endpoints(value: str) -> list[str]:
    """Space-separated Twisted server endpoint strings, checked for syntax."""
    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString

    result = value.split()
    for description in result:
        kind = description.split(":", 1)[0]
        if kind not in ("tcp", "ssl", "unix", "tcp6"):
            raise _Invalid("expected tcp:…, tcp6:…, ssl:… or unix:… endpoint strings")
        try:
            # Builds the endpoint (and loads TLS key/certificate files); nothing listens yet.
            serverFromString(reactor, description)
        except Exception as e:
            raise _Invalid(f"expected Twisted endpoint strings like tcp:2775:interface=127.0.0.1 ({e})") from None
    return result


def path(value: str) -> Path:
    if not value.strip():
        raise _Invalid("expected a directory path")
    return Path(value.strip()).expanduser()


# -- the schema ---------------------------------------------------------------

Key = tuple  # (parser, default)


def _simulator_schema() -> dict[str, Key]:
    """The bundled SMSC simulator's keys, checked here as text and fully by `_check_simulator`."""
    from gateway.simulator.config import KEYS

    typed = {"enabled": boolean, "listen": endpoints, "dlr_delay": seconds}
    return {key: (typed.get(key, text), default) for key, (_, default, _) in KEYS.items()}

SCHEMA: dict[str, dict[str, Key]] = {
    "gateway": {
        "node": (text, socket.gethostname()),
        "datadir": (path, "./var"),
        "plugins_dir": (text, "./plugins"),
        "loglevel": (choice("debug", "info", "warn", "error", "critical"), "info"),
        "lease": (seconds_from(1), "30"),
        "report_lease": (seconds_from(1), "60"),
    },
    "redis": {
        "url": (redis_url, ""),
        "fsync": (choice("everysec", "always"), "everysec"),
        "timeout": (seconds, "5"),
    },
    "smpp": {
        "listen": (endpoints, "tcp:2775:interface=127.0.0.1"),
        "bind_timeout": (seconds, "10"),
        "response_timeout": (seconds, "60"),
        "inactivity_timeout": (seconds, "120"),
        "window": (integer(1, 10000), "100"),
        "max_pdu_size": (integer(64, 1048576), "65536"),
        "max_binds": (integer(0), "1000"),
        "failed_bind_limit": (integer(0), "5"),
        "failed_bind_delay": (seconds, "60"),
        "unbind_timeout": (seconds, "5"),
        "report_poll": (seconds, "2"),
        "report_retry": (seconds, "5"),
        "max_pending": (integer(1), "2000"),
        "system_id": (text, "smsgw"),
        "failed_bind_account_limit": (integer(0), "10"),
    },
    "http": {
        "listen": (endpoints, "tcp:8080:interface=127.0.0.1"),
        "default_region": (text, "RU"),
        "failed_login_limit": (integer(0), "20"),
        "failed_login_account_limit": (integer(0), "20"),
        "failed_login_window": (seconds, "60"),
        "failed_login_block": (seconds, "60"),
    },
    "admin": {
        "token": (text, ""),
        "accounts": (items, ""),
    },
    "archive": {
        "retention_days": (integer(0), "90"),
    },
    # the simulator validates its own keys (gateway.simulator.config.KEYS); see _simulator()
    "simulator": None,
    "sync": {
        "nodes": (items, ""),
        "interval": (seconds, "300"),
        "timeout": (seconds, "30"),
    },
}

SCHEMA["simulator"] = _simulator_schema()

PREFIXED: dict[str, dict[str, Key]] = {
    "account": {
        "password": (text, ""),
        "api_keys": (words, ""),
        "enabled": (boolean, "yes"),
        "throughput": (integer(0), "30"),
        "max_connections": (integer(1, 9), "1"),
        "allowed_ips": (networks, ""),
        "system_type": (text, ""),
        "dedup_window": (integer(0), "60"),
        "blacklist": (words, ""),
        "forbidden_words": (items, ""),
        "balance": (decimal_or_none, ""),
        "tariff": (tariff, ""),
        "dlr_url": (url, ""),
        "mo_url": (url, ""),
        "callback_method": (choice("get", "post"), "post"),
        "allowed_senders": (items, ""),
        "quiet_hours": (quiet_hours, ""),
        "timezone": (text, "UTC"),
        "default_region": (text, "RU"),
    },
    # Keys of a provider depend on its type; the provider plugin validates them.
    "provider": {
        "type": (text, None),
    },
    "route": {
        "account": (text, "*"),
        "channel": (text, "sms"),
        "prefix": (text, ""),
        "providers": (words, None),
    },
}


@dataclass
class Config:
    """The whole configuration, typed.  Sections are plain dicts of typed values."""

    source: str
    sections: dict[str, dict[str, Any]]
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: True when no configuration file was given (embedded demo defaults).
    defaults_only: bool = False

    def __getattr__(self, name):
        try:
            return self.__dict__["sections"][name]
        except KeyError:
            raise AttributeError(name) from None

    def provider_error(self, name: str, key: str | None, problem: str) -> ConfigError:
        """An error about a provider section, for provider plugins that validate their keys."""
        value = None if key is None else self.providers[name].get(key)
        return ConfigError(self.source, f"provider:{name}", key, value, problem)


def _parse_section(source, section, schema, given: Mapping[str, str], open_keys=False):
    result, extra = {}, {}
    for key, value in given.items():
        if key not in schema:
            if open_keys:
                extra[key] = value.strip()
                continue
            raise ConfigError(source, section, key, value, "unknown key; known keys: " + ", ".join(schema))
        parser, _ = schema[key]
        try:
            result[key] = parser(value)
        except _Invalid as e:
            raise ConfigError(source, section, key, value, str(e)) from None
    for key, (parser, default) in schema.items():
        if key in result:
            continue
        if default is None:
            raise ConfigError(source, section, key, None, "this key is required")
        result[key] = parser(default)
    result.update(extra)
    return result


def load(filename: str | None = None, overrides: Mapping[str, Mapping[str, str]] | None = None) -> Config:
    """
    Read and validate *filename* (None: built-in defaults only).

    *overrides* are applied on top of the file, as ``{section: {key: value}}``
    strings (command-line options such as ``--datadir``).
    """
    source = filename or "<defaults>"
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    parser.optionxform = str  # keys are case-sensitive, as documented
    if filename is not None:
        try:
            with open(filename, encoding="utf-8") as f:
                parser.read_file(f, source=filename)
        except OSError as e:
            raise ConfigError(source, "-", None, None, f"cannot read the file: {e.strerror}") from None
        except configparser.Error as e:
            problem = " ".join(str(e).split())
            raise ConfigError(source, "-", None, None, f"not a valid INI file: {problem}") from None
    for section, values in (overrides or {}).items():
        if not parser.has_section(section):
            parser.add_section(section)
        for key, value in values.items():
            parser.set(section, key, value)

    config = Config(source=source, sections={}, defaults_only=filename is None)
    for section in parser.sections():
        given = dict(parser.items(section))
        kind, sep, name = section.partition(":")
        if not sep and kind in SCHEMA:
            config.sections[kind] = _parse_section(source, section, SCHEMA[kind], given)
        elif sep and kind in PREFIXED and re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
            values = _parse_section(source, section, PREFIXED[kind], given, open_keys=kind == "provider")
            getattr(config, kind + "s" if kind != "account" else "accounts")[name] = values
        elif sep and kind in PREFIXED:
            raise ConfigError(source, section, None, None, "the name after ':' must be 1-64 letters, digits, '_', '.' or '-'")
        else:
            known = ", ".join(list(SCHEMA) + [p + ":NAME" for p in PREFIXED])
            raise ConfigError(source, section, None, None, f"unknown section; known sections: {known}")
    for kind, schema in SCHEMA.items():
        if kind not in config.sections:
            config.sections[kind] = _parse_section(source, kind, schema, {})
    if filename is None:
        _add_demo(config)
    _check_simulator(config)
    _check_references(config)
    return config


def _check_simulator(config: Config) -> None:
    from gateway.simulator.config import SimulatorOptionError, parse_simulator_options

    try:
        parse_simulator_options(config.simulator)
    except SimulatorOptionError as e:
        raise ConfigError(config.source, "simulator", e.key, e.value, e.allowed) from None


#: What a gateway started without a configuration file runs: one demo account
#: and a route to the demo upstream, so that a newcomer can send a message and
#: see its receipt at once.  Never used when a configuration file is given.
DEMO_ACCOUNT = {"password": "demo", "api_keys": "demo", "throughput": "100"}


def _add_demo(config: Config) -> None:
    config.accounts["demo"] = _parse_section(config.source, "account:demo", PREFIXED["account"], DEMO_ACCOUNT)
    config.simulator["enabled"] = True
    config.admin["token"] = config.admin["token"] or "demo-admin"
    config.routes["demo"] = _parse_section(config.source, "route:demo", PREFIXED["route"],
                                           {"providers": "simulator"})


def _check_references(config: Config) -> None:
    for name, route in config.routes.items():
        for provider in route["providers"]:
            if provider not in config.providers and provider != "simulator":
                raise ConfigError(
                    config.source, f"route:{name}", "providers", " ".join(route["providers"]),
                    f"no [provider:{provider}] section; defined providers: "
                    + (", ".join(config.providers) or "none"),
                )
        if route["account"] != "*" and route["account"] not in config.accounts:
            raise ConfigError(
                config.source, f"route:{name}", "account", route["account"],
                "no such [account:…] section (use * for every account)",
            )
