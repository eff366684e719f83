"""
Messenger and voice vendors over HTTP (``[provider:NAME] type = viber``,
``voice`` or ``social``): one HTTP request per message, its shape written
in the configuration — JSON body, form POST or GET — so a new vendor is a
config snippet (presets in ``etc/providers/``), not code.

Templates (``url``, ``body``, ``headers``) hold placeholders: ``%phone%``
(digits), ``%e164%`` (``+`` and digits), ``%text%``, ``%sender%`` (the
message's source, else the ``sender`` option), ``%id%`` (our message id),
``%voice%`` (the message's ``voice:``, else the ``voice`` option),
``%subject%``, ``%login%``, ``%password%``, ``%token%``, and any other
channel parameter by name.  ``body`` is JSON for ``method = json`` (every
string in it is filled in) or ``name=value&…`` for ``post`` and ``get``.

An answer is judged: no answer, 408, 429 or 5xx → temporary; another non-2xx
→ permanent with the HTTP status as error code; a 2xx failing
``success_json`` (``path`` must be truthy, ``path=value`` must equal) →
permanent, error code from ``error_json`` if numeric, else 400.  The
upstream id is at ``id_json`` (else our id).  ``report = accept`` (default)
reports the message DELIVERED once the vendor took it; ``report =
callback`` waits for the vendor's status callback at ``/dlr/<provider>``
(``dlr_id``, ``dlr_status``, ``dlr_error`` paths; ``dlr_map`` =
``DELIVERED=read,seen; UNDELIVERABLE=failed``; ``dlr_token``).

Other options: ``channels`` (what it carries; default by type: viber,
call, soc), ``token`` (sent as ``Authorization: Bearer`` unless ``headers``
use ``%token%``), ``basic_user``/``basic_password``, ``login``/``password``
(for templates), ``concurrency`` (10), ``timeout`` (30), ``ca_file``.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IProvider
from gateway.logs import Logger
from gateway.model import SendResult, State
from gateway.providers.http import BadDlr
from gateway.providers.options import Options
from gateway.providers.webapi import Unreachable, WebClient
from gateway.smpp.constants import CommandStatus
from gateway.providers.concurrent import ConcurrentSends

__all__ = ["VendorProvider", "VendorOptions", "viber", "voice", "social", "json_path", "fill", "fill_json",
           "WRONG_CHANNEL"]

TRANSPORT_ERROR = CommandStatus.VENDOR_TRANSPORT_ERROR
#: Error code of a message on a channel the provider does not carry (a route sends it to the wrong kind).
WRONG_CHANNEL = CommandStatus.VENDOR_NO_ROUTING_POLICY
PLACEHOLDER = re.compile(r"%([a-z][a-z0-9_]*)%")
DEFAULT_CHANNELS = {"viber": ("viber",), "voice": ("call",), "social": ("soc",)}
DEFAULT_DLR_MAP = {"delivered": State.DELIVERED, "read": State.DELIVERED, "seen": State.DELIVERED,
                   "answered": State.DELIVERED, "completed": State.DELIVERED, "sent": State.ENROUTE,
                   "submitted": State.ENROUTE, "accepted": State.ENROUTE, "pending": State.ENROUTE,
                   "failed": State.UNDELIVERABLE, "undeliverable": State.UNDELIVERABLE,
                   "undelivered": State.UNDELIVERABLE, "busy": State.UNDELIVERABLE,
                   "no_answer": State.UNDELIVERABLE, "rejected": State.REJECTED, "expired": State.EXPIRED}
_KNOWN = ("url", "method", "body", "headers", "channels", "sender", "voice", "token", "login", "password",
          "basic_user", "basic_password", "success_json", "error_json", "id_json", "report", "dlr_id",
          "dlr_status", "dlr_error", "dlr_map", "dlr_token", "concurrency", "timeout", "ca_file")


@dataclass(frozen=True)
class VendorOptions:
    url: str
    method: str = "json"
    body: str = ""
    headers: tuple = ()
    channels: tuple = ()
    sender: str = ""
    voice: str = ""
    token: str = ""
    login: str = ""
    password: str = ""
    basic: tuple | None = None
    success_json: tuple = ()
    error_json: str = ""
    id_json: str = ""
    report: str = "accept"
    dlr_id: str = "id"
    dlr_status: str = "status"
    dlr_error: str = ""
    dlr_map: dict = field(default_factory=lambda: dict(DEFAULT_DLR_MAP))
    dlr_token: str = ""
    concurrency: int = 10
    timeout: float = 30.0
    ca_file: str = ""

    @classmethod
    def parse(cls, name: str, kind: str, options: dict) -> "VendorOptions":
        o = Options(name, options, _KNOWN)
        method = o.choice("method", ("json", "post", "get"), "json")
        body = o.raw.get("body", "").strip()
        if method == "json" and body:
            try:
                json.loads(body)
            except json.JSONDecodeError as e:
                raise o.bad("body", f"method json needs a JSON template: {e}") from None
        elif body and any("=" not in pair for pair in body.split("&") if pair):
            raise o.bad("body", "expected name=value pairs joined by &")
        user, secret = o.text("basic_user"), o.text("basic_password")
        if bool(user) != bool(secret):
            raise o.bad("basic_password" if user else "basic_user",
                        "basic auth needs both basic_user and basic_password")
        success = o.text("success_json")
        path, sep, expected = success.partition("=")
        channels = tuple(c.strip() for c in o.text("channels").split(",") if c.strip()) or DEFAULT_CHANNELS[kind]
        return cls(url=o.url("url", "").replace(" ", ""), method=method, body=body, headers=tuple(o.lines("headers")),
                   channels=channels, sender=o.text("sender"), voice=o.text("voice"), token=o.text("token"),
                   login=o.text("login"), password=o.text("password"), basic=(user, secret) if user else None,
                   success_json=(path.strip(), expected.strip() if sep else None) if success else (),
                   error_json=o.text("error_json"), id_json=o.text("id_json"),
                   report=o.choice("report", ("accept", "callback"), "accept"),
                   dlr_id=o.text("dlr_id", "id"), dlr_status=o.text("dlr_status", "status"),
                   dlr_error=o.text("dlr_error"), dlr_map=_dlr_map(o), dlr_token=o.text("dlr_token"),
                   concurrency=o.integer("concurrency", 10, 1, 1000), timeout=o.number("timeout", 30, 1, 600),
                   ca_file=o.text("ca_file"))


def _dlr_map(o: Options) -> dict:
    mapping = dict(DEFAULT_DLR_MAP)
    for group in o.raw.get("dlr_map", "").split(";"):
        if not group.strip():
            continue
        name, sep, words = group.partition("=")
        state = State.__members__.get(name.strip().upper())
        if not sep or state is None:
            raise o.bad("dlr_map", "expected STATE=word,word; … with states " + ", ".join(State.__members__))
        mapping.update({w.strip().lower(): state for w in words.split(",") if w.strip()})
    return mapping


def json_path(document, path: str):
    """``a.b.0.c`` in a parsed JSON document; None when a step is missing."""
    node = document
    for step in path.split("."):
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    return node


def fill(template: str, values: dict, escape=lambda s: s) -> str:
    """``template`` with every ``%name%`` replaced (unknown names by nothing)."""
    return PLACEHOLDER.sub(lambda m: escape(values.get(m.group(1), "")), template)


def fill_json(node, values):
    if isinstance(node, str):
        return fill(node, values)
    if isinstance(node, list):
        return [fill_json(item, values) for item in node]
    if isinstance(node, dict):
        return {fill(k, values): fill_json(v, values) for k, v in node.items()}
    return node


@implementer(IProvider)
class VendorProvider(ConcurrentSends):
    """See the module docstring."""

    log = Logger()

    def __init__(self, name: str, options: VendorOptions, sink, reactor=None, web: WebClient | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.options = options
        self.sink = sink
        self.reactor = reactor
        self.web = web or WebClient(reactor, options.concurrency, options.timeout, options.ca_file)

    def values(self, message) -> dict:
        """The placeholder values for ``message``."""
        o = self.options
        number = re.sub(r"\D", "", message.destination)
        values = {k: str(v) for k, v in (message.extra or {}).items() if isinstance(v, (str, int))}
        values.update(phone=number, e164="+" + number, text=message.text, sender=message.source or o.sender,
                      id=message.id, login=o.login, password=o.password, token=o.token)
        values["voice"] = values.get("voice") or o.voice
        values.setdefault("subject", "")
        return values

    def request(self, message) -> dict:
        """The keyword arguments of `WebClient.request` for ``message``."""
        o = self.options
        values = self.values(message)
        headers = {name: fill(value, values) for name, value in o.headers}
        if o.token and not any("%token%" in value for _, value in o.headers):
            headers.setdefault("Authorization", f"Bearer {o.token}")
        url = fill(o.url, values, lambda v: quote(v, safe=""))
        request = {"headers": headers, "auth": o.basic}
        if o.method == "json":
            request.update(method="POST", json_body=fill_json(json.loads(o.body or "{}"), values))
        else:
            pairs = [(name, fill(value, values)) for name, _, value in
                     (pair.partition("=") for pair in o.body.split("&") if pair)]
            if o.method == "get":
                request["params"] = pairs
                request["method"] = "GET"
            else:
                request.update(method="POST", form=urlencode(pairs).encode("ascii"))
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request["url"] = url
        return request

    async def _send(self, message) -> SendResult:
        if message.channel not in self.options.channels:
            return SendResult.permanent(WRONG_CHANNEL, f"{self.name} carries {', '.join(self.options.channels)}, "
                                                       f"not {message.channel}")
        request = self.request(message)
        try:
            answer = await self.web.request(request.pop("method"), request.pop("url"), **request)
        except Unreachable as e:
            self.log.warn("{provider}: {id} not sent: {error}", provider=self.name, id=message.id, error=str(e))
            return SendResult.temporary(TRANSPORT_ERROR, str(e))
        result = self.judge(answer.status, answer.document, answer.text, message.id)
        if result.outcome.value != "sent":
            self.log.warn("{provider}: {id} refused ({outcome}): {reason}", provider=self.name, id=message.id,
                          outcome=result.outcome.value, reason=result.reason)
        elif self.options.report == "accept":
            self.reactor.callLater(0, self._report, result.upstream_ids[0], State.DELIVERED, 0)
        return result

    def judge(self, status: int, document, text: str, our_id: str) -> SendResult:
        """The outcome of an HTTP answer (see the module docstring)."""
        o = self.options
        if status >= 500 or status in (408, 429):
            return SendResult.temporary(status, f"HTTP {status}")
        if not 200 <= status < 300:
            return SendResult.permanent(status, f"HTTP {status}: {text[:200]}")
        if o.success_json:
            path, expected = o.success_json
            found = json_path(document, path)
            if (expected is None and not found) or (expected is not None and str(found) != expected):
                code = json_path(document, o.error_json) if o.error_json else None
                code = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else 400
                return SendResult.permanent(code, f"{path} is {found!r}: {text[:200]}")
        upstream_id = json_path(document, o.id_json) if o.id_json else None
        if isinstance(upstream_id, (dict, list)) or upstream_id in (None, ""):
            upstream_id = our_id
        return SendResult.sent(str(upstream_id))

    def _report(self, upstream_id: str, state: State, code: int) -> None:
        d = defer.maybeDeferred(self.sink.report, self.name, upstream_id, state, code)
        d.addErrback(lambda f: self.log.warn("receipt of {upstream_id} via {provider} not recorded: {error}",
                                             upstream_id=upstream_id, provider=self.name, error=f.getErrorMessage()))

    # -- status callbacks, through /dlr/<provider>

    def handle_dlr(self, fields: dict, document=None) -> defer.Deferred:
        """A vendor's status callback; fires with our id (None: unknown).  Raises `BadDlr`."""
        o = self.options

        def get(path):
            return fields[path] if path in fields else json_path(document, path) if document is not None else None

        upstream_id, word = get(o.dlr_id), get(o.dlr_status)
        state = o.dlr_map.get(str(word).strip().lower()) if word is not None else None
        if upstream_id in (None, "") or state is None:
            raise BadDlr(f"a status callback for {self.name} needs {o.dlr_id!r} and a {o.dlr_status!r} "
                         f"in its dlr_map, got {word!r}")
        code = get(o.dlr_error) if o.dlr_error else 0
        try:
            code = int(code or 0)
        except (TypeError, ValueError):
            code = 0
        return self.sink.report(self.name, str(upstream_id), state, code)

    def token_ok(self, token: str) -> bool:
        expected = self.options.dlr_token
        return not expected or hmac.compare_digest(token.encode(), expected.encode())


def _factory(kind: str):
    def build(name, options, sink, reactor) -> VendorProvider:
        return VendorProvider(name, VendorOptions.parse(name, kind, options), sink, reactor)

    build.__doc__ = f"``[provider:NAME] type = {kind}``; raises `ProviderOptionError` (a ValueError)."
    return build


viber = _factory("viber")
voice = _factory("voice")
social = _factory("social")
