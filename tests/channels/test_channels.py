"""The built-in channels: prefixes and formats as smsc.ru documents them, refusals with their SMPP status."""

from __future__ import annotations

import pytest

from gateway.channels import ChannelError, Channels
from gateway.channels.builtin import PING_PROTOCOL_ID
from gateway.model import Submit
from gateway.smpp.constants import CommandStatus as S

PHONE, MAIL = "79001234567", "alice@example.org"


@pytest.fixture(scope="module")
def channels():
    return Channels.discover()


def test_every_builtin_channel_is_installed(channels):
    assert channels.names == ["bot", "call", "hlr", "mail", "ping", "sms", "soc", "tgm", "viber"]


@pytest.mark.parametrize("text, destination, expected", [
    ("hello", PHONE, ("sms", "hello", {})),
    ("  keep  spacing ", PHONE, ("sms", "  keep  spacing ", {})),
    ("__MAIL__: Your invoice\nsubj:Invoice 42", MAIL, ("mail", "Your invoice", {"subject": "Invoice 42"})),
    ("__MAIL__: two\nlines", MAIL, ("mail", "two\nlines", {})),
    ("__MAIL__:no space\nSUBJ: spaced ", MAIL, ("mail", "no space", {"subject": "spaced"})),
    ("__CALL__: Your code is 1 2 3 4\nvoice:w2", PHONE, ("call", "Your code is 1 2 3 4", {"voice": "w2"})),
    ("__CALL__: No voice given", PHONE, ("call", "No voice given", {})),
    ("__VIBER__: Sale today", "+" + PHONE, ("viber", "Sale today", {})),
    ("__SOC__: Hi", PHONE, ("soc", "Hi", {})),
    ("__TGM__: 4821", PHONE, ("tgm", "4821", {})),
    ("__TGM__: 12345678", PHONE, ("tgm", "12345678", {})),
    ("__BOT__: Order shipped\nbot:@shop_bot", PHONE, ("bot", "Order shipped", {"bot": "shop_bot"})),
    ("__BOT__: Order shipped\nbot:shop_bot", PHONE, ("bot", "Order shipped", {"bot": "shop_bot"})),
    ("__HLR__", PHONE, ("hlr", "", {})),
    ("__HLR__: ", PHONE, ("hlr", "", {})),
    ("__PING__", PHONE, ("ping", "", {"protocol_id": PING_PROTOCOL_ID})),
    ("§§TGM§§: 4821", PHONE, ("tgm", "4821", {})),  # ASCII "_" read as GSM 03.38 (0x5F is "§")
    ("__UNKNOWN__: stays an SMS", PHONE, ("sms", "__UNKNOWN__: stays an SMS", {})),
    ("__MAILBOX__: not the mail prefix", PHONE, ("sms", "__MAILBOX__: not the mail prefix", {})),
    ("say __MAIL__: later in the text", PHONE, ("sms", "say __MAIL__: later in the text", {})),
])
def test_classify(channels, text, destination, expected):
    assert channels.classify(text, destination) == expected


def test_the_comment_is_kept_for_the_store(channels):
    name, text, params = channels.classify("__MAIL__: Body\nsubj:Topic\n~~~\ninternal note", MAIL)
    assert (name, text, params) == ("mail", "Body\n~~~\ninternal note", {"subject": "Topic"})
    assert channels.classify("__TGM__: 1234\n~~~\nlogin attempt", PHONE)[1] == "1234\n~~~\nlogin attempt"
    assert channels.classify("__HLR__\n~~~\ncheck", PHONE)[1] == "\n~~~\ncheck"


@pytest.mark.parametrize("text, destination, status, words", [
    ("__TGM__: 123", PHONE, S.ESME_RINVMSGLEN, "4 to 8 digits"),
    ("__TGM__: 123456789", PHONE, S.ESME_RINVMSGLEN, "4 to 8 digits"),
    ("__TGM__: 12ab", PHONE, S.ESME_RINVMSGLEN, "4 to 8 digits"),
    ("__TGM__: ", PHONE, S.ESME_RINVMSGLEN, "4 to 8 digits"),
    ("__BOT__: Hello", PHONE, S.ESME_RINVMSGLEN, "bot:<bot>"),
    ("__BOT__: Hello\nbot:@x", PHONE, S.ESME_RINVMSGLEN, "not a Telegram bot name"),
    ("__BOT__: \nbot:@shop_bot", PHONE, S.ESME_RINVMSGLEN, "needs a message text"),
    ("__MAIL__: Hi", PHONE, S.ESME_RINVDSTADR, "e-mail address"),
    ("__MAIL__: \nsubj:Only a subject", MAIL, S.ESME_RINVMSGLEN, "needs a message text"),
    ("__CALL__: Hi", MAIL, S.ESME_RINVDSTADR, "phone number"),
    ("__VIBER__:", PHONE, S.ESME_RINVMSGLEN, "needs a message text"),
    ("__HLR__", "not-a-number", S.ESME_RINVDSTADR, "phone number"),
])
def test_refusals_carry_a_precise_status(channels, text, destination, status, words):
    with pytest.raises(ChannelError) as e:
        channels.classify(text, destination)
    assert e.value.status == status and words in e.value.reason


def test_http_parameters_select_the_same_channels(channels):
    assert channels.classify_http({"mail": "1", "subj": "Hi"}, "Body", MAIL) == ("mail", "Body", {"subject": "Hi"})
    assert channels.classify_http({"call": "1", "voice": "m"}, "Hi", PHONE) == ("call", "Hi", {"voice": "m"})
    assert channels.classify_http({"tg": "1"}, "4821", PHONE) == ("tgm", "4821", {})
    assert channels.classify_http({"bot": "@shop_bot"}, "Hi", PHONE) == ("bot", "Hi", {"bot": "shop_bot"})
    assert channels.classify_http({"hlr": "1"}, "", PHONE) == ("hlr", "", {})
    assert channels.classify_http({"ping": "1"}, "", PHONE)[0] == "ping"
    assert channels.classify_http({"viber": "0"}, "plain", PHONE) == ("sms", "plain", {})
    with pytest.raises(ChannelError):
        channels.classify_http({"tg": "1"}, "12", PHONE)


def test_resolve_puts_http_parameters_before_the_comment(channels):
    text, params = channels.resolve("mail", "Body\n~~~\nnote", MAIL, {"subject": "S"})
    assert (text, params) == ("Body\n~~~\nnote", {"subject": "S"})
    with pytest.raises(ChannelError) as e:
        channels.resolve("fax", "x", PHONE)
    assert e.value.status == S.VENDOR_NO_ROUTING_POLICY


def test_apply_settles_a_submit_from_either_front_end(channels):
    smpp = channels.apply(Submit(MAIL, "__MAIL__: Body\nsubj:S", parts=2, raw=b"x", extra={"pid": 0}))
    assert (smpp.channel, smpp.text, smpp.parts, smpp.raw) == ("mail", "Body", 1, None)
    assert smpp.extra == {"pid": 0, "subject": "S"}
    http = channels.apply(Submit(PHONE, "Hi", channel="bot", extra={"bot": "@shop_bot", "flash": 1}))
    assert (http.channel, http.extra) == ("bot", {"bot": "shop_bot", "flash": 1})
    sms = Submit(PHONE, "plain")
    assert channels.apply(sms) is sms
    ping = channels.apply(Submit(PHONE, "__PING__"))
    assert (ping.channel, ping.text, ping.extra["protocol_id"]) == ("ping", "", 0x40)


def test_a_route_naming_an_unknown_channel_is_a_configuration_error(channels):
    from gateway.config import ConfigError, load
    from gateway.engine import build_router, check_route_channels

    good = load(None, {"provider:p": {"type": "null"}, "route:mail": {"channel": "mail", "providers": "p"},
                       "route:any": {"channel": "*", "prefix": "44", "providers": "p"}})
    check_route_channels(good, build_router(good), channels)
    bad = load(None, {"provider:p": {"type": "null"}, "route:typo": {"channel": "mial", "providers": "p"}})
    with pytest.raises(ConfigError) as e:
        check_route_channels(bad, build_router(bad), channels)
    assert (e.value.section, e.value.key, e.value.value) == ("route:typo", "channel", "mial")
