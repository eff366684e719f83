"""Accounts in Redis: configuration sync, passwords, API keys, balance, the CLI."""

from __future__ import annotations

import io
import subprocess
import sys
from decimal import Decimal

import pytest
import pytest_twisted
from twisted.internet import threads

from gateway import cli
from gateway.store.accounts import AccountExists, AccountStore, account_from_config
from gateway.store.passwords import hash_password, is_hashed, verify_password

CONFIG = {
    "password": "s3cret", "api_keys": ["key-1", "key-2"], "enabled": True, "throughput": 50,
    "max_connections": 3, "allowed_ips": ["10.0.0.0/8"], "system_type": "MCON3", "dedup_window": 30,
    "blacklist": ["79000000000"], "forbidden_words": ["casino"], "balance": Decimal("100.50"),
    "tariff": {"7": Decimal("1.25")}, "dlr_url": "https://app.example/dlr", "mo_url": "",
    "callback_method": "post", "allowed_senders": ["Shop"], "quiet_hours": "22:00-08:00",
    "timezone": "Europe/Moscow", "default_region": "RU",
}


@pytest.fixture
def store(redis, clock):
    return AccountStore(redis, clock)


def test_password_hash_format_and_constant_time_verification():
    stored = hash_password("pw", n=2 ** 10)
    assert stored.startswith("scrypt$1024$8$1$") and is_hashed(stored)
    assert verify_password("pw", stored) and not verify_password("pW", stored)
    assert not verify_password("pw", "plain") and not is_hashed("pw")


def test_account_from_config_hashes_plain_and_keeps_hashed_passwords():
    account = account_from_config("acme", CONFIG)
    assert is_hashed(account.password) and verify_password("s3cret", account.password)
    assert "key-1" not in account.api_keys and len(account.api_keys) == 2
    hashed = hash_password("x", n=2 ** 10)
    assert account_from_config("b", dict(CONFIG, password=hashed)).password == hashed
    assert account.quiet_spec == "22:00-08:00/Europe/Moscow"
    assert account.ip_allowed("10.1.2.3") and not account.ip_allowed("192.0.2.1")


@pytest_twisted.ensureDeferred
async def test_sync_from_config_round_trips_every_field(store):
    await store.sync_from_config({"acme": CONFIG})
    account = await store.get("acme")
    assert (account.throughput, account.max_connections, account.dedup_window) == (50, 3, 30)
    assert account.blacklist == frozenset({"79000000000"}) and account.allowed_senders == frozenset({"Shop"})
    assert account.tariff == {"7": Decimal("1.25")} and account.balance == Decimal("100.50")
    assert account.allowed_ips == ("10.0.0.0/8",) and account.timezone == "Europe/Moscow"
    assert await store.list() == ["acme"]


@pytest_twisted.ensureDeferred
async def test_config_balance_is_an_opening_balance_only(store):
    await store.sync_from_config({"acme": CONFIG})
    assert await store.adjust_balance("acme", Decimal("-0.50")) == Decimal("100")
    await store.sync_from_config({"acme": CONFIG})  # restart
    assert (await store.get("acme")).balance == Decimal("100")


@pytest_twisted.ensureDeferred
async def test_password_check(store):
    await store.sync_from_config({"acme": CONFIG})
    assert (await store.check_password("acme", "s3cret")).name == "acme"
    assert await store.check_password("acme", "wrong") is None
    assert await store.check_password("nobody", "s3cret") is None
    await store.set("acme", enabled=False)
    assert await store.check_password("acme", "s3cret") is None


@pytest_twisted.ensureDeferred
async def test_api_keys_find_the_account_and_rotation_revokes_old_keys(store):
    await store.sync_from_config({"acme": CONFIG})
    assert (await store.by_api_key("key-2")).name == "acme"
    assert await store.by_api_key("nope") is None
    await store.set("acme", api_keys=["key-3"])
    assert await store.by_api_key("key-1") is None
    assert (await store.by_api_key("key-3")).name == "acme"
    assert await store.delete("acme") is True
    assert await store.by_api_key("key-3") is None and await store.get("acme") is None


@pytest_twisted.ensureDeferred
async def test_add_refuses_existing_and_unlimited_balance_is_not_adjusted(store):
    await store.add(account_from_config("free", {}))
    with pytest.raises(AccountExists):
        await store.add(account_from_config("free", {}))
    assert await store.adjust_balance("free", Decimal("5")) is None
    assert (await store.get("free")).balance is None


async def run_cli(store, *argv):
    out = io.StringIO()
    args = cli.build_parser().parse_args(["account", *argv])
    status = await cli.run(store, args, out)
    return status, out.getvalue()


@pytest_twisted.ensureDeferred
async def test_cli_add_set_list_del(store):
    status, out = await run_cli(store, "add", "shop", "--password", "pw", "--api-key", "k1",
                                "--throughput", "10", "--tariff", "7:1.5", "--balance", "20")
    assert status == 0 and "added" in out
    assert (await store.check_password("shop", "pw")).throughput == 10
    status, _ = await run_cli(store, "set", "shop", "--disable", "--unlimited", "--blacklist", "7900")
    account = await store.get("shop")
    assert status == 0 and not account.enabled and account.balance is None and account.blacklist == {"7900"}
    status, out = await run_cli(store, "list")
    assert out.startswith("shop\tdisabled\tthroughput=10\tbalance=unlimited")
    assert (await run_cli(store, "add", "shop"))[0] == 1
    assert (await run_cli(store, "del", "shop"))[0] == 0
    assert (await run_cli(store, "del", "shop"))[0] == 1


@pytest_twisted.ensureDeferred
async def test_cli_main_runs_as_a_command(redis_server, store):
    command = [sys.executable, "-m", "gateway.cli", "--redis-url", redis_server.url,
               "account", "add", "proc", "--password", "pw"]
    done = await threads.deferToThread(subprocess.run, command, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (await store.get("proc")) is not None
