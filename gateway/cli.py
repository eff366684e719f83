"""
The ``smsgw`` command line for administration: ``smsgw account add|set|del|list``
and ``smsgw sync`` (pull the archives of the ``[sync] nodes`` now).

Accounts live in Redis, so the commands work against a running gateway's
store.  Which Redis: ``--redis-url`` (or ``$SMSGW_REDIS_URL``); else the
``[redis] url`` of ``--config``; else the embedded redis-server's socket in the
data directory (``--datadir``, or the config's, default ``./var``) — the same
Redis ``twistd smsgw`` with the same options uses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from twisted.internet import defer, task

from gateway.store.accounts import AccountExists, AccountStore, NoSuchAccount, account_from_config

__all__ = ["main", "build_parser", "run"]


#: account options: (flag, config key, parser)
_OPTIONS = [
    ("--password", "password", str),
    ("--api-key", "api_keys", str),          # repeatable
    ("--throughput", "throughput", int),
    ("--max-connections", "max_connections", int),
    ("--allowed-ip", "allowed_ips", str),    # repeatable
    ("--system-type", "system_type", str),
    ("--dedup-window", "dedup_window", int),
    ("--blacklist", "blacklist", str),       # repeatable
    ("--forbidden-word", "forbidden_words", str),  # repeatable
    ("--tariff", "tariff", str),             # "7:1.50,380:2"
    ("--dlr-url", "dlr_url", str),
    ("--mo-url", "mo_url", str),
    ("--callback-method", "callback_method", str),
    ("--allowed-sender", "allowed_senders", str),  # repeatable
    ("--quiet-hours", "quiet_hours", str),
    ("--timezone", "timezone", str),
    ("--default-region", "default_region", str),
]
_LISTS = {"api_keys", "allowed_ips", "blacklist", "forbidden_words", "allowed_senders"}


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None


def _tariff(text: str) -> dict:
    prices = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        prefix, _, price = item.partition(":")
        if not prefix.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected prefix:price, got {item!r}")
        prices[prefix.strip()] = _decimal(price.strip())
    return prices


def _account_options(parser: argparse.ArgumentParser) -> None:
    for flag, key, kind in _OPTIONS:
        if key in _LISTS:
            parser.add_argument(flag, dest=key, action="append", type=kind)
        else:
            parser.add_argument(flag, dest=key, type=_tariff if key == "tariff" else kind)
    state = parser.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_const", const=True)
    state.add_argument("--disable", dest="enabled", action="store_const", const=False)
    parser.add_argument("--balance", type=_decimal, help="balance; 'none' is not accepted: use --unlimited")
    parser.add_argument("--unlimited", action="store_true", help="remove the balance limit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsgw", description="smsgw administration")
    parser.add_argument("--redis-url", default=os.environ.get("SMSGW_REDIS_URL"),
                        help="Redis to use (default: from --config, else the embedded one in --datadir)")
    parser.add_argument("--config", "-c", help="the gateway's INI configuration file")
    parser.add_argument("--datadir", "-d", help="the gateway's data directory (default ./var)")
    commands = parser.add_subparsers(dest="command", required=True)
    account = commands.add_parser("account", help="manage client accounts")
    actions = account.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    _account_options(add)
    change = actions.add_parser("set", help="change an account")
    change.add_argument("name")
    _account_options(change)
    remove = actions.add_parser("del", help="delete an account")
    remove.add_argument("name")
    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true", help="one JSON object per account")
    pull = commands.add_parser("sync", help="pull the archives of the [sync] nodes now")
    pull.add_argument("--node", help="only the node of this name")
    return parser


def _given(args) -> dict:
    """The account options given on the command line, as config-typed values."""
    changes = {key: getattr(args, key) for _, key, _ in _OPTIONS if getattr(args, key) is not None}
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    if args.unlimited:
        changes["balance"] = None
    elif args.balance is not None:
        changes["balance"] = args.balance
    return changes


def _describe(account) -> dict:
    return {
        "name": account.name, "enabled": account.enabled, "throughput": account.throughput,
        "max_connections": account.max_connections, "api_keys": len(account.api_keys),
        "balance": None if account.balance is None else str(account.balance),
        "tariff": {p: str(v) for p, v in account.tariff.items()},
        "allowed_ips": list(account.allowed_ips), "dedup_window": account.dedup_window,
        "quiet_hours": account.quiet_hours, "timezone": account.timezone,
    }


async def run(store: AccountStore, args, out=sys.stdout) -> int:
    """Carry out a parsed ``account`` command against ``store``; the exit status."""
    try:
        if args.action == "add":
            await store.add(account_from_config(args.name, _given(args)))
            print(f"account {args.name} added", file=out)
        elif args.action == "set":
            await store.set(args.name, **_given(args))
            print(f"account {args.name} updated", file=out)
        elif args.action == "del":
            if not await store.delete(args.name):
                raise NoSuchAccount(args.name)
            print(f"account {args.name} deleted", file=out)
        else:
            for name in await store.list():
                account = await store.get(name)
                if account is not None:
                    print(json.dumps(_describe(account)) if args.json else _line(account), file=out)
    except AccountExists as e:
        print(f"error: account {e} already exists", file=sys.stderr)
        return 1
    except NoSuchAccount as e:
        print(f"error: no account {e.name}", file=sys.stderr)
        return 1
    return 0


def _line(account) -> str:
    balance = "unlimited" if account.balance is None else str(account.balance)
    state = "enabled" if account.enabled else "disabled"
    return f"{account.name}\t{state}\tthroughput={account.throughput}\tbalance={balance}"


def redis_url(args) -> str:
    """The Redis the gateway started with the same --config/--datadir uses."""
    if args.redis_url:
        return args.redis_url
    from gateway.config import load

    overrides = {"gateway": {"datadir": args.datadir}} if args.datadir else {}
    config = load(args.config, overrides)
    if config.redis["url"]:
        return config.redis["url"]
    return f"unix://{Path(config.gateway['datadir']).absolute() / 'redis.sock'}"


async def _main(reactor, args) -> int:
    from gateway.config import ConfigError
    from gateway.store.connection import connect

    try:
        args.redis_url = redis_url(args)
    except ConfigError as e:
        print(f"error: configuration: {e}", file=sys.stderr)
        return 2

    try:
        redis = await connect(args.redis_url, poolsize=1, reply_timeout=10).addTimeout(10, reactor)
    except defer.TimeoutError:
        print(f"error: cannot connect to Redis at {args.redis_url}", file=sys.stderr)
        return 2
    try:
        if args.command == "sync":
            from gateway.sync.command import run_sync

            return await run_sync(redis, reactor, args)
        return await run(AccountStore(redis, reactor), args)
    finally:
        await redis.disconnect()


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)

    def go(reactor):
        d = defer.ensureDeferred(_main(reactor, args))
        return d.addCallback(lambda status: _exit(status))

    task.react(go)


def _exit(status: int) -> None:
    if status:
        raise SystemExit(status)


if __name__ == "__main__":
    main()
