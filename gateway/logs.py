"""
Logging: every smsgw `Logger` publishes through one level filter, so that
``twistd smsgw --loglevel debug`` (or ``[gateway] loglevel``) decides what reaches
the observers twistd set up.
"""

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogPublisher,
)
from twisted.logger import Logger as _TwistedLogger

__all__ = ["Logger", "set_level", "enabled", "LEVELS"]

LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
    "critical": LogLevel.critical,
}

_predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)
_observer = FilteringLogObserver(globalLogPublisher, [_predicate])


def set_level(name: str) -> None:
    """Set the lowest level logged by smsgw, by name (debug, info, warn, error, critical)."""
    _predicate.setLogLevelForNamespace(None, LEVELS[name])


def enabled(level: LogLevel, namespace: str | None = None) -> bool:
    """True if events of ``level`` from ``namespace`` pass the filter: a cheap guard for
    per-PDU debug logging, whose event building costs even when filtered out."""
    return level >= _predicate.logLevelForNamespace(namespace)


class Logger(_TwistedLogger):
    """A twisted.logger.Logger that publishes through smsgw's level filter."""

    def __init__(self, namespace=None, source=None, observer=None):
        super().__init__(namespace, source, _observer if observer is None else observer)
