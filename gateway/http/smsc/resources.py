"""
``/sys/send.php``, ``/sys/status.php`` and ``/sys/balance.php``.

A send names one or many phones (``phones``, comma or semicolon separated,
with or without '+'; or ``list`` = ``phone:text`` lines).  Each phone becomes
one message of the account, accepted through the same acceptor and rules as
over SMPP.  The request's ID is the client's ``id`` if given, else a number
of the account's own sequence, as smsc.ru numbers requests (clients store it
in integer columns and parse it as digits); the phone → message id map is
kept for `SMSC_REQUEST_TTL` so that ``status.php?id=…&phone=…`` finds each
message, as smsc.ru clients ask.  Should Redis fail to number the request
after its messages were accepted, the ID is the first message's own id
(which status.php finds as well) rather than an error that would make the
client send again.

The channel is chosen by smsc.ru's flags (``mail=1``, ``viber=1``, ``tg=1``,
``bot=@name``, …: `gateway.channels.registry.HTTP_FLAGS`, built-in channels
only) or, an extension of smsgw, by ``channel=<name>``: any channel
installed, plugins included.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from twisted.cred.credentials import UsernamePassword
from twisted.web import resource

from gateway.channels.registry import DEFAULT_CHANNEL, HTTP_FLAGS
from gateway.http.auth import APIKey
from gateway.http.errors import BadCredentials, BadParameters, ServiceUnavailable, Undeliverable
from gateway.http.responses import client_address, run
from gateway.http.sending import Draft
from gateway.http.smsc.formats import Formatter
from gateway.http.smsc.params import Params, parse_time, parse_valid, transliterate
from gateway.logs import Logger
from gateway.model import State
from gateway.numbers import split_list
from gateway.store import keys
from gateway.store.scripting import StoreUnavailable, call, script

__all__ = ["SendResource", "StatusResource", "BalanceResource", "SMSC_REQUEST_TTL", "smsc_status"]

SMSC_REQUEST_TTL = 30 * 86400  # seconds the phone → id map of a multi-phone request is kept
MAX_PHONES = 1000
MAX_TEXT = 1000  # characters, as smsc.ru documents for mes


def smsc_status(state: State, error: int) -> int:
    """smsc.ru's status number for a message state (-1 waiting … 1 delivered, 20 undeliverable)."""
    if state == State.REJECTED:
        return {0x433: 24, 0x403: 23, 0x404: 23}.get(error, 20)
    return {State.ACCEPTED: -1, State.ENROUTE: 0, State.UNKNOWN: 0, State.DELIVERED: 1,
            State.EXPIRED: 3, State.DELETED: 20, State.UNDELIVERABLE: 20}[state]


class _SmscResource(resource.Resource):
    """GET and POST alike; the answer format from ``fmt`` and ``charset``."""

    isLeaf = True
    log = Logger()

    def __init__(self, context):
        super().__init__()
        self.context = context

    def render_GET(self, request):
        fmt = _safe_fmt(request.args)
        try:
            params = Params(request.args)
        except BadParameters as e:
            reply = Formatter(fmt, "utf-8").error(e)
            request.setHeader(b"content-type", reply.content_type)
            return reply.body
        formatter = Formatter(fmt, params.response_charset)
        return run(request, lambda: self.handle(request, params, formatter), formatter.error)

    render_POST = render_GET

    async def login(self, request, params: Params):
        if params.has("apikey"):
            creds = APIKey(params.get("apikey"))
        elif params.has("login") and params.has("psw"):
            creds = UsernamePassword(params.get("login").encode(), params.get("psw").encode())
        else:
            raise BadCredentials("login and psw, or apikey, are required")
        return await self.context.auth.login(creds, client_address(request))

    async def handle(self, request, params, formatter):
        raise NotImplementedError


def _safe_fmt(args) -> int:
    raw = (args.get(b"fmt") or [b"0"])[0]
    return int(raw) if raw in (b"0", b"1", b"2", b"3") else 0


class SendResource(_SmscResource):
    """``/sys/send.php``."""

    async def handle(self, request, params: Params, formatter: Formatter):
        account = await self.login(request, params)
        cost_mode = params.integer("cost", 0, allowed={0, 1, 2, 3})
        drafts = self.drafts(account, params)
        sender = self.context.sender
        if cost_mode == 1:
            return self.price_only(account, drafts, formatter)
        outcomes = await sender.send(account, drafts)
        accepted = [o for o in outcomes if o.message is not None]
        refused = [o.error for o in outcomes if o.error is not None]
        if not accepted and any(isinstance(e, ServiceUnavailable) for e in refused):
            raise refused[0]
        request_id = params.get("id").strip() or None
        if accepted:
            request_id = await self.remember(account.name, request_id, accepted)
        if refused:
            self.log.info("send.php for {account}: {refused} of {total} refused: {error}",
                          account=account.name, refused=len(refused), total=len(outcomes),
                          error=refused[0].message)
            return formatter.error(refused[0], request_id if accepted else None)
        count = sum(o.parts for o in accepted)
        cost = sum((o.cost for o in accepted if o.cost is not None), Decimal(0))
        balance = None
        if cost_mode == 3:
            fresh = await self.context.accounts.get(account.name)
            balance = fresh.balance if fresh is not None else None
        return formatter.sent(request_id, count, cost, balance, cost_mode)

    def drafts(self, account, params: Params) -> list[Draft]:
        """One `Draft` per recipient, numbers normalised; raises on any bad parameter."""
        channel = self.channel(params)
        pairs = self.pairs(params, channel)
        if len(pairs) > MAX_PHONES:
            raise BadParameters(f"at most {MAX_PHONES} recipients per request", field="phones")
        now = datetime.fromtimestamp(self.context.clock.seconds(), timezone.utc)
        schedule = parse_time(params.get("time"), params.integer("tz", 0), now)
        valid = parse_valid(params.get("valid"))
        extra = self.extra(params, channel)
        drafts = []
        for phone, text in pairs:
            if params.flag("translit"):
                text = transliterate(text)
            drafts.append(Draft(
                recipient=self.context.sender.recipient(account, phone, channel), text=text,
                source=params.get("sender").strip(), channel=channel, schedule=schedule,
                validity=(schedule or int(now.timestamp() * 1000)) + valid * 1000 if valid else 0,
                client_ref=params.get("id").strip()[:64], extra=extra))
        return drafts

    def channel(self, params: Params) -> str:
        """The channel a request asks for: ``channel=<name>`` (any installed), or smsc.ru's flags."""
        flagged = next((name for flag, name in HTTP_FLAGS if params.flag(flag)), None)
        named = params.get("channel").strip()
        if not named:
            return flagged or DEFAULT_CHANNEL
        self.context.sender.channel(named)  # BadParameters (error 1) naming the installed channels
        if flagged is not None and flagged != named:
            raise BadParameters(f"channel={named} and the {flagged} flag ask for different channels",
                                field="channel")
        return named

    def pairs(self, params: Params, channel: str) -> list[tuple[str, str]]:
        """``(phone, text)`` for every recipient, from ``phones`` + ``mes`` or from ``list``."""
        if params.has("list"):
            pairs = []
            for line in params.get("list").splitlines():
                phone, sep, text = line.partition(":")
                if line.strip() and not sep:
                    raise BadParameters("list lines are phone:message", field="list")
                if line.strip():
                    pairs.append((phone.strip(), text.replace("\\n", "\n")))
        else:
            text = params.get("mes")
            pairs = [(phone, text) for phone in split_list(params.get("phones"))]
        if not pairs:
            raise BadParameters("no recipients: phones (or list) is required", field="phones")
        needs_text = self.context.sender.needs_text(channel)
        for _, text in pairs:
            if not text and needs_text:
                raise BadParameters("mes is required", field="mes")
            if len(text) > MAX_TEXT:
                raise BadParameters(f"mes is at most {MAX_TEXT} characters", field="mes")
        return pairs

    @staticmethod
    def extra(params: Params, channel: str) -> dict:
        extra = {}
        if params.flag("flash"):
            extra["flash"] = 1
        if channel == "mail":
            extra["subject"] = params.get("subj")
        if channel == "call" and params.has("voice"):
            extra["voice"] = params.get("voice")
        if channel == "bot":
            extra["bot"] = params.get("bot")
        return extra

    def price_only(self, account, drafts, formatter: Formatter):
        """``cost=1``: what the request would cost; nothing is sent."""
        total, count = Decimal(0), 0
        for draft in drafts:
            submit = self.context.sender.submit(account, draft)
            price = self.context.sender.price(account, submit)
            if account.tariff and price is None:
                raise Undeliverable(f"no tariff for {submit.destination}")
            total += price or 0
            count += submit.parts
        return formatter.price(total, count)

    async def remember(self, account: str, request_id: str | None, accepted) -> str:
        """Map the request's phones to their messages under ``request_id`` (numbered when None);
        the request id."""
        pairs = []
        for o in accepted:
            pairs += (o.message.destination, o.message.id)
        ctx = self.context
        try:
            reply = await script("smsc_request")(ctx.redis, [account, request_id or "", SMSC_REQUEST_TTL, *pairs],
                                                 ctx.clock)
        except StoreUnavailable as e:
            fallback = request_id or accepted[0].message.id
            self.log.warn("send.php for {account}: request {id} accepted but not numbered or mapped: {error}",
                          account=account, id=fallback, error=e.reason)
            return fallback
        return reply.decode() if isinstance(reply, bytes) else str(reply)


class StatusResource(_SmscResource):
    """``/sys/status.php``: by ``id`` (and ``phone``), one or a comma-separated list."""

    async def handle(self, request, params: Params, formatter: Formatter):
        account = await self.login(request, params)
        raw_ids = params.get("id")
        ids = [i.strip() for i in raw_ids.split(",")]
        phones = [p.strip() for p in params.get("phone").split(",")]
        multiple = "," in raw_ids
        if multiple:
            ids = [i for i in ids if i]
        if not ids or not ids[0]:
            raise BadParameters("id is required", field="id")
        full = params.integer("all", 0, allowed={0, 1, 2}) > 0
        rows = []
        for n, msg_id in enumerate(ids):
            phone = phones[n] if n < len(phones) else ""
            message = await self.find(account, msg_id, phone)
            rows.append(self.row(account, message, msg_id, phone, multiple, full))
        return formatter.statuses(rows, multiple)

    async def find(self, account, request_id: str, phone: str):
        ctx = self.context
        number = ""
        if phone:
            number = ctx.sender.recipient(account, phone, "sms")
            mapped = await call(ctx.redis, ctx.clock, "hget", keys.smsc_request(account.name, request_id), number)
            if mapped is not None:
                request_id = mapped.decode() if isinstance(mapped, bytes) else mapped
        else:  # no phone: a request of one phone is found by its id alone
            mapped = await call(ctx.redis, ctx.clock, "hvals", keys.smsc_request(account.name, request_id))
            if len(mapped) == 1:
                request_id = mapped[0].decode() if isinstance(mapped[0], bytes) else mapped[0]
        message = await ctx.messages.get(request_id) if len(request_id) <= 64 else None
        if message is None or message.account != account.name:
            return None
        if number and message.destination.lstrip("+") != number and message.source.lstrip("+") != number:
            return None
        return message

    def row(self, account, message, msg_id, phone, multiple, full) -> dict:
        if message is None:
            row = {"status": -3, "last_date": "", "last_timestamp": 0, "flag": 0, "err": 0}
        else:
            last = message.history[-1][1] if message.history else message.created
            row = {"status": smsc_status(message.state, message.error),
                   "last_date": _local(last, account.timezone), "last_timestamp": last // 1000,
                   "flag": 0, "err": message.error}
            if full:
                row.update(send_date=_local(message.created, account.timezone), phone=message.destination,
                           cost="0.00", sender_id=message.source, status_name=message.state.name,
                           message=message.text, comment=message.comment, type=message.channel)
                price = account.price_for(message.destination) if account.tariff else None
                if price is not None:
                    row["cost"] = f"{price * message.parts:.2f}"
        if multiple:
            row.update(id=msg_id, phone=phone)
        return row


def _local(ms: int, zone: str) -> str:
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%d.%m.%Y %H:%M:%S")


class BalanceResource(_SmscResource):
    """``/sys/balance.php``."""

    async def handle(self, request, params: Params, formatter: Formatter):
        account = await self.login(request, params)
        fresh = await self.context.accounts.get(account.name)
        return formatter.balance(fresh.balance if fresh is not None else None)
