"""Routing rules: account, channel, longest prefix, failover order, reload."""

from __future__ import annotations

import pytest

from gateway.routing import NO_ROUTING_POLICY, NoRoute, Route, Router

ROUTES = [
    Route("default", providers=("bulk",)),
    Route("russia", prefix="7", providers=("ru1", "ru2")),
    Route("moscow", prefix="7495", providers=("msk",)),
    Route("vip", account="vip", providers=("premium", "bulk")),
    Route("mail", channel="__MAIL__", providers=("smtp",)),
]


def test_longest_prefix_wins():
    router = Router(ROUTES)
    assert router.route("shop", "sms", "+74951234567").name == "moscow"
    assert router.route("shop", "sms", "79001234567").providers == ("ru1", "ru2")
    assert router.route("shop", "sms", "380501234567").name == "default"


def test_account_rule_beats_any_account_rule():
    assert Router(ROUTES).route("vip", "sms", "74951234567").providers == ("premium", "bulk")


def test_channel_is_matched():
    assert Router(ROUTES).route("shop", "__MAIL__", "a@example.org").name == "mail"


def test_no_route_carries_status_0x045a():
    router = Router([Route("ru", prefix="7", providers=("ru1",))])
    with pytest.raises(NoRoute) as e:
        router.route("shop", "sms", "380501234567")
    assert e.value.status == NO_ROUTING_POLICY == 0x045A
    with pytest.raises(NoRoute):
        router.route("shop", "__VIBER__", "79001234567")


def test_reload_replaces_all_rules_at_once():
    router = Router(ROUTES)
    router.reload([Route("only", providers=("x",))])
    assert router.route("vip", "sms", "74951234567").name == "only"
    assert router.providers() == {"x"}


def test_bad_rules_are_refused():
    with pytest.raises(ValueError):
        Router([Route("a", prefix="7", providers=("x",)), Route("b", prefix="+7", providers=("y",))])
    with pytest.raises(ValueError):
        Route("empty", providers=())
    router = Router(ROUTES)
    with pytest.raises(ValueError):
        router.reload([Route("a", providers=("x",)), Route("b", providers=("y",))])
    assert router.route("shop", "sms", "7495").name == "moscow"  # a failed reload changes nothing
