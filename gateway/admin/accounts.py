"""
``/admin/api/accounts``: list, read, create, change and delete client accounts
through the shared `AccountStore`.  Values are validated with the same parsers
as ``[account:NAME]`` sections, so the API accepts exactly what the
configuration file does; secrets (password, API keys) go in, never out.
"""

from __future__ import annotations

import re
from decimal import Decimal

from gateway.admin.web import Conflict, json_body
from gateway.config import PREFIXED
from gateway.http.errors import BadParameters, NotFound
from gateway.store.accounts import AccountExists, NoSuchAccount, account_from_config

__all__ = ["list_accounts", "get_account", "create_account", "update_account", "delete_account",
           "describe", "typed_fields"]

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_SCHEMA = PREFIXED["account"]


def describe(account) -> dict:
    """An account as JSON, without its secrets."""
    return {
        "name": account.name, "enabled": account.enabled, "has_password": bool(account.password),
        "api_keys": len(account.api_keys), "throughput": account.throughput,
        "max_connections": account.max_connections, "allowed_ips": list(account.allowed_ips),
        "system_type": account.system_type, "dedup_window": account.dedup_window,
        "blacklist": sorted(account.blacklist), "forbidden_words": list(account.forbidden_words),
        "balance": _money(account.balance),
        "tariff": {p: str(v) for p, v in sorted(account.tariff.items())},
        "dlr_url": account.dlr_url, "mo_url": account.mo_url, "callback_method": account.callback_method,
        "allowed_senders": sorted(account.allowed_senders), "quiet_hours": account.quiet_hours,
        "timezone": account.timezone, "default_region": account.default_region,
    }


def _money(amount: Decimal | None) -> str | None:
    """A balance with at least two decimals (10.50), more only when it has them."""
    if amount is None:
        return None
    cents = amount.quantize(Decimal("0.01"))
    return str(cents if cents == amount else amount.normalize())


def _as_config_text(key: str, value) -> str:
    """A JSON value as the text an ``[account:NAME]`` key would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{p}:{v}" for p, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def typed_fields(body: dict) -> dict:
    """The account fields of a JSON body, typed and validated; `BadParameters` naming the field."""
    unknown = set(body) - set(_SCHEMA) - {"name"}
    if unknown:
        raise BadParameters(f"unknown field {sorted(unknown)[0]!r}; known: {', '.join(_SCHEMA)}",
                            field=sorted(unknown)[0])
    typed = {}
    for key, value in body.items():
        if key == "name":
            continue
        parser, _ = _SCHEMA[key]
        try:
            typed[key] = parser(_as_config_text(key, value))
        except ValueError as e:
            raise BadParameters(f"{key}: {e}", field=key) from None
    if "balance" in typed and typed["balance"] is not None and typed["balance"] < Decimal(0):
        raise BadParameters("balance: must not be negative", field="balance")
    return typed


async def list_accounts(ctx, request, caller):
    """``GET /accounts``."""
    out = []
    for name in await ctx.accounts.list():
        account = await ctx.accounts.get(name)
        if account is not None:
            out.append(describe(account))
    return 200, {"accounts": out}


async def get_account(ctx, request, caller, name):
    """``GET /accounts/{name}``."""
    account = await ctx.accounts.get(name)
    if account is None:
        raise NotFound(f"no account {name!r}")
    return 200, describe(account)


async def create_account(ctx, request, caller):
    """``POST /accounts`` with ``{"name": …, fields…}``: 201, or 409 if the name is taken."""
    body = json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadParameters("name: 1-64 letters, digits, '_', '.' or '-'", field="name")
    typed = typed_fields(body)
    try:
        account = await ctx.accounts.add(account_from_config(name, typed))
    except AccountExists:
        raise Conflict(f"account {name!r} already exists") from None
    return 201, describe(await ctx.accounts.get(account.name) or account)


async def update_account(ctx, request, caller, name):
    """``PATCH /accounts/{name}``: change the fields given (``api_keys`` replaces the keys)."""
    typed = typed_fields(json_body(request))
    try:
        account = await ctx.accounts.set(name, **typed)
    except NoSuchAccount:
        raise NotFound(f"no account {name!r}") from None
    return 200, describe(account)


async def delete_account(ctx, request, caller, name):
    """``DELETE /accounts/{name}``."""
    if not await ctx.accounts.delete(name):
        raise NotFound(f"no account {name!r}")
    return 200, {"deleted": name}
