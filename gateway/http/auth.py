"""
HTTP authentication through `twisted.cred`: API keys (``X-API-Key``,
``Authorization: Bearer``, smsc.ru ``apikey``) and login + password (smsc.ru
``login``/``psw``), checked against the shared `AccountStore`; the realm
returns the `Account` itself as the avatar.

Two things keep a busy client from costing a Redis round trip and an scrypt
run per request: accounts are cached for ``ttl`` seconds (a change of
balance, password or an account disabled shows after at most that), and a
password once verified against a stored hash is remembered (as a keyed
digest, never in plain text) until that hash changes.

An address that fails to log in ``limit`` times within ``window`` seconds is
refused for ``block`` seconds (smsc.ru error 4), and so is a login name that
fails that often from any addresses (password guessing spread over many
addresses; a wrong API key names no account, so only its address counts).
The counts and blocks hold on every node sharing the Redis (`FailedLogins`
with a `gateway.store.throttle.SharedFailures`).  An address outside the
account's ``allowed_ips`` is refused like a wrong password (smsc.ru error 2).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from twisted.cred import checkers, credentials, error, portal
from twisted.internet import defer
from zope.interface import implementer

from gateway.interfaces import IAccountAvatar
from gateway.logs import Logger
from gateway.http.errors import BadCredentials, IpBlocked
from gateway.store.throttle import SharedFailures

__all__ = ["IAPIKey", "APIKey", "AccountCache", "ApiKeyChecker", "PasswordChecker",
           "AccountRealm", "FailedLogins", "shared_logins", "Authenticator"]


class IAPIKey(credentials.ICredentials):
    """Credentials that are one API key (``key``)."""


@implementer(IAPIKey)
class APIKey:
    def __init__(self, key: str):
        self.key = key


class AccountCache:
    """Accounts by name and by API key for ``ttl`` seconds; verified passwords until rehash."""

    def __init__(self, accounts, clock, ttl: float = 1.0, size: int = 10_000):
        self.accounts = accounts
        self.clock = clock
        self.ttl = ttl
        self.size = size
        self._by_name: dict = {}
        self._by_key: dict = {}
        self._verified: dict = {}
        self._pepper = os.urandom(16)

    def _fresh(self, table, key):
        hit = table.get(key)
        if hit is not None and hit[0] > self.clock.seconds():
            return hit[1]
        return None

    def _keep(self, table, key, value) -> None:
        if len(table) >= self.size:
            table.clear()
        table[key] = (self.clock.seconds() + self.ttl, value)

    @defer.inlineCallbacks
    def get(self, name: str):
        """The `Account` named ``name`` or None (cached)."""
        account = self._fresh(self._by_name, name)
        if account is None:
            account = yield self.accounts.get(name)
            if account is not None:
                self._keep(self._by_name, name, account)
        return account

    @defer.inlineCallbacks
    def by_api_key(self, key: str):
        """The enabled `Account` owning ``key`` or None (cached)."""
        account = self._fresh(self._by_key, key)
        if account is None:
            account = yield self.accounts.by_api_key(key)
            if account is not None:
                self._keep(self._by_key, key, account)
                self._keep(self._by_name, account.name, account)
        return account

    @defer.inlineCallbacks
    def check_password(self, name: str, password: str):
        """The enabled `Account` if ``password`` is right, else None (scrypt only once per hash)."""
        account = yield self.get(name)
        if account is None or not account.enabled or not account.password:
            return None
        digest = hmac.new(self._pepper, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        if self._verified.get(digest) == account.password:
            return account
        checked = yield self.accounts.check_password(name, password)
        if checked is None:
            return None
        if len(self._verified) >= self.size:
            self._verified.clear()
        self._verified[digest] = checked.password
        self._keep(self._by_name, name, checked)
        return checked


@implementer(checkers.ICredentialsChecker)
class ApiKeyChecker:
    credentialInterfaces = (IAPIKey,)

    def __init__(self, cache: AccountCache):
        self.cache = cache

    def requestAvatarId(self, creds):
        d = self.cache.by_api_key(creds.key)
        return d.addCallback(_account_name)


@implementer(checkers.ICredentialsChecker)
class PasswordChecker:
    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, cache: AccountCache):
        self.cache = cache

    def requestAvatarId(self, creds):
        name = creds.username.decode() if isinstance(creds.username, bytes) else creds.username
        password = creds.password.decode() if isinstance(creds.password, bytes) else creds.password
        return self.cache.check_password(name, password).addCallback(_account_name)


def _account_name(account):
    if account is None:
        raise error.UnauthorizedLogin()
    return account.name


@implementer(portal.IRealm)
class AccountRealm:
    """Returns the `Account` as the avatar (`IAccountAvatar`)."""

    def __init__(self, cache: AccountCache):
        self.cache = cache

    @defer.inlineCallbacks
    def requestAvatar(self, avatarId, mind, *interfaces):
        if IAccountAvatar not in interfaces:
            raise NotImplementedError("only IAccountAvatar avatars")
        account = yield self.cache.get(avatarId)
        if account is None:
            raise error.UnauthorizedLogin()
        return IAccountAvatar, account, lambda: None


class FailedLogins:
    """Counts failed logins per key (an address, a login name); too many in a window blocks
    the key a while.  A ``limit`` of 0 never blocks.

    With ``shared`` (a `gateway.store.throttle.SharedFailures`) failures are counted on
    every node, and blocks set by any node are learned from those answers.  Requests of a
    key that failed here lately also look the shared block up (`check`, one PTTL), so that
    the usual request, of a key that never failed, costs no Redis round trip.  This node's
    own count decides only when Redis does not answer.
    """

    log = Logger()

    def __init__(self, clock, limit: int = 20, window: float = 60.0, block: float = 60.0,
                 max_addresses: int = 100_000, shared=None, what: str = "address"):
        self.clock = clock
        self.max_addresses = max_addresses
        self.limit = limit
        self.window = window
        self.block = block
        self.what = what
        self.shared = shared
        self._failures: dict[str, list] = {}
        self._blocked: dict[str, float] = {}
        self._last: dict[str, float] = {}  # key -> time of its last failure here (with ``shared``)

    def blocked(self, address: str) -> bool:
        """True while ``address`` is refused (as far as this node knows)."""
        until = self._blocked.get(address)
        if until is None:
            return False
        if until > self.clock.seconds():
            return True
        del self._blocked[address]
        return False

    def check(self, address: str) -> defer.Deferred:
        """Fires with True while ``address`` is blocked here, or by any node if it failed here
        within the last window and block; never fails."""
        if self.blocked(address):
            return defer.succeed(True)
        last = self._last.get(address)
        if self.shared is None or last is None or not self.limit:
            return defer.succeed(False)
        if last <= self.clock.seconds() - self.window - self.block:
            del self._last[address]
            return defer.succeed(False)
        return self.shared.blocked(address).addCallback(self._learn, address)

    def failed(self, address: str) -> defer.Deferred:
        """One more failed login of ``address``; blocks it at the limit: the shared count's if
        Redis answers, else this node's.  Fires (never fails) once that is decided:
        answer the client then, so that a block is in force before its next try."""
        if not self.limit:
            return defer.succeed(None)
        now = self.clock.seconds()
        if len(self._failures) >= self.max_addresses:  # a flood of addresses: forget, stay bounded
            self._failures.clear()
        recent = [t for t in self._failures.get(address, ()) if t > now - self.window]
        recent.append(now)
        self._failures[address] = recent
        if self.shared is None:
            self._counted(None, address)
            return defer.succeed(None)
        if len(self._last) >= self.max_addresses:
            self._last.clear()
        self._last[address] = now
        d = self.shared.failed(address, self.limit, self.window, self.block)
        return d.addCallback(self._counted, address)

    def _counted(self, counted, address: str) -> None:
        if counted is not None:
            self._learn(counted.blocked, address)
            if counted.new:
                self.log.warn("{failures} failed logins of {what} {key} within {window:g} s, counted by all nodes "
                              "({scope}): refused on every node for {block:g} s", failures=counted.failures,
                              what=self.what, key=address, window=self.window, scope=self.shared.scope,
                              block=counted.blocked)
            return
        recent = self._failures.get(address, ())  # Redis unreachable (or none): this node's count decides
        if len(recent) >= self.limit:
            self._blocked[address] = self.clock.seconds() + self.block
            del self._failures[address]
            self.log.warn("{failures} failed logins of {what} {key} within {window:g} s: refused for {block:g} s",
                          failures=len(recent), what=self.what, key=address, window=self.window, block=self.block)

    def _learn(self, left, address: str) -> bool:
        """Remember a block some node set; True if there is one."""
        if not left:
            return False
        now = self.clock.seconds()
        if len(self._blocked) >= self.max_addresses:
            self._blocked = {k: until for k, until in self._blocked.items() if until > now}
        until = now + left
        self._blocked[address] = max(self._blocked.get(address, 0.0), until)
        self._failures.pop(address, None)  # a fresh start once the block is over
        return True


def shared_logins(redis, clock, scope: str):
    """Failed logins of ``scope`` counted on every node sharing ``redis`` (if any)."""
    return SharedFailures(redis, clock, scope) if redis is not None else None


class Authenticator:
    """Logs a request's credentials in through the portal; fires with the `Account`."""

    log = Logger()

    def __init__(self, cache: AccountCache, clock, failures: FailedLogins | None = None,
                 account_failures: FailedLogins | None = None):
        self.portal = portal.Portal(AccountRealm(cache), [ApiKeyChecker(cache), PasswordChecker(cache)])
        self.failures = failures or FailedLogins(clock)
        self.account_failures = account_failures or FailedLogins(clock)

    @defer.inlineCallbacks
    def login(self, creds, address: str):
        """The `Account` for ``creds`` from ``address``; raises `BadCredentials` / `IpBlocked`."""
        if (yield self.failures.check(address)):
            raise IpBlocked(f"address {address} is temporarily blocked after repeated failed logins")
        name = _login_name(creds)
        if name is not None and (yield self.account_failures.check(name)):
            self.log.info("HTTP login of {account} from {address} refused: too many failed logins of the account",
                          account=name, address=address)
            raise IpBlocked("login temporarily blocked after repeated failed logins")
        try:
            _, account, _ = yield self.portal.login(creds, None, IAccountAvatar)
        except error.UnauthorizedLogin:
            self.log.info("failed HTTP login from {address}", address=address)
            # answered once counted by all nodes: a block is in force before the next try
            counted = [self.failures.failed(address)]
            if name is not None:
                counted.append(self.account_failures.failed(name))
            yield defer.gatherResults(counted)
            raise BadCredentials("invalid credentials") from None
        if not account.ip_allowed(address):
            yield self.failures.failed(address)
            self.log.info("account {account}: login from {address} outside allowed_ips",
                          account=account.name, address=address)
            raise BadCredentials("invalid credentials or address not allowed for this account")
        return account


def _login_name(creds) -> str | None:
    """The login name of password credentials (None for an API key, which names no account)."""
    if not credentials.IUsernamePassword.providedBy(creds):
        return None
    name = creds.username
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
