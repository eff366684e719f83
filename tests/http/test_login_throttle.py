"""Failed HTTP logins counted by every node: two nodes' authenticators over one real Redis."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.cred.credentials import UsernamePassword
from twisted.internet import task

from gateway.http.auth import AccountCache, Authenticator, FailedLogins, shared_logins
from gateway.http.errors import BadCredentials, IpBlocked
from gateway.model import Account
from gateway.store.accounts import AccountStore
from tests.http.conftest import PASSWORD_HASH


def node(redis, clock, accounts, limit=4):
    """One node's `Authenticator`, its counts shared through ``redis``."""
    def failures(scope):
        return FailedLogins(clock, limit, 60, 60, shared=shared_logins(redis, clock, scope))
    return Authenticator(AccountCache(accounts, clock, ttl=0), clock, failures("login_ip"), failures("login_name"))


async def attempt(auth, password, address):
    """What a login answers: "ok", "bad" (wrong credentials) or "blocked"."""
    try:
        await auth.login(UsernamePassword(b"acme", password.encode()), address)
    except BadCredentials:
        return "bad"
    except IpBlocked:
        return "blocked"
    return "ok"


@pytest.fixture
def clock():
    return task.Clock()


@pytest_twisted.ensureDeferred
async def test_password_guessing_spread_over_nodes_and_addresses_blocks_the_login_on_both(redis, clock):
    accounts = AccountStore(redis, clock)
    await accounts.put(Account(name="acme", password=PASSWORD_HASH))
    a, b = node(redis, clock, accounts), node(redis, clock, accounts)
    guesses = [(a, "10.0.0.1"), (b, "10.0.0.2"), (a, "10.0.0.3"), (b, "10.0.0.4")]  # 2 per node, 1 per address
    assert [await attempt(auth, "guess", address) for auth, address in guesses] == ["bad"] * 4
    assert await attempt(b, "secret", "10.0.0.9") == "blocked"  # the node that reached the limit
    assert await attempt(a, "secret", "10.0.0.9") == "blocked"  # and the other, with the right password


@pytest_twisted.ensureDeferred
async def test_a_login_from_an_address_that_never_failed_costs_no_redis_round_trip(redis, clock):
    accounts = AccountStore(redis, clock)
    await accounts.put(Account(name="acme", password=PASSWORD_HASH))
    a = node(redis, clock, accounts)
    looked_up = []
    for failures in (a.failures, a.account_failures):
        blocked = failures.shared.blocked
        failures.shared.blocked = lambda key, blocked=blocked: (looked_up.append(key), blocked(key))[1]
    assert await attempt(a, "secret", "10.0.0.1") == "ok"
    assert looked_up == []
    assert await attempt(a, "guess", "10.0.0.1") == "bad"
    assert await attempt(a, "secret", "10.0.0.1") == "ok"      # failed lately: the shared block is looked up
    assert looked_up == ["10.0.0.1", "acme"]
