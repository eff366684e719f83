"""
Accounts in Redis, shared by every node.

An account is a hash of JSON values (``smsgw:acct:{name}``); its balance is a
separate integer of millionths (``smsgw:bal:{name}``, absent = unlimited) so
that the accept script can reserve from it atomically.  Accounts are created
or updated from the ``[account:NAME]`` sections at start-up
(`AccountStore.sync_from_config`) and changed at run time through this API
(admin API, ``smsgw account`` CLI).
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from decimal import Decimal

import msgpack
from twisted.internet import defer, threads
from zope.interface import implementer

from gateway.interfaces import IAccountStore
from gateway.logs import Logger
from gateway.model import Account
from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.passwords import api_key_digest, hash_password, is_hashed, verify_password
from gateway.store.scripting import DEFAULT_TIMEOUT, call, script

__all__ = ["AccountStore", "AccountExists", "NoSuchAccount", "account_from_config",
           "account_to_fields", "account_from_fields", "MILLION"]

MILLION = Decimal(1_000_000)
_FIELDS = {f.name for f in fields(Account)} - {"name", "balance"}


class AccountExists(Exception):
    """`AccountStore.add` of a name that is taken."""


class NoSuchAccount(KeyError):
    """An operation on an account that does not exist; ``name`` says which."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _json_default(value):
    if isinstance(value, (tuple, frozenset, set)):
        return sorted(value) if not isinstance(value, tuple) else list(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {value!r}")


def account_to_fields(account: Account) -> dict[str, str]:
    """The hash fields of an account (balance excluded: it lives in its own key)."""
    return {name: json.dumps(getattr(account, name), default=_json_default) for name in sorted(_FIELDS)}


def account_from_fields(name: str, stored: dict, balance=None) -> Account:
    """An `Account` from its hash fields and balance (millionths, or None)."""
    values = {}
    for key, raw in stored.items():
        key = as_text(key)
        if key in _FIELDS:
            values[key] = json.loads(as_text(raw))
    account = Account(name=name, **values)
    account.api_keys = tuple(account.api_keys)
    account.allowed_ips = tuple(account.allowed_ips)
    account.forbidden_words = tuple(account.forbidden_words)
    account.blacklist = frozenset(account.blacklist)
    account.allowed_senders = frozenset(account.allowed_senders)
    account.tariff = {p: Decimal(v) for p, v in account.tariff.items()}
    if balance is not None:
        account.balance = Decimal(int(as_text(balance))) / MILLION
    return account


def account_from_config(name: str, options: dict) -> Account:
    """An `Account` from the typed values of an ``[account:NAME]`` section.

    A plain ``password`` is hashed here; a ``scrypt$…`` one is kept as given.
    API keys are stored as digests.  ``balance`` is the initial balance.
    """
    password = options.get("password", "")
    if password and not is_hashed(password):
        password = hash_password(password)
    return Account(
        name=name, password=password,
        api_keys=tuple(api_key_digest(k) for k in options.get("api_keys", ())),
        enabled=options.get("enabled", True), throughput=options.get("throughput", 30),
        max_connections=options.get("max_connections", 1),
        allowed_ips=tuple(options.get("allowed_ips", ())), system_type=options.get("system_type", ""),
        dedup_window=options.get("dedup_window", 60), blacklist=frozenset(options.get("blacklist", ())),
        forbidden_words=tuple(options.get("forbidden_words", ())), balance=options.get("balance"),
        tariff=dict(options.get("tariff", {})), dlr_url=options.get("dlr_url", ""),
        mo_url=options.get("mo_url", ""), callback_method=options.get("callback_method", "post").lower(),
        allowed_senders=frozenset(options.get("allowed_senders", ())),
        quiet_hours=options.get("quiet_hours", ""), timezone=options.get("timezone", "UTC") or "UTC",
        default_region=options.get("default_region", "RU"),
    )


def _millionths(amount: Decimal) -> int:
    return int((Decimal(amount) * MILLION).to_integral_value())


@implementer(IAccountStore)
class AccountStore:
    """Create, read, change and authenticate accounts."""

    log = Logger()

    def __init__(self, redis, clock, timeout: float = DEFAULT_TIMEOUT):
        self.redis = redis
        self.clock = clock
        self.timeout = timeout

    def _call(self, method, *args) -> defer.Deferred:
        return call(self.redis, self.clock, method, *args, timeout=self.timeout)

    def _put(self, account: Account, mode: str) -> defer.Deferred:
        flat = [x for pair in account_to_fields(account).items() for x in pair]
        args = [account.name, msgpack.packb(flat, use_bin_type=False),
                msgpack.packb(list(account.api_keys), use_bin_type=False), mode]
        return script("account_put")(self.redis, args, self.clock, self.timeout)

    @defer.inlineCallbacks
    def add(self, account: Account):
        """Create ``account`` (its ``balance``, if any, is the opening balance)."""
        created = yield self._put(account, "add")
        if not int(created):
            raise AccountExists(account.name)
        if account.balance is not None:
            yield self.set_balance(account.name, account.balance)
        return account

    @defer.inlineCallbacks
    def put(self, account: Account, initial_balance: bool = True):
        """Create or replace ``account``; its balance is set only if it has none yet."""
        yield self._put(account, "put")
        if initial_balance and account.balance is not None:
            yield self._call("setnx", keys.balance(account.name), _millionths(account.balance))
        return account

    @defer.inlineCallbacks
    def sync_from_config(self, accounts: dict):
        """Create/update every ``[account:NAME]`` section (``{name: options}``); fires with the names.

        A balance in the configuration is an opening balance: it does not
        overwrite the balance of an account that already has one.
        """
        for name, options in sorted(accounts.items()):
            yield self.put(account_from_config(name, options))
            self.log.info("account {account} synchronised from configuration", account=name)
        return sorted(accounts)

    @defer.inlineCallbacks
    def get(self, name: str):
        """The `Account` (with its current balance), or None."""
        stored, balance = yield defer.gatherResults(
            [self._call("hgetall", keys.account(name)), self._call("get", keys.balance(name))],
            consumeErrors=True).addErrback(lambda f: f.value.subFailure)
        return account_from_fields(name, stored, balance) if stored else None

    @defer.inlineCallbacks
    def set(self, name: str, **changes):
        """Change fields of an account; ``password`` and ``api_keys`` may be given in plain text."""
        account = yield self.get(name)
        if account is None:
            raise NoSuchAccount(name)
        balance = changes.pop("balance", account.balance)
        if changes.get("password") and not is_hashed(changes["password"]):
            changes["password"] = hash_password(changes["password"])
        if "api_keys" in changes:
            changes["api_keys"] = tuple(api_key_digest(k) for k in changes["api_keys"])
        updated = replace(account, **changes)
        yield self._put(updated, "put")
        if balance != account.balance:
            yield self.set_balance(name, balance)
        updated.balance = balance
        return updated

    def delete(self, name: str) -> defer.Deferred:
        """Remove an account; fires True if it existed."""
        d = script("account_del")(self.redis, [name], self.clock, self.timeout)
        return d.addCallback(lambda n: int(n) == 1)

    def list(self) -> defer.Deferred:
        """All account names, sorted."""
        return self._call("smembers", keys.ACCOUNTS).addCallback(lambda names: sorted(as_text(n) for n in names))

    @defer.inlineCallbacks
    def check_password(self, name: str, password: str):
        """The enabled `Account` if ``password`` is right, else None (scrypt runs in a thread)."""
        account = yield self.get(name)
        if account is None or not account.enabled or not account.password:
            return None
        ok = yield threads.deferToThread(verify_password, password, account.password)
        return account if ok else None

    @defer.inlineCallbacks
    def by_api_key(self, key: str):
        """The enabled `Account` owning API key ``key``, or None."""
        name = yield self._call("get", keys.api_key(api_key_digest(key)))
        if name is None:
            return None
        account = yield self.get(as_text(name))
        return account if account is not None and account.enabled else None

    def set_balance(self, name: str, amount: Decimal | None) -> defer.Deferred:
        """Set the balance (None: unlimited)."""
        if amount is None:
            return self._call("delete", keys.balance(name))
        return self._call("set", keys.balance(name), _millionths(amount))

    def adjust_balance(self, name: str, delta: Decimal) -> defer.Deferred:
        """Add ``delta`` (negative to charge) to a limited balance.

        Fires with the new balance, or None for an unlimited account (unchanged).
        """
        d = script("balance")(self.redis, [name, _millionths(delta)], self.clock, self.timeout)
        return d.addCallback(lambda v: None if v is None else Decimal(int(v)) / MILLION)
