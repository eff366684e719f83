"""
Who may use the admin API, the console and the sync feed.

An admin presents ``Authorization: Bearer <token>`` with the ``[admin] token``,
or an API key of one of the ``[admin] accounts``.  Everything admin is off
while the token is empty (`AdminDisabled`).  The sync feed also takes any
account's API key, for that account's messages only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from gateway.admin.web import AdminDisabled
from gateway.http.auth import FailedLogins
from gateway.http.errors import BadCredentials, Forbidden, IpBlocked
from gateway.logs import Logger

__all__ = ["AdminAuth", "Caller", "bearer"]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the admin (``account`` None or an admin account) or an account."""

    name: str
    admin: bool
    account: str | None = None


def bearer(request) -> str | None:
    """The credential of ``Authorization: Bearer …`` or ``X-API-Key``, if any."""
    auth = request.getHeader("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.getHeader("x-api-key")
    return key.strip() if key else None


class AdminAuth:
    """Checks admin credentials (and account API keys for the sync feed)."""

    log = Logger()

    def __init__(self, token: str, accounts, admin_accounts=(), failures: FailedLogins | None = None):
        self.token = token
        self.accounts = accounts
        self.admin_accounts = frozenset(admin_accounts)
        #: bad tokens per address: too many in a row block the address a while
        self.failures = failures

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    async def admin(self, request) -> Caller:
        """The admin making ``request``; raises `AdminDisabled`, `BadCredentials` or `Forbidden`."""
        caller = await self.caller(request)
        if not caller.admin:
            raise Forbidden(f"account {caller.name} is not an admin account")
        return caller

    async def caller(self, request) -> Caller:
        """The admin or the account whose key ``request`` carries."""
        if not self.enabled:
            raise AdminDisabled("the admin API is disabled: set [admin] token")
        key = bearer(request)
        if key is None:
            raise BadCredentials("credentials required: Authorization: Bearer <admin token or API key>")
        address = _address(request)
        if self.failures is not None and await self.failures.check(address):
            raise IpBlocked(f"address {address} is temporarily blocked after repeated bad credentials")
        if hmac.compare_digest(key.encode(), self.token.encode()):
            return Caller("admin", True)
        account = await self.accounts.by_api_key(key) if self.accounts is not None else None
        if account is None:
            self.log.info("admin API: bad credentials from {address}", address=address)
            if self.failures is not None:
                await self.failures.failed(address)  # counted by all nodes before the answer
            raise BadCredentials("invalid admin token or API key")
        return Caller(account.name, account.name in self.admin_accounts, account.name)


def _address(request) -> str:
    peer = request.getClientAddress()
    return getattr(peer, "host", "") or "unix"
