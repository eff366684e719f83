"""
The ``[sync] nodes`` setting: comma-separated ``[name=]URL|API-key`` entries.

``name`` is how this gateway tags the records of that node (the archive's
``origin``); by default the URL's host and port.  The key is the remote's
``[admin] token`` (its whole archive) or one of its accounts' API keys (that
account's messages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.config import Config, ConfigError

__all__ = ["SyncNode", "parse_nodes", "nodes_from_config"]

_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


@dataclass(frozen=True)
class SyncNode:
    """One remote node: ``name`` (origin tag here), base ``url``, ``key``."""

    name: str
    url: str
    key: str

    def __repr__(self) -> str:  # never the key: it is a secret
        return f"SyncNode({self.name!r}, {self.url!r})"


def parse_nodes(entries) -> list[SyncNode]:
    """`SyncNode` for each ``[name=]URL|key`` entry; ValueError naming the bad entry."""
    nodes, names = [], set()
    for entry in entries:
        target, bar, key = entry.rpartition("|")
        if not bar or not key.strip():
            raise ValueError(f"{_shown(entry)}: expected [name=]URL|API-key")
        name, eq, url = target.partition("=")
        if not eq or name.strip().lower() in ("http", "https") or "/" in name:
            name, url = "", target
        url = url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{_shown(entry)}: the URL must be http:// or https://host[:port]")
        name = name.strip() or parts.netloc
        if not _NAME.fullmatch(name):
            raise ValueError(f"node name {name!r}: 1-64 letters, digits, '_', '.', ':' or '-'")
        if name in names:
            raise ValueError(f"node name {name!r} is used twice")
        names.add(name)
        nodes.append(SyncNode(name, url, key.strip()))
    return nodes


def nodes_from_config(config: Config) -> list[SyncNode]:
    """The configured nodes; `ConfigError` pinned to ``[sync] nodes`` when one is wrong."""
    try:
        return parse_nodes(config.sync["nodes"])
    except ValueError as e:
        raise ConfigError(config.source, "sync", "nodes", "…", str(e)) from None


def _shown(entry: str) -> str:
    """An entry for an error message, without its key."""
    target, bar, _ = entry.rpartition("|")
    return repr(target + "|***" if bar else entry)
