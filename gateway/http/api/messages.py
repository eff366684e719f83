"""
``/api/v1`` messages: send (``POST /messages``: one message, or
``{"messages": [...]}`` — up to `MAX_BATCH`, each answered on its own, the
other top-level fields being defaults for every item; ``channel`` any channel
the gateway has installed, plugins included), status
(``GET /messages/{id}``), archive search (``GET /messages?…``) and
``GET /balance``.
"""

from __future__ import annotations

import re

from gateway.http.api.inputs import account_of, arg, iso, parse_moment, read_json
from gateway.http.errors import (BadParameters, HttpError, NotFound, PayloadTooLarge,
                                 ServiceUnavailable, TemplateNotFound, TemplateProblem)
from gateway.http.responses import json_reply
from gateway.http.sending import Draft
from gateway.model import Direction, Message, State
from gateway.store.index import ArchiveQuery
from gateway.templates import TemplateError, UnknownVariable

__all__ = ["send", "status", "search", "balance", "callback_secret", "message_json", "MAX_BATCH",
           "MAX_TEXT"]

MAX_BATCH = 1000
MAX_TEXT = 4096
MAX_PAGE = 1000
_FIELDS = {"to", "text", "from", "channel", "template", "variables", "schedule_at", "valid_for",
           "priority", "reference", "report", "subject", "voice", "flash", "bot", "params"}
#: fields that set a channel parameter of the built-in channels (``params`` sets any channel's)
_SHORTCUTS = ("subject", "voice", "bot")
_ID = re.compile(r"[0-9A-Za-z_.\-]{1,64}")


async def send(ctx, request, caller):
    """``POST /messages``."""
    if caller.admin:
        raise BadParameters("send with the account's API key, not the admin token")
    account = caller.account
    body = read_json(request)
    if not isinstance(body, dict):
        raise BadParameters("the body is a JSON object: a message, or {\"messages\": [...]}")
    if "messages" not in body:
        draft = await _draft(ctx, account, body)
        (outcome,) = await ctx.sender.send(account, [draft])
        if outcome.error is not None:
            raise outcome.error
        return json_reply(_result(outcome), 201)
    items = body["messages"]
    if not isinstance(items, list) or not items:
        raise BadParameters("messages is a non-empty list", field="messages")
    if len(items) > MAX_BATCH:
        raise PayloadTooLarge(f"at most {MAX_BATCH} messages per request, got {len(items)}")
    defaults = {k: v for k, v in body.items() if k != "messages"}
    return await _send_batch(ctx, account, items, defaults)


async def _send_batch(ctx, account, items, defaults):
    drafts, results, found = [], [None] * len(items), {}
    for n, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise BadParameters("each message is a JSON object")
            merged = {**defaults, **item}
            if merged.get("template") is None:  # the common case needs no await per message
                drafts.append((n, _make_draft(ctx, account, merged, _plain_text(merged))))
            else:
                drafts.append((n, await _draft(ctx, account, merged, found)))
        except HttpError as e:
            results[n] = _refused(n, item, e)
    outcomes = await ctx.sender.send(account, [d for _, d in drafts])
    for (n, _), outcome in zip(drafts, outcomes):
        if outcome.error is not None:
            results[n] = _refused(n, items[n], outcome.error)
        else:
            results[n] = dict(_result(outcome), index=n)
    accepted = sum(1 for r in results if "id" in r)
    if not accepted and any(r["error"]["code"] == ServiceUnavailable.code for r in results):
        raise ServiceUnavailable("store temporarily unavailable, retry later")
    return json_reply({"accepted": accepted, "refused": len(items) - accepted, "results": results})


def _refused(n: int, item, error: HttpError) -> dict:
    to = item.get("to") if isinstance(item, dict) else None
    return {"index": n, "to": to if isinstance(to, str) else None, **error.to_json()}


def _result(outcome) -> dict:
    message = outcome.message
    return {"id": message.id, "to": message.destination, "state": message.state.name,
            "parts": outcome.parts, "cost": None if outcome.cost is None else f"{outcome.cost:.2f}",
            "created": iso(message.created)}


async def _draft(ctx, account, body: dict, found: dict | None = None) -> Draft:
    """A `Draft` from one message object; raises the precise `HttpError`.

    ``found`` caches the templates read for one request (a batch names one
    template a thousand times).
    """
    text = await _text(ctx, account, body, {} if found is None else found)
    return _make_draft(ctx, account, body, text)


def _make_draft(ctx, account, body: dict, text: str) -> Draft:
    """The `Draft` of one message object whose text is known."""
    if not _FIELDS.issuperset(body):
        unknown = sorted(set(body) - _FIELDS)[0]
        raise BadParameters(f"unknown field {unknown!r}", field=unknown)
    channel = _string(body, "channel", "sms")
    if not text and ctx.sender.needs_text(channel):
        raise BadParameters("text (or template) is required", field="text")
    if len(text) > MAX_TEXT:
        raise BadParameters(f"text is at most {MAX_TEXT} characters", field="text")
    to = _string(body, "to")
    if not to:
        raise BadParameters("to is required", field="to")
    schedule = parse_moment(body["schedule_at"], "schedule_at") if body.get("schedule_at") else 0
    valid_for = _integer(body, "valid_for", 0, 0, 7 * 86400)
    start = schedule or int(ctx.clock.seconds() * 1000)
    extra = {k: value for k in _SHORTCUTS if (value := _string(body, k))}
    extra.update(_params(ctx, body, channel))
    flash = body.get("flash")
    if flash is not None and not isinstance(flash, bool):
        raise BadParameters("flash is true or false", field="flash")
    if flash:
        extra["flash"] = 1
    report = body.get("report")
    if report is not None and not isinstance(report, bool):
        raise BadParameters("report is true or false", field="report")
    return Draft(
        recipient=ctx.sender.recipient(account, to, channel), text=text, source=_string(body, "from"),
        channel=channel, priority=_integer(body, "priority", 0, 0, 3), schedule=schedule,
        validity=start + valid_for * 1000 if valid_for else 0,
        client_ref=_string(body, "reference")[:64], report=report, extra=extra)


def _params(ctx, body: dict, channel: str) -> dict:
    """``params``: parameters of the channel by name (those it reads from ``key:value`` text lines)."""
    params = body.get("params")
    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise BadParameters("params is an object of strings", field="params")
    takes = set((getattr(ctx.sender.channel(channel), "lines", None) or {}).values())
    unknown = sorted(set(params) - takes)
    if unknown:
        accepted = ", ".join(sorted(takes)) or "none"
        raise BadParameters(f"channel {channel} has no parameter {unknown[0]!r}; its parameters: {accepted}",
                            field="params")
    return {k: v for k, v in params.items() if v}


def _plain_text(body: dict) -> str:
    if "variables" in body:
        raise BadParameters("variables need a template", field="variables")
    return _string(body, "text")


async def _text(ctx, account, body: dict, found: dict) -> str:
    name = body.get("template")
    if name is None:
        return _plain_text(body)
    if "text" in body:
        raise BadParameters("give text or template, not both", field="template")
    variables = body.get("variables") or {}
    if not isinstance(name, str) or not isinstance(variables, dict):
        raise BadParameters("template is a name and variables an object", field="template")
    if name not in found:
        found[name] = await ctx.templates.get(account.name, name)
    template = found[name]
    if template is None:
        raise TemplateNotFound(f"no template {name!r}", template=name)
    try:
        return ctx.templates.render(template, variables)
    except UnknownVariable as e:
        raise TemplateProblem(str(e), template=name, variable=e.variable) from None
    except TemplateError as e:
        raise TemplateProblem(str(e), template=name) from None


def _string(body: dict, name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadParameters(f"{name} must be a string", field=name)
    return value


def _integer(body: dict, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadParameters(f"{name} must be a whole number from {low} to {high}", field=name)
    return value


def message_json(message: Message) -> dict:
    """A stored message as the API shows it."""
    last = message.history[-1][1] if message.history else message.created
    return {
        "id": message.id, "account": message.account, "direction": message.direction.value,
        "from": message.source, "to": message.destination, "text": message.text,
        "channel": message.channel, "state": message.state.name, "error": message.error,
        "parts": message.parts, "provider": message.provider or None,
        "reference": message.client_ref or None, "comment": message.comment or None,
        "created": iso(message.created), "updated": iso(last),
        "history": [{"state": State(s).name, "at": iso(at)} for s, at in message.history],
    }


async def status(ctx, request, caller, id):
    """``GET /messages/{id}``."""
    account = account_of(caller, request)
    message = await ctx.messages.get(id) if _ID.fullmatch(id) else None
    if message is None or message.account != account:
        raise NotFound(f"no message {id!r}")
    return json_reply(message_json(message))


async def search(ctx, request, caller):
    """``GET /messages?since=&until=&direction=&number=&state=&limit=&cursor=``: newest first."""
    account = account_of(caller, request)
    query = ArchiveQuery(account=account, limit=_limit(arg(request, "limit")))
    if arg(request, "since"):
        query.since = parse_moment(arg(request, "since"), "since")
    if arg(request, "until"):
        query.until = parse_moment(arg(request, "until"), "until")
    direction = arg(request, "direction").upper()
    if direction and direction not in Direction.__members__:
        raise BadParameters("direction is MT or MO", field="direction")
    query.direction = direction or None
    states = {s.strip().upper() for s in arg(request, "state").split(",") if s.strip()}
    unknown = states - set(State.__members__)
    if unknown:
        raise BadParameters(f"unknown state {sorted(unknown)[0]!r}; known: {', '.join(State.__members__)}",
                            field="state")
    query.states = frozenset(states)
    if arg(request, "number"):
        query.number = ctx.sender.recipient(caller.account or _Region(), arg(request, "number"), "sms")
    cursor = arg(request, "cursor")
    if cursor and not _ID.fullmatch(cursor):
        raise BadParameters("invalid cursor", field="cursor")
    query.cursor = cursor or None
    found, next_cursor = await ctx.index.search(query)
    return json_reply({"messages": [message_json(m) for m in found], "next_cursor": next_cursor})


class _Region:
    """The admin has no account: numbers are read with the gateway's default region."""

    default_region = ""


def _limit(raw: str) -> int:
    if not raw:
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadParameters(f"limit is a whole number from 1 to {MAX_PAGE}", field="limit")
    return int(raw)


async def balance(ctx, request, caller):
    """``GET /balance``: the live balance (null and unlimited for an account without one)."""
    name = account_of(caller, request)
    account = await ctx.accounts.get(name)
    if account is None:
        raise NotFound(f"no account {name!r}")
    amount = None if account.balance is None else f"{account.balance:.2f}"
    return json_reply({"account": name, "balance": amount, "unlimited": account.balance is None})


async def callback_secret(ctx, request, caller):
    """``GET /callback-secret``: the key the account's DLR/MO callbacks are signed with."""
    name = account_of(caller, request)
    return json_reply({"account": name, "secret": await ctx.signer.secret(name),
                       "header": "X-Smsgw-Signature", "algorithm": "hmac-sha256"})
