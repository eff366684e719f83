"""Helpers of the store tests."""

from __future__ import annotations

from gateway.model import Account, Submit

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z


def account(name="acme", **fields) -> Account:
    """An account without duplicate protection and throughput limits unless asked."""
    fields.setdefault("dedup_window", 0)
    fields.setdefault("throughput", 0)
    return Account(name=name, **fields)


def submit(destination="79001234567", text="hello", **fields) -> Submit:
    return Submit(destination=destination, text=text, **fields)


async def accept(acceptor, clock, acct, *submits):
    """Accept ``submits`` in one turn; a list of Messages or exceptions, in order."""
    ds = [acceptor.accept(acct, s) for s in submits]
    clock.advance(0)
    results = []
    for d in ds:
        try:
            results.append(await d)
        except Exception as e:
            results.append(e)
    return results


async def flush(d, clock):
    """Await a Deferred that needs the clock's current turn (a TurnBatcher) to run."""
    clock.advance(0)
    return await d
