"""
Routing: which providers, in failover order, carry a message of an account on
a channel to a destination.

Rules come from ``[route:NAME]`` sections.  A rule for the account itself beats
a ``*`` rule; among rules of the same account the longest destination prefix
wins; a rule for the channel beats a ``*`` channel rule.  No rule → `NoRoute`
(vendor status 0x045A).  `Router.reload` swaps the whole rule set at once, so
a lookup never sees half of an old and half of a new configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Route", "Router", "NoRoute", "NO_ROUTING_POLICY"]

#: The vendor command_status for "no routing policy".
NO_ROUTING_POLICY = 0x045A


@dataclass(frozen=True)
class Route:
    """One rule: messages of ``account`` on ``channel`` to numbers starting with ``prefix``."""

    name: str
    account: str = "*"
    channel: str = "sms"
    prefix: str = ""
    providers: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "providers", tuple(self.providers))
        object.__setattr__(self, "prefix", self.prefix.lstrip("+"))
        if not self.providers:
            raise ValueError(f"route {self.name!r} names no providers")
        if any("," in p or not p for p in self.providers):
            raise ValueError(f"route {self.name!r}: provider names must be non-empty, without commas")


class NoRoute(Exception):
    """No rule matches; ``status`` is the SMPP command_status to answer with."""

    status = NO_ROUTING_POLICY

    def __init__(self, account: str, channel: str, destination: str):
        super().__init__(f"no route for account {account!r}, channel {channel!r}, destination {destination!r}")
        self.account, self.channel, self.destination = account, channel, destination


class Router:
    """Looks up routes; built from `Route` objects, reloadable at run time."""

    def __init__(self, routes=()):
        self._table: dict = {}
        self.reload(routes)

    def reload(self, routes) -> None:
        """Replace every rule at once.  Raises ValueError for two rules with the same match."""
        table: dict[tuple[str, str], list[Route]] = {}
        seen: dict[tuple, str] = {}
        for route in routes:
            key = (route.account, route.channel, route.prefix)
            if key in seen:
                raise ValueError(f"routes {seen[key]!r} and {route.name!r} match the same messages")
            seen[key] = route.name
            table.setdefault((route.account, route.channel), []).append(route)
        for rules in table.values():
            rules.sort(key=lambda r: len(r.prefix), reverse=True)
        self._table = table

    @property
    def routes(self) -> list[Route]:
        return [r for rules in self._table.values() for r in rules]

    def route(self, account: str, channel: str, destination: str) -> Route:
        """The rule for this message; raises `NoRoute`."""
        table = self._table  # one read: a concurrent reload() cannot mix rule sets
        number = destination.lstrip("+")
        for key in ((account, channel), (account, "*"), ("*", channel), ("*", "*")):
            for rule in table.get(key, ()):
                if number.startswith(rule.prefix):
                    return rule
        raise NoRoute(account, channel, destination)

    def providers(self) -> set[str]:
        """Every provider name some rule uses."""
        return {p for r in self.routes for p in r.providers}
