"""Viber, voice and social providers: the configured request shapes against a local vendor API, outcomes, callbacks."""

from __future__ import annotations

import configparser
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import pytest_twisted
from twisted.internet import reactor

from gateway.model import Outcome, State
from gateway.providers.http import BadDlr
from gateway.providers.options import ProviderOptionError
from gateway.providers.vendor import WRONG_CHANNEL, social, viber, voice
from tests.channels.fakes import FakeVendor, serve
from tests.channels.support import RecordingSink, bounded, message

ETC = Path(__file__).resolve().parents[2] / "etc" / "providers"


@pytest_twisted.async_yield_fixture
async def vendor():
    api = FakeVendor()
    api.url, port = await serve(api)
    yield api
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_viber_json_request_with_bearer_token_and_id_from_the_answer(vendor):
    vendor.replies["/v1/messages"] = (202, {"message_uuid": "uuid-1"})
    sink = RecordingSink()
    provider = viber("vb", {"url": vendor.url + "/v1/messages", "token": "T0K", "sender": "Shop",
                            "body": '{"to": "%phone%", "from": "%sender%", "text": "%text%", "client_ref": "%id%"}',
                            "id_json": "message_uuid"}, sink, reactor)
    result = await bounded(provider.send(message("+79001234567", "Скидка 10%", channel="viber", msg_id="v1")))
    assert (result.outcome, result.upstream_ids) == (Outcome.SENT, ("uuid-1",))
    call = vendor.requests[-1]
    assert call["headers"]["authorization"] == "Bearer T0K"
    assert call["body"] == {"to": "79001234567", "from": "Shop", "text": "Скидка 10%", "client_ref": "v1"}
    assert (await sink.when(1))[0][1:3] == ("uuid-1", State.DELIVERED)


@pytest_twisted.ensureDeferred
async def test_voice_form_post_carries_the_voice_of_the_message_or_the_default(vendor):
    vendor.replies["/sys/send.php"] = (200, {"id": 77, "cnt": 1})
    options = {"url": vendor.url + "/sys/send.php", "method": "post", "login": "me", "password": "pw", "voice": "w",
               "body": "fmt=3&call=1&voice=%voice%&login=%login%&psw=%password%&phones=%phone%&mes=%text%",
               "success_json": "id", "id_json": "id", "report": "callback"}
    provider = voice("vc", options, RecordingSink(), reactor)
    result = await bounded(provider.send(message("79001234567", "Ваш код 1234", channel="call", voice="m2")))
    assert result.upstream_ids == ("77",)
    assert vendor.requests[-1]["body"]["voice"] == "m2" and vendor.requests[-1]["body"]["mes"] == "Ваш код 1234"
    await bounded(provider.send(message("79001234567", "x", channel="call")))
    assert vendor.requests[-1]["body"]["voice"] == "w"


@pytest_twisted.ensureDeferred
async def test_get_request_and_error_in_a_2xx_body_is_permanent_with_the_vendors_code(vendor):
    vendor.replies["/send"] = (200, {"error": "bad phone", "error_code": 7})
    provider = social("sc", {"url": vendor.url + "/send", "method": "get", "body": "soc=1&phones=%phone%&mes=%text%",
                             "success_json": "id", "error_json": "error_code"}, RecordingSink(), reactor)
    result = await bounded(provider.send(message("79001234567", "hi", channel="soc")))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, 7)
    assert vendor.requests[-1]["method"] == "GET" and vendor.requests[-1]["body"]["soc"] == "1"


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("status, outcome", [(500, Outcome.TEMPORARY), (429, Outcome.TEMPORARY),
                                             (403, Outcome.PERMANENT)])
async def test_http_statuses(vendor, status, outcome):
    vendor.replies["/m"] = (status, {})
    result = await bounded(viber("vb", {"url": vendor.url + "/m"}, RecordingSink(), reactor).send(
        message(channel="viber")))
    assert (result.outcome, result.error_code) == (outcome, status)


@pytest_twisted.ensureDeferred
async def test_no_vendor_is_temporary_and_wrong_channel_permanent():
    provider = viber("vb", {"url": "http://127.0.0.1:1/m", "timeout": "5"}, RecordingSink(), reactor)
    assert (await bounded(provider.send(message(channel="viber")))).outcome == Outcome.TEMPORARY
    result = await provider.send(message(channel="sms"))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, WRONG_CHANNEL)


@pytest_twisted.ensureDeferred
async def test_status_callbacks_map_vendor_words_to_states():
    sink = RecordingSink()
    provider = viber("vb", {"url": "https://v.example/m", "report": "callback", "dlr_id": "message_uuid",
                            "dlr_map": "DELIVERED=read; UNDELIVERABLE=gone", "dlr_token": "s"}, sink, reactor)
    await provider.handle_dlr({}, {"message_uuid": "u1", "status": "read"})
    await provider.handle_dlr({"message_uuid": "u2", "status": "gone"}, None)
    assert [r[1:3] for r in sink.reports] == [("u1", State.DELIVERED), ("u2", State.UNDELIVERABLE)]
    with pytest.raises(BadDlr):
        provider.handle_dlr({"message_uuid": "u3", "status": "mystery"})
    assert provider.token_ok("s") and not provider.token_ok("")


@pytest.mark.parametrize("options, key", [
    ({}, "url"),
    ({"url": "ftp://x"}, "url"),
    ({"url": "https://x", "method": "json", "body": "{not json"}, "body"),
    ({"url": "https://x", "method": "post", "body": "novalue"}, "body"),
    ({"url": "https://x", "report": "sometimes"}, "report"),
    ({"url": "https://x", "dlr_map": "GREAT=ok"}, "dlr_map"),
    ({"url": "https://x", "basic_user": "u"}, "basic_password"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ProviderOptionError) as e:
        viber("vb", options, RecordingSink(), reactor)
    assert e.value.key == key


def test_presets_in_etc_are_valid_configurations():
    from gateway.discovery import discover
    from gateway.interfaces import IProviderPlugin

    plugins = discover(IProviderPlugin, key="type")
    checked = 0
    for path in sorted(ETC.glob("*.ini")):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
        for section in parser.sections():
            if not section.startswith("provider:"):
                continue
            options = dict(parser[section])
            if options["type"] in ("smtp", "telegram", "telegram_gateway", "viber", "voice", "social", "hlr"):
                name = section.partition(":")[2]
                provider = plugins[options["type"]].provider(name, options, RecordingSink(), reactor)
                assert provider.name == name, path
                checked += 1
    assert checked >= 9


def test_form_bodies_are_encoded_as_forms():
    options = {"url": "https://x/send", "method": "post", "body": "a=%text%&b=1"}
    provider = voice("vc", options, RecordingSink(), reactor)
    request = provider.request(message(text="1+1 & more", channel="call"))
    assert parse_qs(request["form"].decode()) == {"a": ["1+1 & more"], "b": ["1"]}
