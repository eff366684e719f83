"""
Reading a ``[provider:NAME]`` section for the channel providers (SMTP,
Telegram, vendor HTTP APIs, HLR): every value is a string in the INI file;
`Options` turns them into typed values and raises `ProviderOptionError`
(a ValueError, so the engine reports it as a configuration error naming the
section) that names the key, its value and what is allowed.
"""

from __future__ import annotations

import re

__all__ = ["Options", "ProviderOptionError"]

_TRUE = ("yes", "true", "on", "1")
_FALSE = ("no", "false", "off", "0")
_URL = re.compile(r"https?://[^\s/]+\S*")


class ProviderOptionError(ValueError):
    """A bad option of ``[provider:NAME]``: ``key``, its ``value`` and the ``problem``."""

    def __init__(self, provider: str, key: str, value, problem: str):
        self.provider, self.key, self.value, self.problem = provider, key, value, problem
        super().__init__(f"[provider:{provider}] {key} = {value!r}: {problem}")


class Options:
    """Typed access to one section's string options; unknown keys are refused up front."""

    def __init__(self, provider: str, options: dict, known):
        self.provider = provider
        self.raw = {k: str(v) for k, v in options.items()}
        known = set(known) | {"type"}
        for key in self.raw:
            if key not in known:
                raise self.bad(key, "unknown key; known keys: " + ", ".join(sorted(known - {"type"})))

    def bad(self, key: str, problem: str) -> ProviderOptionError:
        return ProviderOptionError(self.provider, key, self.raw.get(key), problem)

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.raw.get(key, default).strip()
        if required and not value:
            raise self.bad(key, "required")
        return value

    def choice(self, key: str, choices, default: str) -> str:
        value = self.text(key, default).lower()
        if value not in choices:
            raise self.bad(key, "expected one of " + ", ".join(choices))
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.text(key, "yes" if default else "no").lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self.bad(key, "expected yes or no")

    def number(self, key: str, default, low, high, kind=float):
        text = self.text(key, str(default))
        try:
            value = kind(text)
        except ValueError:
            raise self.bad(key, f"expected a number from {low} to {high}") from None
        if not low <= value <= high:
            raise self.bad(key, f"expected a number from {low} to {high}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        return self.number(key, default, low, high, int)

    def url(self, key: str, default: str = "", required: bool = True) -> str:
        value = self.text(key, default)
        if not value and not required:
            return ""
        if not _URL.fullmatch(value):
            raise self.bad(key, "expected an http:// or https:// URL")
        return value

    def lines(self, key: str) -> list[tuple[str, str]]:
        """``Name: value`` pairs, one a line (HTTP headers)."""
        pairs = []
        for line in self.raw.get(key, "").splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep or not re.fullmatch(r"[A-Za-z0-9\-]+", name.strip()):
                raise self.bad(key, "expected one 'Name: value' per line")
            pairs.append((name.strip(), value.strip()))
        return pairs

    def mapping(self, key: str) -> dict[str, str]:
        """``a=b, c=d`` (or one a line) → {a: b, c: d}."""
        result = {}
        for item in re.split(r"[,\n]", self.raw.get(key, "")):
            if not item.strip():
                continue
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise self.bad(key, "expected name=value pairs separated by commas")
            result[name.strip()] = value.strip()
        return result
