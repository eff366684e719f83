"""
``twistd -n smsc-sim``: the simulator on its own.

    twistd -n smsc-sim --port 2776 --http 8026 --set dlr_delay=1 --set "outcomes=7999 undeliverable"
    twistd -n smsc-sim --config etc/smsgw.ini        # its [simulator] section

``--port`` / ``--http`` take a port number (on 127.0.0.1) or a Twisted endpoint
string; ``--set KEY=VALUE`` overrides one key of the section (see
`gateway.simulator.config.KEYS`).  Errors are `usage.UsageError` naming the key.
"""

from __future__ import annotations

import configparser

from twisted.python import usage

from gateway.simulator.config import KEYS, SimulatorOptionError, parse_simulator_options

__all__ = ["Options", "makeService", "DEFAULT_PORT"]

DEFAULT_PORT = "tcp:2776:interface=127.0.0.1"


def _endpoint(value: str) -> str:
    return f"tcp:{value}:interface=127.0.0.1" if value.isdigit() else value


class Options(usage.Options):
    synopsis = "[--port ENDPOINT] [--http ENDPOINT] [--config FILE] [--set KEY=VALUE]..."
    longdesc = ("Runs the SMPP 3.4 SMSC simulator. Keys for --set: " + ", ".join(KEYS) + ".")
    optParameters = [
        ["port", "p", None, f"SMPP port number or endpoint (default: [simulator] listen, else {DEFAULT_PORT})"],
        ["http", None, None, "HTTP port number or endpoint for POST /mo and GET /stats (default: none)"],
        ["config", "c", None, "INI file whose [simulator] section is read"],
    ]

    def __init__(self):
        super().__init__()
        self.overrides: dict[str, str] = {}

    def opt_set(self, value: str) -> None:
        """Set one simulator key: KEY=VALUE (repeatable)."""
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise usage.UsageError(f"--set takes KEY=VALUE, not {value!r}")
        self.overrides[key.strip()] = rest

    opt_s = opt_set

    def postOptions(self):
        section = _read_section(self["config"]) if self["config"] else {}
        section.pop("enabled", None)
        section.setdefault("listen", DEFAULT_PORT)
        section.update(self.overrides)
        if self["port"]:
            section["listen"] = _endpoint(self["port"])
        if self["http"]:
            section["http_listen"] = _endpoint(self["http"])
        try:
            self.settings = parse_simulator_options(section)
        except SimulatorOptionError as e:
            raise usage.UsageError(str(e)) from None


def _read_section(path: str) -> dict:
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    parser.optionxform = str
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f, source=path)
    except OSError as e:
        raise usage.UsageError(f"{path}: cannot read the file: {e.strerror}") from None
    except configparser.Error as e:
        raise usage.UsageError(f"{path}: not a valid INI file: {' '.join(str(e).split())}") from None
    return dict(parser.items("simulator")) if parser.has_section("simulator") else {}


def makeService(options: Options):
    from gateway.simulator.service import SimulatorService

    return SimulatorService(options.settings)
