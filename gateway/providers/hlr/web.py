"""
An HLR vendor's web API (``lookup = http``): one request per number, the
answer's fields picked out by JSON paths.

Options: ``url`` (``%phone%`` digits, ``%e164%`` with ``+``), ``method`` =
get | post | json, ``body`` (template as for the vendor providers),
``headers``, ``token`` (``Authorization: Bearer`` unless ``headers`` use
``%token%``), ``basic_user``/``basic_password``; answer paths
``status_json`` (a word), ``reachable`` (the words meaning a live
subscriber; others → UNDELIVERABLE), ``error_json`` (a numeric error),
``imsi_json``, ``msc_json``, ``mcc_json``, ``mnc_json``, ``cn_json``,
``net_json``, ``rcn_json``, ``rnet_json``; ``timeout``, ``concurrency``,
``ca_file``.  No answer, 408, 429 or 5xx → `LookupFailed` (retried); another
non-2xx → UNDELIVERABLE with the HTTP status as error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IHlrLookup
from gateway.model import State
from gateway.providers.hlr.answer import HLR_FIELDS, NOT_REACHABLE, HlrAnswer, LookupFailed
from gateway.providers.options import Options
from gateway.providers.vendor import fill_json, fill, json_path
from gateway.providers.webapi import Unreachable, WebClient

__all__ = ["HttpLookup", "HttpLookupOptions", "KNOWN"]

DEFAULT_REACHABLE = ("connected", "delivrd", "delivered", "ok", "active", "reachable", "true", "1")
KNOWN = ("url", "method", "body", "headers", "token", "basic_user", "basic_password", "status_json", "reachable",
         "error_json", "timeout", "concurrency", "ca_file") + tuple(f"{name}_json" for name in HLR_FIELDS)


@dataclass(frozen=True)
class HttpLookupOptions:
    url: str
    method: str = "get"
    body: str = ""
    headers: tuple = ()
    token: str = ""
    basic: tuple | None = None
    status_json: str = "status"
    reachable: tuple = DEFAULT_REACHABLE
    error_json: str = ""
    paths: dict = field(default_factory=dict)
    timeout: float = 30.0
    concurrency: int = 10
    ca_file: str = ""

    @classmethod
    def parse(cls, o: Options) -> "HttpLookupOptions":
        method = o.choice("method", ("get", "post", "json"), "get")
        body = o.raw.get("body", "").strip()
        if method == "json" and body:
            try:
                json.loads(body)
            except json.JSONDecodeError as e:
                raise o.bad("body", f"method json needs a JSON template: {e}") from None
        user, secret = o.text("basic_user"), o.text("basic_password")
        if bool(user) != bool(secret):
            raise o.bad("basic_password" if user else "basic_user",
                        "basic auth needs both basic_user and basic_password")
        reachable = tuple(w.strip().lower() for w in o.text("reachable").split(",") if w.strip())
        return cls(url=o.url("url"), method=method, body=body, headers=tuple(o.lines("headers")),
                   token=o.text("token"), basic=(user, secret) if user else None,
                   status_json=o.text("status_json", "status"), reachable=reachable or DEFAULT_REACHABLE,
                   error_json=o.text("error_json"),
                   paths={name: o.text(f"{name}_json") for name in HLR_FIELDS if o.text(f"{name}_json")},
                   timeout=o.number("timeout", 30, 1, 600), concurrency=o.integer("concurrency", 10, 1, 1000),
                   ca_file=o.text("ca_file"))


@implementer(IHlrLookup)
class HttpLookup:
    """Looks numbers up at an HLR vendor; see the module docstring."""

    def __init__(self, options: HttpLookupOptions, reactor, web: WebClient | None = None):
        self.options = options
        self.web = web or WebClient(reactor, options.concurrency, options.timeout, options.ca_file)

    def lookup(self, msisdn: str) -> defer.Deferred:
        return defer.ensureDeferred(self._lookup(msisdn))

    async def _lookup(self, msisdn: str) -> HlrAnswer:
        o = self.options
        number = re.sub(r"\D", "", msisdn)
        values = {"phone": number, "e164": "+" + number, "token": o.token}
        headers = {name: fill(value, values) for name, value in o.headers}
        if o.token and not any("%token%" in value for _, value in o.headers):
            headers.setdefault("Authorization", f"Bearer {o.token}")
        url = fill(o.url, values, lambda v: quote(v, safe=""))
        kwargs = {"headers": headers, "auth": o.basic}
        if o.method == "json":
            kwargs["json_body"] = fill_json(json.loads(o.body or "{}"), values)
        elif o.body:
            pairs = [(k, fill(v, values)) for k, _, v in (p.partition("=") for p in o.body.split("&") if p)]
            if o.method == "get":
                kwargs["params"] = pairs
            else:
                kwargs["form"] = urlencode(pairs).encode("ascii")
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            answer = await self.web.request("GET" if o.method == "get" else "POST", url, **kwargs)
        except Unreachable as e:
            raise LookupFailed(str(e)) from None
        if answer.status >= 500 or answer.status in (408, 429):
            raise LookupFailed(f"HTTP {answer.status}")
        if not 200 <= answer.status < 300:
            return HlrAnswer(State.UNDELIVERABLE, answer.status, reason=f"HTTP {answer.status}: {answer.text[:200]}")
        return self.read(answer.document)

    def read(self, document) -> HlrAnswer:
        """The `HlrAnswer` in a vendor's JSON answer."""
        o = self.options
        if not isinstance(document, (dict, list)):
            raise LookupFailed("the answer is not JSON")
        word = json_path(document, o.status_json)
        live = str(word).strip().lower() in o.reachable if word is not None else False
        error = json_path(document, o.error_json) if o.error_json else None
        try:
            error = int(error or 0)
        except (TypeError, ValueError):
            error = 0
        fields = {}
        for name, path in o.paths.items():
            value = json_path(document, path)
            fields[name] = "" if value is None or isinstance(value, (dict, list, bool)) else str(value)
        if live:
            return HlrAnswer(State.DELIVERED, error, **fields)
        return HlrAnswer(State.UNDELIVERABLE, error or NOT_REACHABLE, reason=f"status {word!r}", **fields)
