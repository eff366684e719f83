"""
``twistd smsgw``: command-line options and the service maker.

Option errors are `usage.UsageError`; a configuration file error ends start-up
with the one line `ConfigError` gives (file, section, key, value, what is
allowed) instead of twistd's whole usage text.
"""

from __future__ import annotations

import sys

from twisted.python import usage

from gateway import config as configuration
from gateway.logs import LEVELS

__all__ = ["Options", "makeService"]


class Options(usage.Options):
    synopsis = "[--config FILE] [--datadir DIR] [--loglevel LEVEL]"
    longdesc = (
        "Runs the smsgw gateway.  Without --config it runs on built-in defaults: an embedded "
        "redis-server in the data directory, SMPP on 127.0.0.1:2775, HTTP on 127.0.0.1:8080."
    )
    optParameters = [
        ["config", "c", None, "INI configuration file (default: built-in defaults)"],
        ["datadir", "d", None, "data directory; overrides [gateway] datadir"],
        ["loglevel", "l", None, "lowest level logged: " + ", ".join(LEVELS) + "; overrides [gateway] loglevel"],
    ]

    def postOptions(self):
        if self["loglevel"] is not None and self["loglevel"] not in LEVELS:
            raise usage.UsageError(f"--loglevel must be one of: {', '.join(LEVELS)}")
        overrides = {"gateway": {}}
        if self["datadir"] is not None:
            overrides["gateway"]["datadir"] = self["datadir"]
        if self["loglevel"] is not None:
            overrides["gateway"]["loglevel"] = self["loglevel"]
        try:
            self.config = configuration.load(self["config"], overrides)
        except configuration.ConfigError as e:
            sys.stderr.write(f"smsgw: configuration error: {e}\n")
            raise SystemExit(2) from None


def makeService(options: Options):
    from gateway.service import build

    gateway = build(options.config)
    gateway.handle_signals = True
    return gateway
