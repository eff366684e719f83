"""
``/admin/api/…``: the admin API.  Every request needs the admin token
(``Authorization: Bearer …``) or the API key of an ``[admin] accounts``
account; answers are JSON, refusals a JSON error with a precise 4xx.

    GET    overview                       counters, queues, connectors, binds (the dashboard)
    GET    accounts | accounts/{name}      POST accounts   PATCH|DELETE accounts/{name}
    GET    connectors | connectors/{name}  POST connectors/{name}/start|stop|restart
    GET    routes                          POST routes/reload
    GET    queues | queues/dead            POST queues/dead/retry|drop  {"ids": [...]}
    GET    binds                           DELETE binds/{node}/{n}
    GET    archive | archive/export | archive/{key}
    POST   send                            {"account", "to", "text", "from"?}
    GET    sync                            POST sync[?node=NAME]
"""

from __future__ import annotations

from twisted.web import resource

from gateway.admin import accounts, archive, operations
from gateway.admin.web import respond
from gateway.http.errors import MethodNotAllowed, NotFound

__all__ = ["AdminApi", "ROUTES", "match", "overview"]


async def whoami(ctx, request, caller):
    """``GET /whoami``: who is logged in, on which node, and what the console can filter by."""
    origins = [ctx.node] + (sorted(ctx.puller.nodes) if ctx.puller is not None else [])
    return 200, {"name": caller.name, "node": ctx.node, "origins": origins,
                 "states": [s.name for s in archive.State], "accounts": await ctx.accounts.list()}


async def overview(ctx, request, caller):
    """``GET /overview``: what the dashboard shows, in one request."""
    _, queues = await operations.queue_depths(ctx, request, caller)
    _, binds = await operations.list_binds(ctx, request, caller)
    connectors = [operations.connector_status(p) for _, p in sorted(ctx.providers.items())]
    counters = ctx.metrics.snapshot() if ctx.metrics is not None else {}
    return 200, {"node": ctx.node, "time": int(ctx.clock.seconds() * 1000), "counters": counters,
                 "queues": queues["queues"], "dead": queues["dead"], "connectors": connectors,
                 "binds": binds["binds"]}


#: (method, path pattern, handler).  ``{x}`` matches one path segment.
ROUTES = [
    (b"GET", ("whoami",), whoami),
    (b"GET", ("overview",), overview),
    (b"GET", ("accounts",), accounts.list_accounts),
    (b"POST", ("accounts",), accounts.create_account),
    (b"GET", ("accounts", "{name}"), accounts.get_account),
    (b"PATCH", ("accounts", "{name}"), accounts.update_account),
    (b"PUT", ("accounts", "{name}"), accounts.update_account),
    (b"DELETE", ("accounts", "{name}"), accounts.delete_account),
    (b"GET", ("connectors",), operations.list_connectors),
    (b"GET", ("connectors", "{name}"), operations.get_connector),
    (b"POST", ("connectors", "{name}", "{action}"), operations.connector_action),
    (b"GET", ("routes",), operations.list_routes),
    (b"POST", ("routes", "reload"), operations.reload_routes),
    (b"GET", ("queues",), operations.queue_depths),
    (b"GET", ("queues", "dead"), operations.list_dead),
    (b"POST", ("queues", "dead", "{action}"), operations.dead_action),
    (b"GET", ("binds",), operations.list_binds),
    (b"DELETE", ("binds", "{node}", "{n}"), operations.kick_bind),
    (b"GET", ("archive",), archive.search),
    (b"GET", ("archive", "export"), archive.export),
    (b"GET", ("archive", "{key}"), archive.detail),
    (b"POST", ("send",), archive.send_test),
    (b"GET", ("sync",), archive.sync_status),
    (b"POST", ("sync",), archive.sync_now),
]


def match(method: bytes, path: list[str]):
    """``(handler, path arguments)`` for a request; `NotFound` / `MethodNotAllowed`."""
    allowed = []
    for route_method, pattern, handler in ROUTES:
        if len(pattern) != len(path):
            continue
        found = {}
        for want, got in zip(pattern, path):
            if want.startswith("{") and got:
                found[want[1:-1]] = got
            elif want != got:
                break
        else:
            if route_method == method or (method == b"HEAD" and route_method == b"GET"):
                return handler, found
            allowed.append(route_method.decode())
    if allowed:
        raise MethodNotAllowed(f"{method.decode()} not allowed here; allowed: {', '.join(sorted(set(allowed)))}")
    raise NotFound(f"no such endpoint: /admin/api/{'/'.join(path)}")


class AdminApi(resource.Resource):
    """Everything under ``/admin/api``; ``context`` is an `AdminContext` (None until the engine is ready)."""

    isLeaf = True

    def __init__(self, context=None):
        super().__init__()
        self.context = context

    def render(self, request):
        return respond(request, lambda: self.handle(request))

    async def handle(self, request):
        ctx = self.context
        if ctx is None:
            from gateway.http.errors import ServiceUnavailable
            raise ServiceUnavailable("the gateway is starting")
        caller = await ctx.auth.admin(request)
        path = [segment.decode("utf-8", "replace") for segment in request.postpath]
        if path and path[-1] == "":
            path = path[:-1]
        handler, found = match(request.method, path)
        return await handler(ctx, request, caller, **found)
