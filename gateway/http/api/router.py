"""
``/api/v1`` routing: method + path pattern → handler, API-key login, JSON
bodies, JSON errors.  A table, so the routes can be read (and checked against
the OpenAPI document) in one place.
"""

from __future__ import annotations

import hmac

from twisted.web import resource

from gateway.http.api import messages, openapi, templates
from gateway.http.auth import APIKey
from gateway.http.api.inputs import Caller
from gateway.http.errors import BadCredentials, MethodNotAllowed, NotFound
from gateway.http.responses import client_address, json_reply, run

__all__ = ["ApiResource", "ROUTES", "match"]


#: (method, path pattern, handler, needs login).  ``{x}`` matches one segment.
ROUTES = [
    (b"POST", ("messages",), messages.send, True),
    (b"GET", ("messages",), messages.search, True),
    (b"GET", ("messages", "{id}"), messages.status, True),
    (b"GET", ("balance",), messages.balance, True),
    (b"GET", ("callback-secret",), messages.callback_secret, True),
    (b"GET", ("templates",), templates.list_templates, True),
    (b"GET", ("templates", "{name}"), templates.get_template, True),
    (b"PUT", ("templates", "{name}"), templates.put_template, True),
    (b"DELETE", ("templates", "{name}"), templates.delete_template, True),
    (b"GET", ("openapi.json",), openapi.serve, False),
]


def match(method: bytes, path: list[str]):
    """``(handler, needs_login, path arguments)``; raises `NotFound` / `MethodNotAllowed`."""
    allowed = []
    for route_method, pattern, handler, login in ROUTES:
        if len(pattern) != len(path):
            continue
        args = {}
        for want, got in zip(pattern, path):
            if want.startswith("{"):
                if not got:
                    break
                args[want[1:-1]] = got
            elif want != got:
                break
        else:
            if route_method == method or (method == b"HEAD" and route_method == b"GET"):
                return handler, login, args
            allowed.append(route_method.decode())
    if allowed:
        raise MethodNotAllowed(f"method {method.decode()} not allowed here; allowed: {', '.join(allowed)}")
    raise NotFound(f"no such endpoint: /api/v1/{'/'.join(path)}")


class ApiResource(resource.Resource):
    """Everything under ``/api/v1``."""

    isLeaf = True

    def __init__(self, context):
        super().__init__()
        self.context = context

    def render(self, request):
        return run(request, lambda: self.handle(request), lambda e: json_reply(e.to_json(), e.status))

    async def handle(self, request):
        path = [segment.decode("utf-8", "replace") for segment in request.postpath]
        if path and path[-1] == "":
            path = path[:-1]
        handler, login, args = match(request.method, path)
        caller = await self.caller(request) if login else None
        return await handler(self.context, request, caller, **args)

    async def caller(self, request) -> Caller:
        key = _api_key(request)
        if key is None:
            raise BadCredentials("an API key is required: X-API-Key or Authorization: Bearer")
        token = self.context.admin_token
        if token and hmac.compare_digest(key.encode(), token.encode()):
            return Caller(None, admin=True)
        account = await self.context.auth.login(APIKey(key), client_address(request))
        return Caller(account)


def _api_key(request) -> str | None:
    key = request.getHeader("x-api-key")
    if key:
        return key.strip()
    auth = request.getHeader("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None
