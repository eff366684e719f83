"""
SMPP bind authentication through twisted.cred, so the session protocol never
reads a password.

- `AccountChecker` (an `ICredentialsChecker` for `IUsernamePassword`) checks
  system_id + password against the store's hashed passwords; scrypt runs in a
  thread.  Fails with `UnknownSystemId` or `WrongPassword`.
- `AccountRealm` hands out the `Account` as the `ISMPPAccount` avatar once the
  account is enabled and the peer address (the login's *mind*, a `BindPeer`) is
  on its allowlist; else `AccountDisabled` / `AddressNotAllowed`.
- `make_portal(accounts)` puts the two together.
- `FailedBinds`: after ``limit`` bad binds in a row from one IP address (or
  wrong passwords for one system_id), binds from it (of it) are refused for
  ``delay`` seconds without looking at the credentials; counted on every node
  sharing the Redis when given a `gateway.store.throttle.SharedFailures`.

Every refusal is an `UnauthorizedLogin` subclass carrying the bind_resp
``status`` and a ``reason`` for the log.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from twisted.cred import credentials, error, portal
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet import defer, threads
from zope.interface import implementer

from gateway.interfaces import ISMPPAccount
from gateway.logs import Logger
from gateway.smpp.constants import CommandStatus
from gateway.store.passwords import verify_password

__all__ = [
    "BindRefused", "UnknownSystemId", "WrongPassword", "AccountDisabled", "AddressNotAllowed",
    "BindPeer", "AccountChecker", "AccountRealm", "make_portal", "FailedBinds", "BIND_COUNT_TTL",
]


class BindRefused(error.UnauthorizedLogin):
    """A bind the gateway refuses; ``status`` goes into the bind_resp."""

    status = CommandStatus.ESME_RBINDFAIL

    def __init__(self, system_id: str, reason: str):
        super().__init__(f"{system_id}: {reason}")
        self.system_id = system_id
        self.reason = reason


class UnknownSystemId(BindRefused):
    """No account of that name."""

    status = CommandStatus.ESME_RINVSYSID


class WrongPassword(BindRefused):
    """The account exists; the password does not match."""

    status = CommandStatus.ESME_RINVPASWD


class AccountDisabled(BindRefused):
    """The account exists and the password is right, but it is switched off."""


class AddressNotAllowed(BindRefused):
    """The peer's IP address is not on the account's allowlist."""


@dataclass(frozen=True)
class BindPeer:
    """The login's *mind*: where the bind comes from."""

    host: str


@implementer(ICredentialsChecker)
class AccountChecker:
    """system_id + password against the account store (hashes only, checked in a thread)."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, accounts, verify=None):
        self.accounts = accounts
        #: ``verify(password, stored_hash) -> Deferred[bool]``; scrypt in a thread by default
        self.verify = verify or (lambda password, stored: threads.deferToThread(verify_password, password, stored))

    @defer.inlineCallbacks
    def requestAvatarId(self, creds):
        name = _text(creds.username)
        account = yield self.accounts.get(name)
        if account is None:
            raise UnknownSystemId(name, "no such account")
        ok = bool(account.password) and (yield self.verify(_text(creds.password), account.password))
        if not ok:
            raise WrongPassword(name, "wrong password")
        return name


@implementer(portal.IRealm)
class AccountRealm:
    """The `Account` of an authenticated system_id, if enabled and reached from an allowed address."""

    def __init__(self, accounts):
        self.accounts = accounts

    @defer.inlineCallbacks
    def requestAvatar(self, avatarId, mind, *interfaces):
        if ISMPPAccount not in interfaces:
            raise NotImplementedError("this realm only serves ISMPPAccount")
        name = _text(avatarId)
        account = yield self.accounts.get(name)
        if account is None:  # deleted between the two look-ups
            raise UnknownSystemId(name, "no such account")
        if not account.enabled:
            raise AccountDisabled(name, "account disabled")
        host = getattr(mind, "host", "")
        if not _ip_allowed(account, host):
            raise AddressNotAllowed(name, f"address {host} not allowed")
        return ISMPPAccount, account, lambda: None


def _ip_allowed(account, host: str) -> bool:
    try:
        return account.ip_allowed(host)
    except ValueError:  # not an IP address (a UNIX socket): only an open allowlist lets it in
        return not account.allowed_ips


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def make_portal(accounts, verify=None) -> portal.Portal:
    """The portal SMPP binds log in through, over an `IAccountStore`."""
    return portal.Portal(AccountRealm(accounts), [AccountChecker(accounts, verify)])


#: Seconds the shared count of bad binds in a row lives after its last failure: binds have no
#: window, but Redis must forget the addresses of an attack some day.
BIND_COUNT_TTL = 3600.0


class FailedBinds:
    """Counts bad binds in a row per IP address (or per ``what`` else: a system_id); too many
    block the key for a while.

    With ``shared`` (a `gateway.store.throttle.SharedFailures`) the count and the block
    hold on every node: each failure is counted there, blocks set by any node are learned
    from its answers and from `check`, and a success on any node ends the series.  This
    node's own count decides only when Redis does not answer.
    """

    log = Logger()

    def __init__(self, clock, limit: int = 5, delay: float = 60.0, max_addresses: int = 10_000,
                 what: str = "address", shared=None):
        self.clock = clock
        self.what = what
        self.limit = limit
        self.delay = delay
        self.max_addresses = max_addresses
        self.shared = shared
        self._seen: OrderedDict[str, list] = OrderedDict()  # host -> [failures, blocked until]

    def blocked(self, host: str) -> bool:
        """True while binds from ``host`` are refused unseen (as far as this node knows)."""
        entry = self._seen.get(host)
        if entry is None or not entry[1]:
            return False
        if self.clock.seconds() < entry[1]:
            return True
        del self._seen[host]  # the delay is over: a fresh start
        return False

    def check(self, host: str) -> defer.Deferred:
        """Fires with True while ``host`` is blocked here or by any node (one PTTL); never fails."""
        if self.blocked(host):
            return defer.succeed(True)
        if self.shared is None or not self.limit:
            return defer.succeed(False)
        return self.shared.blocked(host).addCallback(self._learn, host)

    def failed(self, host: str) -> defer.Deferred:
        """One more bad bind from ``host``; blocks it at the limit: the shared count's if Redis
        answers, else this node's.  Fires (never fails) once that is decided: answer the
        client then, so that a block is in force before its next try."""
        if not self.limit:
            return defer.succeed(None)
        entry = self._seen.pop(host, None) or [0, 0.0]
        entry[0] += 1
        self._seen[host] = entry
        self._bound_size()
        if self.shared is None:
            self._counted(None, host)
            return defer.succeed(None)
        d = self.shared.failed(host, self.limit, BIND_COUNT_TTL, self.delay, in_a_row=True)
        return d.addCallback(self._counted, host)

    def _counted(self, counted, host: str) -> None:
        if counted is not None:
            self._learn(counted.blocked, host)
            if counted.new:
                self.log.warn("{failures} failed binds in a row for {what} {host}, counted by all nodes ({scope}): "
                              "refusing its binds on every node for {delay:g} s", failures=counted.failures,
                              what=self.what, host=host, scope=self.shared.scope, delay=counted.blocked)
            return
        entry = self._seen.get(host)  # Redis unreachable (or none): this node's count decides
        if entry is not None and entry[0] >= self.limit and not entry[1]:
            entry[1] = self.clock.seconds() + self.delay
            self.log.warn("{failures} failed binds in a row for {what} {host}: refusing its binds for {delay:g} s",
                          failures=entry[0], what=self.what, host=host, delay=self.delay)

    def _learn(self, left, host: str) -> bool:
        """Remember a block some node set; True if there is one."""
        if not left:
            return False
        entry = self._seen.pop(host, None) or [0, 0.0]
        entry[1] = max(entry[1], self.clock.seconds() + left)
        self._seen[host] = entry
        self._bound_size()
        return True

    def _bound_size(self) -> None:
        while len(self._seen) > self.max_addresses:
            self._seen.popitem(last=False)

    def succeeded(self, host: str) -> defer.Deferred:
        """A good bind: the series in a row ends, here and (nobody waits) on every node."""
        if not self.blocked(host):  # a block learned while this bind was being checked stays
            self._seen.pop(host, None)
        return self.shared.reset(host) if self.shared is not None and self.limit else defer.succeed(None)
