"""
`AdminContext`: what the admin API works with, built once the engine is ready
(`gateway.admin.wiring`).  Parts another engineer's code may or may not have
started (the SMPP server's bind registries, the metrics) are looked up
through callables, so the admin API works with whatever is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = ["AdminContext"]


@dataclass
class AdminContext:
    """The engine's store objects and parts, plus the archive, sync and metrics."""

    node: str
    config: object
    redis: object
    clock: object
    accounts: object
    acceptor: object
    queues: object
    router: object
    providers: dict
    archive: object
    auth: object
    puller: object = None
    metrics: object = None
    notifier: object = None
    #: returns the live `gateway.smpp.binds.BindRegistry` objects of this process
    registries: Callable[[], list] = field(default=lambda: [])
    #: re-reads the configuration and returns the new routes (`Router.reload` applies them)
    load_routes: Callable | None = None
