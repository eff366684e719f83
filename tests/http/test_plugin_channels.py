"""
A channel added by a plugin is reached over HTTP like a built-in one: the
example ``slack`` channel and provider (``etc/plugins/example_channel.py``),
loaded from a temporary plugins folder, take a message from
``POST /api/v1/messages`` (and from ``/sys/send.php?channel=slack``) through
Redis, the router and the dispatcher to the plugin's provider; the OpenAPI
document lists the channel; an unknown channel is a logged 400 that names it
and the channels installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.logger import formatEvent, globalLogPublisher

from gateway.channels import Channels
from gateway.config import load
from gateway.discovery import discover
from gateway.dispatch import Dispatcher
from gateway.http.context import HttpContext
from gateway.http.site import make_site
from gateway.interfaces import IProviderPlugin
from gateway.model import Account, IdGenerator, State
from gateway.providers.null import NullProvider
from gateway.routing import Route, Router
from gateway.store.accept import Acceptor
from gateway.store.accounts import AccountStore
from gateway.store.index import ArchiveIndex, IndexingAcceptor
from gateway.store.messages import MessageStore
from gateway.store.passwords import api_key_digest
from gateway.store.queues import Queues
from gateway.store.tracker import Tracker
from gateway.templates import TemplateStore
from tests.channels.fakes import FakeVendor, serve
from tests.dispatch.support import eventually
from tests.http.conftest import message_of_request

EXAMPLE = Path(__file__).resolve().parents[2] / "etc" / "plugins" / "example_channel.py"
KEY = "key-ops"


@pytest.fixture
def log_lines():
    events = []
    globalLogPublisher.addObserver(events.append)
    yield lambda: [formatEvent(e) for e in events if e.get("log_namespace", "").startswith("gateway.")]
    globalLogPublisher.removeObserver(events.append)


@pytest_twisted.async_yield_fixture
async def site(redis, tmp_path):
    """The HTTP site over Redis with the plugins folder's channels, routes sms → null and slack → slack."""
    shutil.copy(EXAMPLE, tmp_path / "example_channel.py")
    channels = Channels.discover(tmp_path)
    slack_api = FakeVendor()
    slack_api.replies["/hook"] = (200, "ok")
    slack_api.url, slack_port = await serve(slack_api)
    accounts = AccountStore(redis, reactor)
    await accounts.put(Account("ops", api_keys=(api_key_digest(KEY),), throughput=0, dedup_window=0))
    tracker = Tracker(redis, IdGenerator(72), reactor, node="p", unmatched_delay=0.05)
    slack = discover(IProviderPlugin, tmp_path, key="type")["slack"].provider(
        "slack", {"type": "slack", "url": slack_api.url + "/hook"}, tracker, reactor)
    router = Router([Route("sms", channel="sms", providers=("null",)),
                     Route("slack", channel="slack", providers=("slack",))])
    acceptor = Acceptor(redis, router, IdGenerator(71), reactor, node="p", channels=channels)
    dispatcher = Dispatcher(Queues(redis, reactor), [NullProvider("null", sink=tracker, clock=reactor), slack],
                            "p#1", reactor, poll_interval=60, backoff_base=0.01)
    acceptor.add_listener(dispatcher.wake)
    dispatcher.startService()
    index = ArchiveIndex(redis, reactor)
    ctx = HttpContext(redis=redis, clock=reactor, acceptor=IndexingAcceptor(acceptor, index), accounts=accounts,
                      messages=MessageStore(redis, reactor), templates=TemplateStore(redis, reactor), index=index,
                      node="p", account_ttl=0.0, channels=channels)
    port = reactor.listenTCP(0, make_site(load(None, {"gateway": {"node": "p"}}), redis_service=None, context=ctx),
                             interface="127.0.0.1")
    state = type("Site", (), {"url": f"http://127.0.0.1:{port.getHost().port}", "slack": slack_api,
                              "messages": ctx.messages, "redis": redis})
    yield state
    await port.stopListening()
    await dispatcher.stopService()
    await slack_port.stopListening()


async def post(site, body):
    response = await treq.post(site.url + "/api/v1/messages", json=body, headers={"X-API-Key": KEY})
    return response.code, json.loads((await response.content()).decode())


async def delivered(site, msg_id):
    await eventually(lambda: site.messages.get(msg_id).addCallback(lambda m: m.state == State.DELIVERED))
    return await site.messages.get(msg_id)


@pytest_twisted.ensureDeferred
async def test_a_plugin_channel_is_reachable_through_the_json_api(site):
    code, sent = await post(site, {"to": "#ops", "channel": "slack", "text": "Deploy finished",
                                   "params": {"username": "release-bot"}})
    assert code == 201, sent
    message = await delivered(site, sent["id"])
    assert (message.channel, message.destination, message.provider) == ("slack", "#ops", "slack")
    assert site.slack.calls("/hook")[-1]["body"] == {"channel": "#ops", "text": "Deploy finished",
                                                     "username": "release-bot"}


@pytest_twisted.ensureDeferred
async def test_a_plugin_channel_in_a_batch_and_its_own_refusals(site):
    code, result = await post(site, {"channel": "slack", "messages": [
        {"to": "@ann", "text": "hi\nas:deployer"},
        {"to": "not a slack channel", "text": "x"},
        {"to": "#ops", "text": "x", "params": {"subject": "no such parameter"}},
        {"to": "#ops"},
        {"to": "79001234567", "text": "an SMS in the same batch", "channel": "sms"},
    ]})
    assert code == 200, result
    results = result["results"]
    assert [r.get("error", {}).get("code") for r in results] == [
        None, "invalid_number", "bad_parameters", "bad_parameters", None]
    assert "__SLACK__ needs #channel or @user" in results[1]["error"]["message"]
    assert results[2]["error"]["message"] == "channel slack has no parameter 'subject'; its parameters: username"
    assert results[3]["error"]["field"] == "text"
    await delivered(site, results[0]["id"])
    assert site.slack.calls("/hook")[-1]["body"] == {"channel": "@ann", "text": "hi", "username": "deployer"}


@pytest_twisted.ensureDeferred
async def test_a_plugin_channel_through_send_php_with_the_channel_parameter(site):
    response = await treq.get(site.url + "/sys/send.php", params={
        "apikey": KEY, "phones": "#ops", "mes": "from an ERP\nas:erp", "channel": "slack", "fmt": "3",
        "charset": "utf-8"})
    answer = json.loads((await response.content()).decode())
    assert "id" in answer, answer
    message = await message_of_request(site.redis, site.messages, "ops", answer["id"])
    await delivered(site, message.id)
    assert site.slack.calls("/hook")[-1]["body"] == {"channel": "#ops", "text": "from an ERP", "username": "erp"}
    response = await treq.get(site.url + "/sys/send.php", params={
        "apikey": KEY, "phones": "79001234567", "mes": "x", "channel": "pigeon", "fmt": "3"})
    refused = json.loads((await response.content()).decode())
    assert refused["error_code"] == 1 and "unknown channel 'pigeon'" in refused["error"] and "slack" in refused["error"]
    response = await treq.get(site.url + "/sys/send.php", params={
        "apikey": KEY, "phones": "79001234567", "mes": "x", "channel": "slack", "viber": "1", "fmt": "3"})
    assert json.loads((await response.content()).decode())["error_code"] == 1


@pytest_twisted.ensureDeferred
async def test_an_unknown_channel_is_a_logged_400_naming_the_installed_ones(site, log_lines):
    code, refused = await post(site, {"to": "79001234567", "channel": "pigeon", "text": "coo"})
    assert code == 400
    error = refused["error"]
    assert (error["code"], error["field"], error["channel"]) == ("bad_parameters", "channel", "pigeon")
    assert "slack" in error["known"] and "sms" in error["known"]
    assert error["message"] == f"unknown channel 'pigeon'; known: {', '.join(error['known'])}"
    assert any("400 bad_parameters: unknown channel 'pigeon'" in line for line in log_lines())


@pytest_twisted.ensureDeferred
async def test_the_openapi_document_lists_the_installed_channels(site):
    response = await treq.get(site.url + "/api/v1/openapi.json")
    document = json.loads((await response.content()).decode())
    schemas = document["components"]["schemas"]
    assert "slack" in schemas["MessageIn"]["properties"]["channel"]["enum"]
    assert schemas["Batch"]["properties"]["channel"]["enum"] == schemas["MessageIn"]["properties"]["channel"]["enum"]
    textless = schemas["MessageIn"]["allOf"][0]["anyOf"][2]["properties"]["channel"]["enum"]
    assert textless == ["hlr", "ping"]
