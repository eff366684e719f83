"""
The JSON API /api/v1 over real loopback HTTP; every answer is validated
against the OpenAPI document, and send requests the handler takes or refuses
against its request schema.
"""

from __future__ import annotations

import json
import re

import pytest
import pytest_twisted
from openapi_schema_validator import OAS30Validator

from gateway.channels import Channels
from gateway.http.api.openapi import for_channels
from gateway.model import Direction

#: The document of a gateway with the built-in channels (those of the ``gateway`` fixture).
DOCUMENT = for_channels(Channels.discover())


def response_schema(path: str, method: str, status: int):
    for pattern, item in DOCUMENT["paths"].items():
        regex = "^/api/v1" + re.sub(r"\{[^}]+\}", "[^/]+", pattern) + "$"
        if re.match(regex, path.split("?")[0]):
            response = item[method.lower()]["responses"][str(status)]
            content = response.get("content")
            return None if content is None else dict(content["application/json"]["schema"],
                                                     components=DOCUMENT["components"])
    raise AssertionError(f"{path} is not in the OpenAPI document")


async def call(gateway, method, path, body=None, status=200, **kw):
    """Request, check the status and validate the body against the document."""
    code, data = await gateway.json(method, path, body, **kw)
    assert code == status, (code, data)
    schema = response_schema(path, method, status)
    if schema is not None:
        OAS30Validator(schema).validate(data)
    return data


def test_document_schemas_are_valid_openapi():
    for name, schema in DOCUMENT["components"]["schemas"].items():
        OAS30Validator.check_schema(schema)
    assert DOCUMENT["openapi"].startswith("3.0")


@pytest_twisted.ensureDeferred
async def test_openapi_is_served_without_a_key(gateway):
    document = await call(gateway, "GET", "/api/v1/openapi.json", key=None)
    assert document["paths"].keys() == DOCUMENT["paths"].keys()
    assert document == json.loads(json.dumps(DOCUMENT))
    channel = document["components"]["schemas"]["MessageIn"]["properties"]["channel"]
    assert set(channel["enum"]) >= {"sms", "mail", "call", "viber", "soc", "tgm", "bot", "hlr", "ping"}


def send_schema() -> dict:
    schema = DOCUMENT["paths"]["/messages"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return dict(schema, components=DOCUMENT["components"])


#: Send requests, whether the schema takes them, and the handler's answer.  The schema refuses
#: what the handler refuses for its shape; what depends on data (a number, a route, the
#: parameters of the channel named) only the handler knows.
SEND_REQUESTS = [
    ({"to": "79001234567", "text": "hi"}, True, 201),
    ({"to": "79001234567", "template": "greeting", "variables": {"name": "Ann"}}, True, 201),
    ({"to": "79001234567", "channel": "hlr"}, True, 201),
    ({"to": "79001234567", "channel": "hlr", "text": ""}, True, 201),
    ({"to": "79001234567"}, False, 400),
    ({"to": "79001234567", "text": ""}, False, 400),
    ({"to": "79001234567", "text": "hi", "template": "greeting"}, False, 400),
    ({"to": "79001234567", "text": "hi", "variables": {"name": "Ann"}}, False, 400),
    ({"text": "hi"}, False, 400),
    ({"to": "79001234567", "text": "hi", "channel": "pigeon"}, False, 400),
    ({"to": "79001234567", "text": "hi", "subject": 5}, False, 400),
    ({"to": "79001234567", "text": "hi", "params": {"voice": 5}}, False, 400),
    ({"to": "79001234567", "text": "hi", "params": {"subject": "Hi"}}, True, 400),  # sms takes no parameter
    ({"to": "1", "text": "hi"}, True, 400),
    ({"to": "al@example.org", "text": "hi", "channel": "mail", "params": {"subject": "Hi"}}, True, 201),
    ({"to": "79001234567", "text": "hi", "channel": "viber"}, True, 422),  # no route
    ({"messages": [{"to": "79001234567", "text": "hi"}]}, True, 200),
    ({"template": "greeting", "messages": [{"to": "79001234567", "variables": {"name": "Ann"}}]}, True, 200),
    ({"messages": []}, False, 400),
    ({"messages": [{"to": "79001234567", "text": "hi"}], "txt": "x"}, False, 200),  # each message refused
]


@pytest.mark.parametrize("body, valid, status", SEND_REQUESTS)
@pytest_twisted.ensureDeferred
async def test_the_send_schema_takes_what_the_handler_takes(gateway, body, valid, status):
    await call(gateway, "PUT", "/api/v1/templates/greeting", {"body": "Hello %(name)s"}, status=201)
    assert OAS30Validator(send_schema()).is_valid(body) == valid, body
    result = await call(gateway, "POST", "/api/v1/messages", body, status=status)
    if "txt" in body:
        assert (result["accepted"], result["refused"]) == (0, 1)


def test_a_message_needs_text_or_template_unless_its_channel_needs_none():
    message_in = DOCUMENT["components"]["schemas"]["MessageIn"]
    content = message_in["allOf"][0]["anyOf"]
    assert content[0]["required"] == ["text"] and content[1]["required"] == ["template"]
    assert content[2]["properties"]["channel"]["enum"] == ["hlr", "ping"]
    assert message_in["allOf"][1] == {"not": {"required": ["text", "template"]},
                                      "description": "not both text and template"}


@pytest_twisted.ensureDeferred
async def test_send_one_then_read_its_status(gateway):
    sent = await call(gateway, "POST", "/api/v1/messages", {"to": "+7 900 123-45-67", "text": "hi", "from": "ACME"},
                      status=201)
    assert sent["to"] == "79001234567" and sent["state"] == "ACCEPTED" and sent["parts"] == 1
    message = await call(gateway, "GET", f"/api/v1/messages/{sent['id']}",
                         headers={"Authorization": "Bearer key-acme"}, key=None)
    assert (message["from"], message["text"], message["direction"]) == ("ACME", "hi", "MT")
    await call(gateway, "GET", f"/api/v1/messages/{sent['id']}", key="key-shop", status=404)


@pytest_twisted.ensureDeferred
async def test_batch_answers_each_message(gateway):
    batch = {"from": "ACME", "messages": [
        {"to": "79001234567", "text": "a"}, {"to": "123", "text": "b"},
        {"to": "79001234568", "text": "c", "channel": "viber"}, {"to": "89001234569", "text": "d"}]}
    result = await call(gateway, "POST", "/api/v1/messages", batch)
    assert (result["accepted"], result["refused"]) == (2, 2)
    codes = [r.get("error", {}).get("code") for r in result["results"]]
    assert codes == [None, "invalid_number", "undeliverable", None]
    assert [r["index"] for r in result["results"]] == [0, 1, 2, 3]


@pytest_twisted.ensureDeferred
async def test_batch_of_1000_is_accepted_and_1001_is_too_large(gateway):
    items = [{"to": f"7900{i:07d}", "text": "bulk"} for i in range(1000)]
    result = await call(gateway, "POST", "/api/v1/messages", {"messages": items})
    assert result["accepted"] == 1000
    await call(gateway, "POST", "/api/v1/messages", {"messages": items + items[:1]}, status=413)


@pytest_twisted.ensureDeferred
async def test_precise_errors(gateway):
    url = "/api/v1/messages"
    assert (await call(gateway, "POST", url, {"to": "79001234567"}, key=None, status=401))["error"]["code"] == "unauthorized"
    assert (await call(gateway, "POST", url, {"to": "79001234567"}, key="bad", status=401))
    error = (await call(gateway, "POST", url, {"to": "79001234567", "txt": "x"}, status=400))["error"]
    assert error == {"code": "bad_parameters", "message": "unknown field 'txt'", "field": "txt"}
    assert (await call(gateway, "POST", url, {"to": "1", "text": "x"}, status=400))["error"]["code"] == "invalid_number"
    shop = dict(key="key-shop")
    assert (await call(gateway, "POST", url, {"to": "79001234567", "text": "casino"}, status=403, **shop))
    await call(gateway, "POST", url, {"to": "79001234567", "text": "once"}, status=201, **shop)
    assert (await call(gateway, "POST", url, {"to": "79001234567", "text": "once"}, status=409, **shop))
    assert (await call(gateway, "POST", url, {"to": "447911123456", "text": "x"}, status=422, **shop))
    code, data = await gateway.json("POST", url, None, headers={"Content-Type": "application/x-www-form-urlencoded"},
                                    data=b"to=1")
    assert code == 415 and data["error"]["code"] == "unsupported_media_type"
    code, data = await gateway.json("DELETE", url)
    assert code == 405
    code, data = await gateway.json("GET", "/api/v1/nothing")
    assert code == 404 and data["error"]["code"] == "not_found"


@pytest_twisted.ensureDeferred
async def test_insufficient_funds_is_402(gateway):
    for n in range(4):
        await call(gateway, "POST", "/api/v1/messages", {"to": f"7900123456{n}", "text": "x"}, status=201,
                   key="key-shop")
    error = await call(gateway, "POST", "/api/v1/messages", {"to": "79001234569", "text": "x"}, status=402,
                       key="key-shop")
    assert error["error"]["code"] == "insufficient_funds" and error["error"]["smpp_status"] == 0x433


@pytest_twisted.ensureDeferred
async def test_balance(gateway):
    assert await call(gateway, "GET", "/api/v1/balance", key="key-shop") == {
        "account": "shop", "balance": "10.00", "unlimited": False}
    assert (await call(gateway, "GET", "/api/v1/balance"))["unlimited"] is True


@pytest_twisted.ensureDeferred
async def test_templates_printf_and_jinja(gateway):
    put = await call(gateway, "PUT", "/api/v1/templates/debt",
                     {"body": "Dear %(name)s, pay %(sum)5.2f rub."}, status=201)
    assert put["variables"] == ["name", "sum"]
    await call(gateway, "PUT", "/api/v1/templates/debt", {"body": "Dear %(name)s, pay %(sum).2f"}, status=200)
    await call(gateway, "PUT", "/api/v1/templates/hello",
               {"body": "Hi {{ name|upper }}{% if vip %}!{% endif %}", "engine": "jinja"}, status=201)
    listed = await call(gateway, "GET", "/api/v1/templates")
    assert [t["name"] for t in listed["templates"]] == ["debt", "hello"]
    sent = await call(gateway, "POST", "/api/v1/messages",
                      {"to": "79001234567", "template": "debt", "variables": {"name": "Ann", "sum": "12.5"}}, status=201)
    assert (await gateway.ctx.messages.get(sent["id"])).text == "Dear Ann, pay 12.50"
    batch = await call(gateway, "POST", "/api/v1/messages", {"template": "hello", "messages": [
        {"to": "79001234567", "variables": {"name": "bob", "vip": True}}, {"to": "79001234568", "variables": {}}]})
    assert (await gateway.ctx.messages.get(batch["results"][0]["id"])).text == "Hi BOB!"
    assert batch["results"][1]["error"] == {"code": "template_error", "message": "unknown template variable 'name'",
                                            "template": "hello", "variable": "name"}
    missing = await call(gateway, "POST", "/api/v1/messages",
                         {"to": "79001234567", "template": "debt", "variables": {"name": "Ann"}}, status=422)
    assert missing["error"]["variable"] == "sum"
    await call(gateway, "POST", "/api/v1/messages", {"to": "79001234567", "template": "nope"}, status=422)
    await call(gateway, "DELETE", "/api/v1/templates/debt", status=204)
    await call(gateway, "GET", "/api/v1/templates/debt", status=404)


@pytest_twisted.ensureDeferred
async def test_sandbox_refuses_python_internals(gateway):
    bad = await call(gateway, "PUT", "/api/v1/templates/evil",
                     {"body": "{{ ''.__class__.__mro__ }}", "engine": "jinja"}, status=201)
    assert bad["name"] == "evil"
    error = await call(gateway, "POST", "/api/v1/messages", {"to": "79001234567", "template": "evil"}, status=422)
    assert error["error"]["code"] == "template_error"
    syntax = await call(gateway, "PUT", "/api/v1/templates/broken", {"body": "{{ x", "engine": "jinja"}, status=422)
    assert syntax["error"]["code"] == "template_error"


@pytest_twisted.ensureDeferred
async def test_archive_search_by_period_number_direction_state_and_cursor(gateway):
    ids = []
    for n in range(5):
        sent = await call(gateway, "POST", "/api/v1/messages", {"to": "79001234567" if n % 2 else "79001234500",
                                                                 "text": f"m{n}"}, status=201)
        ids.append(sent["id"])
    gateway.ctx.index.record(await gateway.tracker.deliver_mo("null", "79001234567", "ACME", "reply",
                                                              account="acme"))
    await gateway.ctx.index.flush()
    page = await call(gateway, "GET", "/api/v1/messages?limit=2")
    assert len(page["messages"]) == 2 and page["next_cursor"]
    rest = await call(gateway, "GET", f"/api/v1/messages?limit=10&cursor={page['next_cursor']}")
    seen = [m["id"] for m in page["messages"] + rest["messages"]]
    assert len(seen) == 6 and rest["next_cursor"] is None and set(ids) <= set(seen)
    by_number = await call(gateway, "GET", "/api/v1/messages?number=%2B79001234567")
    assert {m["text"] for m in by_number["messages"]} == {"m1", "m3", "reply"}
    inbound = await call(gateway, "GET", "/api/v1/messages?direction=MO")
    assert [m["direction"] for m in inbound["messages"]] == [Direction.MO.value]
    accepted = await call(gateway, "GET", "/api/v1/messages?state=ACCEPTED")
    assert len(accepted["messages"]) == 5
    future = await call(gateway, "GET", "/api/v1/messages?since=2100-01-01T00:00:00Z")
    assert future["messages"] == []
    await call(gateway, "GET", "/api/v1/messages?account=shop", status=403)
    admin = await call(gateway, "GET", "/api/v1/messages?account=acme", key="admin-token")
    assert len(admin["messages"]) == 6
    await call(gateway, "GET", "/api/v1/messages?state=LOST", status=400)


@pytest_twisted.ensureDeferred
async def test_callback_secret(gateway):
    secret = await call(gateway, "GET", "/api/v1/callback-secret")
    assert secret["account"] == "acme" and len(secret["secret"]) == 64
    assert (await call(gateway, "GET", "/api/v1/callback-secret"))["secret"] == secret["secret"]


@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/balance", "/api/v1/templates"])
def test_routes_are_documented(path):
    assert response_schema(path, "GET", 200) is not None
