"""
Message templates: named texts with variables, per account.

Two engines, as billing systems write them:

- ``printf``: ``%(name)s`` / ``%(sum)5.2f`` (Python %-formatting with a mapping,
  the style of Carbon Billing's message templates).  A number conversion
  accepts a numeric string ("12.5"), since JSON clients send both.
- ``jinja``: Jinja2 in a `SandboxedEnvironment` with `StrictUndefined`, so a
  template can neither reach Python internals nor silently print nothing for
  a missing variable.

Rendering with a variable missing raises `UnknownVariable` naming it (the API
answers 422 with the name).  Templates are stored in Redis by `TemplateStore`.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from twisted.internet import defer

from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import DEFAULT_TIMEOUT, call

__all__ = ["Template", "TemplateError", "TemplateSyntaxError", "UnknownVariable",
           "BadVariable", "TemplateStore", "ENGINES", "MAX_TEMPLATE"]

ENGINES = ("printf", "jinja")
MAX_TEMPLATE = 10_000  # characters of a template body
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_PRINTF = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conv>.)", re.S)
_NUMERIC = set("diouxXeEfFgGc")
_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class TemplateError(ValueError):
    """A template cannot be stored or rendered."""


class TemplateSyntaxError(TemplateError):
    """The template body is not valid for its engine."""


class UnknownVariable(TemplateError):
    """Rendering needs ``variable``, which was not given."""

    def __init__(self, variable: str):
        self.variable = variable
        super().__init__(f"unknown template variable {variable!r}")


class BadVariable(TemplateError):
    """``variable`` was given, but not in a form its conversion accepts."""

    def __init__(self, variable: str, problem: str):
        self.variable = variable
        super().__init__(f"template variable {variable!r}: {problem}")


@dataclass(frozen=True)
class Template:
    """One named template; ``compile`` checks it, ``render`` fills it in."""

    name: str
    body: str
    engine: str = "printf"

    def __post_init__(self):
        if not _NAME.fullmatch(self.name or ""):
            raise TemplateError("a template name is 1-64 letters, digits, '_', '.' or '-'")
        if self.engine not in ENGINES:
            raise TemplateError(f"unknown template engine {self.engine!r}; known: {', '.join(ENGINES)}")
        if len(self.body) > MAX_TEMPLATE:
            raise TemplateError(f"a template is at most {MAX_TEMPLATE} characters")

    @property
    def variables(self) -> list[str]:
        """The variable names the template uses, sorted."""
        if self.engine == "jinja":
            return sorted(meta.find_undeclared_variables(_parse_jinja(self.body)))
        return sorted({name for name, _ in _printf_fields(self.body) if name})

    def compile(self):
        """Check the syntax; returns what `render` uses (cached by `TemplateStore`)."""
        if self.engine == "jinja":
            _parse_jinja(self.body)
            try:
                return _ENV.from_string(self.body)
            except jinja2.TemplateSyntaxError as e:
                raise TemplateSyntaxError(f"line {e.lineno}: {e.message}") from None
        return _printf_fields(self.body)

    def render(self, variables: dict, compiled=None) -> str:
        """The text with ``variables`` filled in; raises `UnknownVariable` / `BadVariable`."""
        compiled = self.compile() if compiled is None else compiled
        if self.engine == "jinja":
            return _render_jinja(compiled, variables)
        return _render_printf(self.body, compiled, variables)

    def to_json(self) -> str:
        return json.dumps({"body": self.body, "engine": self.engine}, ensure_ascii=False)

    @classmethod
    def from_json(cls, name: str, raw) -> "Template":
        value = json.loads(as_text(raw))
        return cls(name, value["body"], value.get("engine", "printf"))


def _parse_jinja(body: str):
    try:
        return _ENV.parse(body)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateSyntaxError(f"line {e.lineno}: {e.message}") from None


def _render_jinja(compiled, variables: dict) -> str:
    try:
        return compiled.render(**variables)
    except jinja2.UndefinedError as e:
        match = re.search(r"'([^']+)' is undefined", str(e))
        raise UnknownVariable(match.group(1) if match else str(e)) from None
    except jinja2.exceptions.SecurityError as e:
        raise TemplateError(f"not allowed in a template: {e}") from None
    except (TypeError, ValueError, ArithmeticError) as e:
        raise TemplateError(f"template failed: {e}") from None


def _printf_fields(body: str) -> list[tuple[str, str]]:
    """``[(name, conversion)]`` of every ``%(name)…`` field; positional fields are refused."""
    fields = []
    for match in _PRINTF.finditer(body):
        name, conv = match.group("name"), match.group("conv")
        if conv == "%" and name is None:
            continue
        if name is None:
            raise TemplateSyntaxError("printf templates use named fields only: %(name)s")
        if conv not in _NUMERIC and conv not in "sra":
            raise TemplateSyntaxError(f"unsupported conversion %({name}){conv}")
        fields.append((name, conv))
    return fields


def _render_printf(body: str, fields, variables: dict) -> str:
    values = {}
    for name, conv in fields:
        if name not in variables:
            raise UnknownVariable(name)
        values[name] = _coerce(name, variables[name], conv)
    try:
        return body % values
    except (TypeError, ValueError, OverflowError) as e:
        raise TemplateError(f"template failed: {e}") from None


def _coerce(name: str, value, conv: str):
    if conv not in _NUMERIC or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        number = float(str(value))
    except ValueError:
        raise BadVariable(name, f"expected a number, got {value!r}") from None
    return int(number) if conv in "diouxXc" else number


class TemplateStore:
    """Templates per account in Redis (a hash ``name`` → JSON), compiled once per process."""

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT, cache_size: int = 1024):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout
        self.cache_size = cache_size
        self._compiled: OrderedDict = OrderedDict()

    def _call(self, method, *args) -> defer.Deferred:
        return call(self.redis, self.clock, method, *args, timeout=self.timeout)

    def put(self, account: str, template: Template) -> defer.Deferred:
        """Store ``template`` (checked first); fires True if it replaced one of that name."""
        template.compile()
        d = self._call("hset", keys.templates(account), template.name, template.to_json())
        return d.addCallback(lambda created: not int(created))

    def get(self, account: str, name: str) -> defer.Deferred:
        """The `Template`, or None."""
        d = self._call("hget", keys.templates(account), name)
        return d.addCallback(lambda raw: None if raw is None else Template.from_json(name, raw))

    def list(self, account: str) -> defer.Deferred:
        """Every template of ``account``, sorted by name."""
        d = self._call("hgetall", keys.templates(account))
        return d.addCallback(lambda stored: sorted(
            (Template.from_json(as_text(k), v) for k, v in stored.items()), key=lambda t: t.name))

    def delete(self, account: str, name: str) -> defer.Deferred:
        """Fires True if the template existed."""
        return self._call("hdel", keys.templates(account), name).addCallback(lambda n: int(n) > 0)

    def render(self, template: Template, variables: dict) -> str:
        """`Template.render`, with the compiled form cached by body."""
        key = (template.engine, template.body)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = template.compile()
            self._compiled[key] = compiled
            if len(self._compiled) > self.cache_size:
                self._compiled.popitem(last=False)
        return template.render(variables, compiled)
