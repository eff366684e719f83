"""
The HTTP-template provider (``[provider:NAME] type = http``): sends each
message as one HTTP request built from a template (GET, POST form or POST
JSON; see `gateway.providers.http_template` for the options), with treq.

Outcomes: a response passing the success rules → sent, with the upstream id
from ``id_regex`` / ``id_json`` (else our own message id, which templates can
pass as ``%id%``); a timeout, a connection failure, HTTP 5xx/408/429 →
retried ``retries`` times here with doubling delays, then a temporary error
(the dispatcher retries later); any other answer → permanent (failover to the
next provider of the route).  ``capacity`` is ``concurrency`` minus the
requests in flight.

Inbound DLRs arrive at ``/dlr/<name>`` (`gateway.http.dlr`) and are handed
to `handle_dlr`, which maps the upstream status through ``dlr_map`` and
reports it to the `IReportSink`.  Presets for common aggregators are in
``etc/providers/``.
"""

from __future__ import annotations

import hmac

from twisted.internet import defer, error, task
from twisted.web.client import Agent, HTTPConnectionPool, ResponseFailed
from treq.client import HTTPClient
from zope.interface import implementer


from gateway.interfaces import IProvider
from gateway.logs import Logger
from gateway.model import SendResult
from gateway.providers.http_template import (ProviderOptionError, Verdict, build_request, dlr_state,
                                             json_path, judge, parse_options)
from gateway.smpp.constants import CommandStatus as S
from gateway.providers.concurrent import ConcurrentSends
from gateway.providers.webapi import read_limited

__all__ = ["HttpTemplateProvider", "ProviderOptionError", "BadDlr", "read_limited"]

_NETWORK_ERRORS = (error.ConnectError, error.TimeoutError, error.DNSLookupError, error.ConnectionLost,
                   defer.CancelledError, ResponseFailed)


class BadDlr(ValueError):
    """An inbound DLR without the fields the provider's ``dlr_id`` / ``dlr_status`` name (HTTP 400)."""


@implementer(IProvider)
class HttpTemplateProvider(ConcurrentSends):
    """See the module docstring."""

    log = Logger()

    def __init__(self, name: str, options: dict, sink, reactor=None, client=None):
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.options = parse_options(name, options)
        self.sink = sink
        self.reactor = reactor
        if client is None:
            pool = HTTPConnectionPool(reactor, persistent=True)
            pool.maxPersistentPerHost = self.options.concurrency
            client = HTTPClient(Agent(reactor, pool=pool))
        self.client = client

    async def _send(self, message) -> SendResult:
        request = build_request(self.options, message)
        verdict = Verdict(False, temporary=True)
        for attempt in range(self.options.retries + 1):
            if attempt:
                await task.deferLater(self.reactor, self.options.retry_delay * 2 ** (attempt - 1), lambda: None)
            verdict = await self._attempt(request)
            if verdict.ok:
                return SendResult.sent(verdict.upstream_id)
            if not verdict.temporary:
                self.log.warn("{provider} refused {id}: {reason}", provider=self.name, id=message.id,
                              reason=verdict.reason)
                return SendResult.permanent(S.VENDOR_TRANSPORT_ERROR, verdict.reason)
        self.log.warn("{provider}: {id} not sent after {attempts} attempts: {reason}", provider=self.name,
                      id=message.id, attempts=self.options.retries + 1, reason=verdict.reason)
        return SendResult.temporary(S.VENDOR_TRANSPORT_ERROR, verdict.reason)

    async def _attempt(self, request) -> Verdict:
        options = self.options
        auth = (options.basic_user, options.basic_password) if options.basic_user else None
        try:
            response = await self.client.request(
                request.method, request.url, data=request.body, headers=request.headers, auth=auth,
                timeout=options.timeout, reactor=self.reactor, allow_redirects=False)
            body = await read_limited(response)
        except _NETWORK_ERRORS as e:
            return Verdict(False, temporary=True, reason=f"{type(e).__name__}: {e}")
        return judge(options, response.code, body.decode(options.charset, "replace"), request.values)

    def handle_dlr(self, fields: dict, document=None) -> defer.Deferred:
        """An inbound DLR: ``fields`` (query and form, text) and ``document`` (a JSON body, if any).

        Fires with our message id (None when the upstream id is unknown);
        raises `BadDlr` when the id or status is missing or unknown.
        """
        options = self.options
        upstream_id = _field(fields, document, options.dlr_id)
        status = _field(fields, document, options.dlr_status)
        if not upstream_id or status is None:
            raise BadDlr(f"a DLR for {self.name} needs {options.dlr_id!r} and {options.dlr_status!r}")
        state = dlr_state(options, status)
        if state is None:
            raise BadDlr(f"unknown DLR status {status!r} (map it with dlr_map)")
        code = _field(fields, document, options.dlr_error) if options.dlr_error else 0
        try:
            code = int(code or 0)
        except (TypeError, ValueError):
            code = 0
        return self.sink.report(self.name, str(upstream_id), state, code)

    def token_ok(self, token: str) -> bool:
        """True if an inbound DLR carries the ``dlr_token`` (or none is configured)."""
        expected = self.options.dlr_token
        return not expected or hmac.compare_digest(token.encode(), expected.encode())


def _field(fields: dict, document, name: str):
    if name in fields:
        return fields[name]
    if document is not None:
        return json_path(document, name)
    return None
