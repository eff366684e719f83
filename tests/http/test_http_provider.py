"""The HTTP-template provider against a local upstream server that checks the exact request."""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from zope.interface.verify import verifyObject

from gateway.dispatch import Dispatcher
from gateway.interfaces import IProvider
from gateway.model import Account, IdGenerator, Message, Outcome, State, Submit
from gateway.providers.http import HttpTemplateProvider
from gateway.providers.http_template import ProviderOptionError, build_request, judge, parse_options
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.queues import Queues
from tests.http.support import Recorder, eventually, listen

PRESETS = Path(__file__).resolve().parents[2] / "etc" / "providers"


def message(**fields) -> Message:
    fields.setdefault("id", "0abcdefgh00010001")
    fields.setdefault("account", "acme")
    fields.setdefault("destination", "79001234567")
    fields.setdefault("text", "Привет & hello")
    fields.setdefault("source", "ACME")
    return Message(**fields)


class Sink:
    def __init__(self):
        self.reports = []

    def report(self, provider, upstream_id, state, error_code=0, at=None):
        from twisted.internet import defer

        self.reports.append((provider, upstream_id, state, error_code))
        return defer.succeed("ours")


@pytest.fixture
def upstream():
    recorder = Recorder(lambda r: (200, {"id": "up-77", "cnt": 1}))
    port, url = listen(recorder)
    recorder.url = url
    yield recorder
    port.stopListening()


def provider(upstream, sink=None, **options) -> HttpTemplateProvider:
    options.setdefault("url", upstream.url + "/sys/send.php")
    return HttpTemplateProvider("up", options, sink or Sink(), reactor)


@pytest_twisted.ensureDeferred
async def test_post_form_with_md5_signature_and_basic_auth(upstream):
    p = provider(upstream, method="post", login="me", password="pw", secret="s3cr3t", md5_param="sign",
                 params="login=%login%&psw=%password%&phones=%sms%&mes=%text%&sender=%sender%",
                 basic_user="gw", basic_password="b4sic", success_json="id", id_json="id")
    verifyObject(IProvider, p)
    result = await p.send(message())
    assert result.outcome == Outcome.SENT and result.upstream_ids == ("up-77",)
    (seen,) = upstream.requests
    assert seen["method"] == "POST" and seen["path"] == "/sys/send.php"
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert seen["headers"]["authorization"] == "Basic " + base64.b64encode(b"gw:b4sic").decode()
    args = {k: v[0] for k, v in seen["args"].items()}
    assert args == {"login": "me", "psw": "pw", "phones": "79001234567", "mes": "Привет & hello", "sender": "ACME",
                    "sign": hashlib.md5("mepw79001234567Привет & helloACMEs3cr3t".encode()).hexdigest()}


@pytest_twisted.ensureDeferred
async def test_get_with_md5_template_and_plus_kept(upstream):
    upstream.respond = lambda r: (200, b"accepted;A132571BC")
    p = provider(upstream, method="get", url=upstream.url + "/send/?v=2", strip_plus="no", secret="k",
                 md5="%sms%:%text%:%secret%", params="phone=%sms%&text=%text%&sig=%md5%",
                 success_regex="^accepted", id_regex="^accepted;(\\w+)")
    result = await p.send(message(text="hi"))
    assert result.upstream_ids == ("A132571BC",)
    (seen,) = upstream.requests
    args = {k: v[0] for k, v in seen["args"].items()}
    assert args == {"v": "2", "phone": "+79001234567", "text": "hi",
                    "sig": hashlib.md5(b"+79001234567:hi:k").hexdigest()}


@pytest_twisted.ensureDeferred
async def test_json_body_with_header_and_literal_percent_escape(upstream):
    upstream.respond = lambda r: (200, [{"destination": "79001234567", "messageUuid": "uuid-1"}])
    p = provider(upstream, method="json", password="KEY", headers="Authorization: Basic %password%",
                 params='[{"channelType": "SMS", "destination": "%sms%", "content": "%text%", "ext": "%id%"}]',
                 success_json="0.messageUuid", id_json="0.messageUuid")
    result = await p.send(message(text='say "hi"'))
    assert result.upstream_ids == ("uuid-1",)
    (seen,) = upstream.requests
    assert seen["headers"]["authorization"] == "Basic KEY"
    assert json.loads(seen["body"]) == [{"channelType": "SMS", "destination": "79001234567",
                                         "content": 'say "hi"', "ext": "0abcdefgh00010001"}]
    semy = build_request(parse_options("s", {"url": "http://x/", "params": "phone=%2B%sms%&msg=%text%"}), message())
    assert semy.body.decode().startswith("phone=%2B79001234567&msg=")


@pytest_twisted.ensureDeferred
async def test_server_errors_are_retried_then_temporary_and_refusals_permanent(upstream):
    answers = iter([(500, b"busy"), (503, b"busy"), (200, {"id": "late"})])
    upstream.respond = lambda r: next(answers)
    p = provider(upstream, retries=2, retry_delay=0.01, success_json="id", id_json="id")
    assert (await p.send(message())).upstream_ids == ("late",)
    upstream.respond = lambda r: (500, b"down")
    assert (await p.send(message())).outcome == Outcome.TEMPORARY
    upstream.respond = lambda r: (200, {"error": "bad number", "error_code": 7})
    refused = await p.send(message())
    assert refused.outcome == Outcome.PERMANENT and "id" in refused.reason
    upstream.respond = lambda r: (400, b"no")
    assert (await p.send(message())).outcome == Outcome.PERMANENT
    dead = HttpTemplateProvider("dead", {"url": "http://127.0.0.1:1/", "retries": "0"}, Sink(), reactor)
    assert (await dead.send(message())).outcome == Outcome.TEMPORARY
    assert p.capacity() == 10


def test_options_are_validated_with_the_key_named():
    cases = [({}, "url"), ({"url": "ftp://x"}, "url"), ({"url": "http://x", "method": "put"}, "method"),
             ({"url": "http://x", "method": "json", "params": "{"}, "params"),
             ({"url": "http://x", "params": "a=1&b"}, "params"),
             ({"url": "http://x", "basic_user": "u"}, "basic_password"),
             ({"url": "http://x", "retries": "many"}, "retries"),
             ({"url": "http://x", "id_regex": "("}, "id_regex"),
             ({"url": "http://x", "id_regex": "x"}, "id_regex"),
             ({"url": "http://x", "dlr_map": "LOST=1"}, "dlr_map"),
             ({"url": "http://x", "colour": "red"}, "colour")]
    for options, key in cases:
        with pytest.raises(ProviderOptionError) as caught:
            parse_options("p", options)
        assert caught.value.key == key, (options, caught.value)


def http_presets() -> dict:
    """``{file name: (section, options)}`` of the presets with ``type = http``."""
    found = {}
    for path in sorted(PRESETS.glob("*.ini")):
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read(path, encoding="utf-8")
        for section in parser.sections():
            if parser[section].get("type") == "http":
                found[path.name] = (section.partition(":")[2], dict(parser[section]))
    return found


def test_the_documented_aggregators_have_presets():
    assert {"smsc.ini", "smsru.ini", "prostor-sms.ini", "smspilot.ini", "rostelecom.ini", "digital-direct.ini",
            "semysms.ini"} <= set(http_presets())


@pytest.mark.parametrize("preset", sorted(http_presets()))
def test_presets_are_valid_configuration(preset):
    section, options = http_presets()[preset]
    options.pop("type")
    built = build_request(parse_options(section, options), message())
    assert built.url.startswith("http") and "%sms%" not in (built.body or b"").decode()


def test_the_rostelecom_preset_has_the_shape_of_the_public_client():
    """sms.rt.ru v2 as laravel-notification-channels/SmsRT calls it (the source named in the preset)."""
    section, options = http_presets()["rostelecom.ini"]
    options.pop("type")
    token = base64.b64encode(b"me.s3cret").decode()
    parsed = parse_options(section, dict(options, password=token))
    built = build_request(parsed, message())
    assert (built.method, built.url) == ("POST", "https://sms.rt.ru/api/v2/send_message")
    assert built.headers["Authorization"] == f"Basic {token}"
    assert json.loads(built.body) == {"msisdn": "79001234567", "message_text": "Привет & hello", "shortcode": "ACME"}
    accepted = judge(parsed, 200, json.dumps({"status": "ok", "result": {"uid": "rt-1"}}), built.values)
    assert (accepted.ok, accepted.upstream_id) == (True, "rt-1")
    assert not judge(parsed, 200, json.dumps({"status": "error", "message": "bad shortcode"}), built.values).ok


@pytest_twisted.ensureDeferred
async def test_message_goes_upstream_and_its_dlr_callback_delivers_it(gateway, upstream, redis):
    p = HttpTemplateProvider("up", {"url": upstream.url + "/send", "params": "to=%sms%&text=%text%&ref=%id%",
                                    "success_json": "id", "id_json": "id", "dlr_token": "t0k",
                                    "dlr_id": "id", "dlr_status": "status", "dlr_error": "err"},
                             gateway.tracker, reactor)
    gateway.providers["up"] = p
    acceptor = Acceptor(redis, Router([Route("all", providers=("up",))]), IdGenerator(60), reactor)
    dispatcher = Dispatcher(Queues(redis, reactor), [p], "test#60", reactor, poll_interval=0.05)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    try:
        account = Account(name="acme", throughput=0, dedup_window=0)
        stored = await acceptor.accept(account, Submit(destination="79001234567", text="via http",
                                                       registered_delivery=1))
        (seen,) = await upstream.wait_for(1)
        assert {k: v[0] for k, v in seen["args"].items()} == {"to": "79001234567", "text": "via http",
                                                               "ref": stored.id}

        async def enroute():
            m = await gateway.ctx.messages.get(stored.id)
            return m.state == State.ENROUTE and m
        assert (await eventually(enroute)).upstream_ids == ("up-77",)
        forged = await treq.post(gateway.url + "/dlr/up", data={"id": "up-77", "status": "1"})
        assert forged.code == 403
        dlr = await treq.post(gateway.url + "/dlr/up?token=t0k", json={"id": "up-77", "status": "1", "err": 0})
        assert dlr.code == 200 and json.loads(await dlr.content())["id"] == stored.id
        assert (await gateway.ctx.messages.get(stored.id)).state == State.DELIVERED
        bad = await treq.get(gateway.url + "/dlr/up", params={"token": "t0k", "id": "up-77", "status": "weird"})
        assert bad.code == 400
        unknown = await treq.get(gateway.url + "/dlr/nobody", params={"id": "1", "status": "1"})
        assert unknown.code == 404
    finally:
        await dispatcher.stopService()
