"""
``smsgw sync``: pull the archives of the ``[sync] nodes`` now, from the command
line, into the Redis the gateway with the same ``--config`` uses, and say how
many messages came from each node (``office: received 12 messages``).  Works
whether or not the gateway is running; a pull the gateway is doing at the
same moment is reported as busy rather than done twice.
"""

from __future__ import annotations

import sys

from gateway.archive.query import Archive
from gateway.config import ConfigError, load
from gateway.sync.client import FeedClient
from gateway.sync.nodes import nodes_from_config
from gateway.sync.puller import Puller

__all__ = ["run_sync", "describe"]


def describe(result) -> str:
    """One line per node, as the command prints it."""
    if result.busy:
        return f"{result.node}: already being pulled by the gateway; try again in a moment"
    if result.error is not None:
        return f"{result.node}: failed: {result.error}"
    line = f"{result.node}: received {result.added} messages"
    if result.updated:
        line += f", {result.updated} updated"
    if result.skipped:
        line += f", {result.skipped} unreadable records skipped"
    return line


async def run_sync(redis, reactor, args, out=sys.stdout, err=sys.stderr) -> int:
    """Pull every node (or ``args.node``); 0 when all succeeded, 1 when one failed, 2 on bad usage."""
    try:
        config = load(args.config, {"gateway": {"datadir": args.datadir}} if args.datadir else {})
        nodes = nodes_from_config(config)
    except ConfigError as e:
        print(f"error: configuration: {e}", file=err)
        return 2
    if args.node:
        nodes = [n for n in nodes if n.name == args.node]
    if not nodes:
        known = ", ".join(n.name for n in nodes_from_config(config)) or "none configured"
        print(f"error: no such [sync] node {args.node!r} (known: {known})" if args.node
              else f"error: no [sync] nodes in {config.source}", file=err)
        return 2
    puller = Puller(Archive(redis, reactor, config.redis["timeout"]), nodes, reactor, interval=0,
                    client=FeedClient(reactor, config.sync["timeout"]))
    results = await puller.sync_all()
    for result in results:
        print(describe(result), file=out)
    return 1 if any(r.error is not None or r.busy for r in results) else 0
