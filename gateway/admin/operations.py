"""
``/admin/api`` operations: connectors (status, start, stop, restart), routes
(view, reload from the configuration file), queues (depths, in flight,
dead letters: list, retry, drop) and SMPP binds (list across nodes, kick).
"""

from __future__ import annotations

import json

from twisted.application.service import IService
from twisted.internet import defer

from gateway.admin.web import Conflict, json_body, arg
from gateway.http.errors import BadParameters, NotFound
from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import call

__all__ = ["list_connectors", "get_connector", "connector_action", "list_routes", "reload_routes",
           "queue_depths", "list_dead", "dead_action", "list_binds", "kick_bind", "connector_status",
           "kick_local"]


def connector_status(provider) -> dict:
    """What the console shows of a provider: its own ``status()``, or what can be seen from outside."""
    if hasattr(provider, "status"):
        status = dict(provider.status())
    else:
        is_service = IService.providedBy(provider)
        status = {"name": provider.name, "type": type(provider).__name__,
                  "state": ("running" if provider.running else "stopped") if is_service else "ready"}
    status.setdefault("name", provider.name)
    status["controllable"] = IService.providedBy(provider)
    try:
        status.setdefault("capacity", int(provider.capacity()))
    except Exception:  # capacity of a stopped connector may be undefined; the rest still shows
        status.setdefault("capacity", None)
    return status


async def list_connectors(ctx, request, caller):
    """``GET /connectors``."""
    return 200, {"connectors": [connector_status(p) for _, p in sorted(ctx.providers.items())]}


def _provider(ctx, name):
    provider = ctx.providers.get(name)
    if provider is None:
        raise NotFound(f"no connector {name!r}; known: {', '.join(sorted(ctx.providers)) or 'none'}")
    return provider


async def get_connector(ctx, request, caller, name):
    """``GET /connectors/{name}``."""
    return 200, connector_status(_provider(ctx, name))


async def connector_action(ctx, request, caller, name, action):
    """``POST /connectors/{name}/start|stop|restart``."""
    provider = _provider(ctx, name)
    if action not in ("start", "stop", "restart"):
        raise NotFound(f"no action {action!r}: start, stop or restart")
    if not IService.providedBy(provider):
        raise Conflict(f"connector {name!r} has no connection to start or stop")
    if action == "start" and not provider.running:
        provider.startService()
    elif action == "stop" and provider.running:
        await defer.maybeDeferred(provider.stopService)
    elif action == "restart":
        if hasattr(provider, "restart"):
            await defer.maybeDeferred(provider.restart)
        else:
            if provider.running:
                await defer.maybeDeferred(provider.stopService)
            provider.startService()
    return 200, connector_status(provider)


def _route_json(route) -> dict:
    return {"name": route.name, "account": route.account, "channel": route.channel,
            "prefix": route.prefix, "providers": list(route.providers)}


async def list_routes(ctx, request, caller):
    """``GET /routes``: the rules in force, most specific first per (account, channel)."""
    return 200, {"routes": [_route_json(r) for r in ctx.router.routes]}


async def reload_routes(ctx, request, caller):
    """``POST /routes/reload``: read the ``[route:…]`` sections of the configuration file again."""
    if ctx.load_routes is None:
        raise Conflict("the gateway runs without a configuration file: nothing to reload")
    try:
        routes = ctx.load_routes()
    except Exception as e:  # ConfigError and friends: the file is wrong, the old rules stay
        raise BadParameters(f"configuration not reloaded: {e}") from None
    unknown = {p for r in routes for p in r.providers} - set(ctx.providers) - {"simulator"}
    if unknown:
        raise Conflict(f"routes name providers this gateway has not started: {', '.join(sorted(unknown))} "
                       "(adding a provider needs a restart)")
    try:
        ctx.router.reload(routes)
    except ValueError as e:
        raise BadParameters(f"configuration not reloaded: {e}") from None
    return 200, {"routes": [_route_json(r) for r in ctx.router.routes], "reloaded": True}


async def queue_depths(ctx, request, caller):
    """``GET /queues``: ready, delayed and in-flight messages per provider, and dead letters."""
    names = sorted(set(ctx.providers) | set(await ctx.queues.providers()))
    depths = []
    for name in names:
        depths.append({"provider": name, **await ctx.queues.depth(name)})
    dead = await call(ctx.redis, ctx.clock, "zcard", keys.DEAD)
    return 200, {"queues": depths, "dead": int(dead)}


async def list_dead(ctx, request, caller):
    """``GET /queues/dead?start=&count=``: dead-lettered messages, oldest first."""
    start, count = _int_arg(request, "start", 0, 0), _int_arg(request, "count", 100, 1, 1000)
    entries = await ctx.queues.dead(start, count)
    loaded = await ctx.archive.load([msg_id for msg_id, _ in entries])
    by_id = dict(loaded)
    out = []
    for msg_id, since in entries:
        m = by_id.get(msg_id)
        out.append({"id": msg_id, "dead_since": since, "account": m.account if m else None,
                    "to": m.destination if m else None, "provider": m.provider if m else None,
                    "attempts": m.attempts if m else None, "error": m.error if m else None})
    return 200, {"dead": out}


async def dead_action(ctx, request, caller, action):
    """``POST /queues/dead/retry|drop`` with ``{"ids": [...]}``."""
    ids = json_body(request).get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise BadParameters("ids: a non-empty list of message ids", field="ids")
    if action == "retry":
        count = await ctx.queues.retry_dead(ids)
    elif action == "drop":
        count = await ctx.queues.drop_dead(ids)
    else:
        raise NotFound(f"no action {action!r}: retry or drop")
    return 200, {action: count}


async def list_binds(ctx, request, caller):
    """``GET /binds``: live SMPP binds of every node sharing this Redis."""
    now = int(ctx.clock.seconds() * 1000)
    out = []
    for name in await ctx.accounts.list():
        records = await call(ctx.redis, ctx.clock, "hgetall", keys.binds(name))
        for bind_id, raw in sorted((records or {}).items()):
            try:
                record = json.loads(as_text(raw))
            except ValueError:
                continue
            if int(record.get("expires", 0)) < now:
                continue  # left by a node that died
            out.append({"id": as_text(bind_id), "account": name, **record})
    return 200, {"binds": out}


def kick_local(ctx, bind_id: str) -> bool:
    """Unbind the session ``bind_id`` if this process holds it."""
    for registry in ctx.registries():
        for session in registry.sessions():
            if session.bind_id == bind_id:
                session.shutdown("kicked by the administrator")
                return True
    return False


async def kick_bind(ctx, request, caller, node, n):
    """``DELETE /binds/{node}/{n}``: unbind one client (on whichever node holds it)."""
    bind_id = f"{node}/{n}"
    if kick_local(ctx, bind_id):
        return 200, {"kicked": bind_id, "node": ctx.node}
    account = arg(request, "account")
    names = [account] if account else await ctx.accounts.list()
    for name in names:
        if await call(ctx.redis, ctx.clock, "hexists", keys.binds(name), bind_id):
            # the node holding it listens on the login's kick channel (gateway/smpp/binds.py)
            await call(ctx.redis, ctx.clock, "publish", keys.binds_kick(name), bind_id)
            return 202, {"kicking": bind_id, "node": node}
    raise NotFound(f"no live bind {bind_id!r}")


def _int_arg(request, name, default, low, high=None) -> int:
    raw = arg(request, name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        top = f" to {high}" if high is not None else " or more"
        raise BadParameters(f"{name} is a whole number from {low}{top}", field=name)
    return int(raw)
