"""
``/admin/api`` archive, sending and sync: search (``GET /archive``), one
record with its state history (``GET /archive/{key}``), streamed exports
(``GET /archive/export?format=csv|jsonl``), a test message (``POST /send``),
node sync status and trigger (``GET|POST /sync``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from gateway.admin.web import STREAMED, Conflict, arg, args, json_body
from gateway.archive.export import FORMATS, Export
from gateway.archive.query import ArchiveQuery, BadQuery
from gateway.archive.records import DAY_MS, record_json
from gateway.http.errors import BadParameters, NotFound, Undeliverable
from gateway.model import Direction, State, Submit
from gateway.store.accept import AcceptError

__all__ = ["search", "detail", "export", "send_test", "sync_status", "sync_now", "query_from", "moment"]

_KEY = re.compile(r"[0-9A-Za-z_.\-]{1,64}(@[A-Za-z0-9_.:\-]{1,64})?")
MAX_PAGE = 1000


def moment(raw: str, name: str, end_of_day: bool = False) -> int:
    """Epoch ms from epoch ms digits or ISO 8601 (a bare date is its whole UTC day)."""
    if raw.isdigit():
        return int(raw)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)
            ms = int(day.timestamp() * 1000)
            return ms + DAY_MS - 1 if end_of_day else ms
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameters(f"{name}: epoch milliseconds or ISO 8601 (2025-06-15T10:00:00Z)", field=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def _states(request) -> tuple:
    states = []
    for word in args(request, "state"):
        key = word.upper()
        state = State.__members__.get(key) or next((s for s in State if s.stat == key), None)
        if state is None:
            known = ", ".join(s.name for s in State)
            raise BadParameters(f"state: unknown {word!r}; known: {known} (or DLR words like DELIVRD)",
                                field="state")
        states.append(state.name)
    return tuple(states)


def query_from(request, limit_default: int = 100, synced=frozenset()) -> ArchiveQuery:
    """An `ArchiveQuery` from query arguments; `BadParameters` naming the bad one.

    An ``origin`` that is not one of the ``synced`` node names means this gateway's own messages.
    """
    origins = tuple(dict.fromkeys(o if o in synced else "" for o in args(request, "origin")))
    query = ArchiveQuery(accounts=tuple(args(request, "account")), numbers=tuple(args(request, "number")),
                         channels=tuple(args(request, "channel")), origins=origins,
                         states=_states(request), text=arg(request, "q"))
    if arg(request, "since"):
        query.since = moment(arg(request, "since"), "since")
    if arg(request, "until"):
        query.until = moment(arg(request, "until"), "until", end_of_day=True)
    if query.since is not None and query.until is not None and query.since > query.until:
        raise BadParameters("since is after until", field="since")
    direction = arg(request, "direction").upper()
    if direction and direction not in Direction.__members__:
        raise BadParameters("direction: MT or MO", field="direction")
    query.direction = direction or None
    order = arg(request, "order", "desc").lower()
    if order not in ("asc", "desc"):
        raise BadParameters("order: asc or desc", field="order")
    query.newest_first = order == "desc"
    limit = arg(request, "limit", str(limit_default))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
        raise BadParameters(f"limit: a whole number from 1 to {MAX_PAGE}", field="limit")
    query.limit = int(limit)
    cursor = arg(request, "cursor")
    if cursor and not _KEY.fullmatch(cursor):
        raise BadParameters("invalid cursor", field="cursor")
    query.cursor = cursor or None
    return query


async def search(ctx, request, caller):
    """``GET /archive?since&until&direction&number&account&state&channel&origin&q&order&limit&cursor``."""
    query = query_from(request, synced=_synced(ctx))
    try:
        page = await ctx.archive.search(query)
    except BadQuery as e:
        raise BadParameters(str(e), field=e.field) from None
    return 200, {"messages": [record_json(k, m, ctx.node) for k, m in page.items],
                 "next_cursor": page.cursor, "partial": page.partial, "examined": page.examined}


async def detail(ctx, request, caller, key):
    """``GET /archive/{key}``: one record, with its state history and delivery details."""
    message = await ctx.archive.get(key) if _KEY.fullmatch(key) else None
    if message is None:
        raise NotFound(f"no archived message {key!r}")
    record = record_json(key, message, ctx.node)
    record.update(attempts=message.attempts, upstream_ids=list(message.upstream_ids), route=list(message.route),
                  priority=message.priority, registered_delivery=message.registered_delivery,
                  data_coding=message.data_coding, dead=message.dead)
    return 200, record


async def export(ctx, request, caller):
    """``GET /archive/export?format=csv|jsonl&…``: every matching record, streamed (oldest first)."""
    fmt = arg(request, "format", "csv").lower()
    if fmt not in FORMATS:
        raise BadParameters(f"format: one of {', '.join(FORMATS)}", field="format")
    if not arg(request, "order"):
        request.args[b"order"] = [b"asc"]
    query = query_from(request, limit_default=500, synced=_synced(ctx))
    stamp = datetime.fromtimestamp(ctx.clock.seconds(), timezone.utc).strftime("%Y%m%d-%H%M%S")
    request.setResponseCode(200)
    Export(ctx.archive, query, fmt, request, ctx.node, page_size=query.limit).start(f"smsgw-{ctx.node}-{stamp}")
    return STREAMED


def _synced(ctx) -> frozenset:
    return frozenset(ctx.puller.nodes) if ctx.puller is not None else frozenset()


async def send_test(ctx, request, caller):
    """``POST /send`` ``{"account", "to", "text", "from"?, "channel"?}``: accept a message as that account."""
    body = json_body(request)
    for name in ("account", "to", "text"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise BadParameters(f"{name}: required", field=name)
    account = await ctx.accounts.get(body["account"])
    if account is None:
        raise NotFound(f"no account {body['account']!r}")
    submit = Submit(destination=body["to"].strip().replace(" ", ""), text=body["text"],
                    source=str(body.get("from") or ""), channel=str(body.get("channel") or "sms"))
    try:
        message = await ctx.acceptor.accept(account, submit)
    except AcceptError as e:
        raise Undeliverable(e.reason, smpp_status=e.status) from None
    return 201, {"id": message.id, "account": account.name, "provider": message.provider}


async def sync_status(ctx, request, caller):
    """``GET /sync``: every remote node's pull state."""
    if ctx.puller is None:
        return 200, {"nodes": [], "interval": 0}
    return 200, {"nodes": await ctx.puller.status(), "interval": ctx.puller.interval}


async def sync_now(ctx, request, caller):
    """``POST /sync`` (``?node=NAME`` for one): pull now; per node, how many messages came."""
    if ctx.puller is None or not ctx.puller.nodes:
        raise Conflict("no [sync] nodes configured")
    wanted = arg(request, "node")
    if wanted:
        node = ctx.puller.nodes.get(wanted)
        if node is None:
            raise NotFound(f"no sync node {wanted!r}; known: {', '.join(ctx.puller.nodes)}")
        results = [await ctx.puller.pull(node)]
    else:
        results = await ctx.puller.sync_all()
    return 200, {"results": [r.to_json() for r in results]}
