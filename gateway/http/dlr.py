"""
``/dlr/<provider>``: delivery receipts that HTTP upstreams call back with
(GET or POST, form or JSON), handed to that provider's ``handle_dlr``.
A provider with ``dlr_token`` set accepts only callbacks carrying
``?token=<dlr_token>`` (upstream callback URLs can carry it; nothing else
stops a stranger from forging receipts).
"""

from __future__ import annotations

import json

from twisted.web import resource

from gateway.http.errors import BadParameters, Forbidden, NotFound
from gateway.http.responses import ProviderRoot, json_reply, run
from gateway.logs import Logger
from gateway.providers.http import BadDlr

__all__ = ["DlrRoot", "DlrResource"]

MAX_DLR_BODY = 256 * 1024


class DlrRoot(ProviderRoot):
    """``/dlr``: one child per provider that takes inbound DLRs."""

    def __init__(self, context):
        super().__init__(context, lambda provider: hasattr(provider, "handle_dlr"),
                         lambda provider: DlrResource(provider), "DLR callbacks")


class DlrResource(resource.Resource):
    isLeaf = True
    log = Logger()

    def __init__(self, provider):
        super().__init__()
        self.provider = provider

    def render(self, request):
        return run(request, lambda: self.handle(request), lambda e: json_reply(e.to_json(), e.status))

    async def handle(self, request):
        if request.method not in (b"GET", b"POST"):
            raise BadParameters("DLR callbacks are GET or POST")
        fields = {k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace")
                  for k, v in request.args.items() if v}
        if not self.provider.token_ok(fields.pop("token", "")):
            raise Forbidden("wrong or missing DLR token")
        document = self._json(request)
        try:
            msg_id = await self.provider.handle_dlr(fields, document)
        except BadDlr as e:
            self.log.warn("bad DLR for {provider}: {error}", provider=self.provider.name, error=str(e))
            raise BadParameters(str(e)) from None
        if msg_id is None:
            raise NotFound("unknown message")
        return json_reply({"ok": True, "id": msg_id})

    @staticmethod
    def _json(request):
        kind = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
        if not kind.endswith("json"):
            return None
        raw = request.content.read(MAX_DLR_BODY + 1)
        if len(raw) > MAX_DLR_BODY:
            raise BadParameters("DLR body too large")
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadParameters(f"DLR body is not valid JSON: {e}") from None
