"""The smsc.ru-compatible API over real loopback HTTP, as its clients use it."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import quote

import pytest_twisted
import treq
from twisted.internet import threads

from gateway.model import State


async def text(response) -> str:
    return (await response.content()).decode("utf-8")


@pytest_twisted.ensureDeferred
async def test_curl_get_with_login_and_psw_sends_and_answers_ok(gateway, curl):
    url = (f"{gateway.url}/sys/send.php?login=acme&psw=secret&phones=%2B79001234567"
           f"&mes={quote('Привет')}&charset=utf-8")
    result = await threads.deferToThread(subprocess.run, [curl, "-s", url], capture_output=True, timeout=30)
    answer = result.stdout.decode()
    assert answer.startswith("OK - 1 SMS, ID - "), answer
    request_id = answer.rsplit(" ", 1)[1]
    assert request_id.isdigit()  # numbered like smsc.ru's, for clients that keep it in an integer column
    message = await gateway.sent_message(request_id)
    assert (message.account, message.destination, message.text) == ("acme", "79001234567", "Привет")


@pytest_twisted.ensureDeferred
async def test_post_form_with_apikey_fmt3_is_json(gateway):
    response = await gateway.post("/sys/send.php", data={
        "apikey": "key-acme", "phones": "89001234567;+79001234568", "mes": "hello", "fmt": "3",
        "sender": "ACME", "charset": "utf-8"})
    body = json.loads(await text(response))
    assert response.code == 200 and body["cnt"] == 2 and isinstance(body["id"], int)  # a number, as smsc.ru's
    status = await gateway.post("/sys/status.php", data={
        "apikey": "key-acme", "id": body["id"], "phone": "79001234568", "fmt": "3"})
    state = json.loads(await text(status))
    assert state["status"] == -1 and state["err"] == 0 and state["last_timestamp"] > 0


@pytest_twisted.ensureDeferred
async def test_fmt1_numbers_and_fmt2_xml(gateway):
    one = await gateway.get("/sys/send.php", params={
        "login": "acme", "psw": "secret", "phones": "79001234567", "mes": "hi", "fmt": "1"})
    request_id, count = (await text(one)).split(",")
    assert count == "1" and request_id.isdigit()
    assert (await gateway.sent_message(request_id)).text == "hi"
    two = await gateway.get("/sys/send.php", params={
        "apikey": "key-acme", "phones": "79001234567", "mes": "hi2", "fmt": "2"})
    assert "<cnt>1</cnt>" in await text(two)


@pytest_twisted.ensureDeferred
async def test_windows_1251_is_the_default_charset(gateway):
    mes = quote("Тест".encode("cp1251"))
    response = await gateway.get(f"/sys/send.php?apikey=key-acme&phones=79001234567&mes={mes}&fmt=1")
    request_id = (await text(response)).split(",")[0]
    assert (await gateway.sent_message(request_id)).text == "Тест"


@pytest_twisted.ensureDeferred
async def test_long_cyrillic_text_counts_parts_of_67(gateway):
    response = await gateway.post("/sys/send.php", data={
        "apikey": "key-acme", "phones": "79001234567", "mes": "Ж" * 71, "charset": "utf-8", "fmt": "3"})
    assert json.loads(await text(response))["cnt"] == 2


async def error_of(gateway, **params):
    params.setdefault("fmt", "3")
    response = await gateway.get("/sys/send.php", params=params)
    assert response.code == 200
    return json.loads(await text(response))


@pytest_twisted.ensureDeferred
async def test_errors_have_smsc_numbers(gateway):
    assert (await error_of(gateway, apikey="key-acme", mes="x"))["error_code"] == 1
    assert (await error_of(gateway, login="acme", psw="wrong", phones="79001234567", mes="x"))["error_code"] == 2
    assert (await error_of(gateway, apikey="key-acme", phones="12345", mes="x"))["error_code"] == 7
    assert (await error_of(gateway, apikey="key-shop", phones="79001234567", mes="casino"))["error_code"] == 6
    assert (await error_of(gateway, apikey="key-shop", phones="79990000000", mes="hi"))["error_code"] == 6
    assert (await error_of(gateway, apikey="key-shop", phones="447911123456", mes="hi"))["error_code"] == 8
    assert (await error_of(gateway, apikey="key-acme", phones="79001234567", mes="x", viber="1"))["error_code"] == 8
    assert (await error_of(gateway, apikey="key-acme", phones="79001234567", mes="x",
                           time="99999999"))["error_code"] == 5


@pytest_twisted.ensureDeferred
async def test_fmt0_error_text(gateway):
    response = await gateway.get("/sys/send.php", params={"apikey": "nope", "phones": "79001234567", "mes": "x"})
    assert (await text(response)).startswith("ERROR = 2 (")
    numbers = await gateway.get("/sys/send.php", params={"apikey": "nope", "phones": "1", "mes": "x", "fmt": "1"})
    assert await text(numbers) == "0,-2"


@pytest_twisted.ensureDeferred
async def test_no_money_is_error_3_and_duplicate_is_error_9(gateway):
    ok = await error_of(gateway, apikey="key-shop", phones="79001234567", mes="first", cost="3")
    assert ok["cost"] == "2.50" and ok["balance"] == "7.50"
    again = await error_of(gateway, apikey="key-shop", phones="79001234567", mes="first")
    assert again["error_code"] == 9
    await error_of(gateway, apikey="key-shop", phones="79001234568", mes="second")
    await error_of(gateway, apikey="key-shop", phones="79001234569", mes="third")
    await error_of(gateway, apikey="key-shop", phones="79001234560", mes="fourth")  # balance now 0.00
    broke = await error_of(gateway, apikey="key-shop", phones="79001234561", mes="fifth")
    assert broke["error_code"] == 3


@pytest_twisted.ensureDeferred
async def test_cost_1_prices_without_sending(gateway):
    price = await error_of(gateway, apikey="key-shop", phones="79001234567,79001234568", mes="x", cost="1")
    assert price == {"cost": "5.00", "cnt": 2}
    assert (await gateway.ctx.accounts.get("shop")).balance == 10


@pytest_twisted.ensureDeferred
async def test_repeated_failed_logins_block_the_address(gateway):
    gateway.ctx.auth.failures.limit = 3
    for _ in range(3):
        await error_of(gateway, login="acme", psw="bad", phones="79001234567", mes="x")
    blocked = await error_of(gateway, login="acme", psw="secret", phones="79001234567", mes="x")
    assert blocked["error_code"] == 4


@pytest_twisted.ensureDeferred
async def test_channels_translit_flash_and_schedule(gateway):
    mail = await error_of(gateway, apikey="key-acme", phones="user@example.com", mes="body", mail="1", subj="Hi")
    message = await gateway.sent_message(mail["id"])
    assert (message.channel, message.destination, message.extra["subject"]) == ("mail", "user@example.com", "Hi")
    hlr = await error_of(gateway, apikey="key-acme", phones="79001234567", hlr="1")
    assert (await gateway.sent_message(hlr["id"])).channel == "hlr"
    code = await error_of(gateway, apikey="key-acme", phones="79001234567", mes="12ab", tg="1")
    assert code["error_code"] == 1  # a Telegram code is 4-8 digits (the channel's own rule)
    sms = await error_of(gateway, apikey="key-acme", phones="79001234567", mes="Привет мир", translit="1",
                         flash="1", time="+60", charset="utf-8")
    message = await gateway.sent_message(sms["id"])
    assert message.text == "Privet mir" and message.extra["flash"] == 1
    assert message.schedule - message.created >= 59 * 60 * 1000


@pytest_twisted.ensureDeferred
async def test_status_with_all_and_multiple_ids(gateway):
    sent = await error_of(gateway, apikey="key-acme", phones="79001234567,79001234568", mes="two", id="order-7")
    assert sent["id"] == "order-7"
    numbered = [await error_of(gateway, apikey="key-acme", phones="79001234567", mes="n") for _ in range(2)]
    assert numbered[1]["id"] == numbered[0]["id"] + 1  # the account's own sequence
    alone = await gateway.get("/sys/status.php", params={"apikey": "key-acme", "id": numbered[0]["id"], "fmt": "3"})
    assert json.loads(await text(alone))["status"] == -1  # one phone: found by the id alone
    response = await gateway.get("/sys/status.php", params={
        "apikey": "key-acme", "id": "order-7,order-7", "phone": "79001234567,+79001234568", "fmt": "3", "all": "1"})
    rows = json.loads(await text(response))
    assert [r["phone"] for r in rows] == ["79001234567", "+79001234568"]
    assert all(r["status"] == -1 and r["message"] == "two" for r in rows)
    missing = await gateway.get("/sys/status.php", params={"apikey": "key-acme", "id": "nope", "phone": "79001234567"})
    assert (await text(missing)).startswith("Status = -3")


@pytest_twisted.ensureDeferred
async def test_status_follows_receipts(gateway):
    sent = await error_of(gateway, apikey="key-acme", phones="79001234567", mes="tracked")
    msg_id = (await gateway.sent_message(sent["id"])).id
    redis = gateway.redis
    # what the dispatcher does on send, then a DELIVERED receipt through the tracker
    await redis.hset(f"smsgw:msg:{msg_id}", "u", "up-1")
    await redis.set("smsgw:up:null:up-1", msg_id)
    await gateway.tracker.report("null", "up-1", State.DELIVERED, 0)
    response = await gateway.get("/sys/status.php", params={
        "apikey": "key-acme", "id": sent["id"], "phone": "79001234567", "fmt": "1"})
    assert (await text(response)).startswith("1,")


@pytest_twisted.ensureDeferred
async def test_balance(gateway):
    shop = await gateway.get("/sys/balance.php", params={"apikey": "key-shop"})
    assert await text(shop) == "10.00"
    acme = await gateway.get("/sys/balance.php", params={"apikey": "key-acme", "fmt": "3"})
    assert json.loads(await text(acme)) == {"balance": None}


@pytest_twisted.ensureDeferred
async def test_concurrent_requests_are_all_answered(gateway):
    ds = [treq.get(gateway.url + "/sys/send.php", params={"apikey": "key-acme", "phones": f"7900123{i:04d}",
                                                          "mes": "n", "fmt": "1"}) for i in range(50)]
    responses = [await d for d in ds]
    bodies = [await text(r) for r in responses]
    assert all(b.endswith(",1") for b in bodies) and len(set(bodies)) == 50


@pytest_twisted.ensureDeferred
async def test_a_request_redis_could_not_number_answers_with_its_message_id(gateway, monkeypatch):
    """Accepted, then Redis fails: the client gets OK with the message's own id (which status.php
    finds), not an error that would make it send the message again."""
    from twisted.internet import defer

    from gateway.http.smsc import resources
    from gateway.store.scripting import StoreUnavailable

    monkeypatch.setattr(resources, "script", lambda name: lambda *a, **k: defer.fail(StoreUnavailable("gone")))
    answer = await error_of(gateway, apikey="key-acme", phones="79001234567", mes="kept")
    assert len(answer["id"]) == 17
    message = await gateway.ctx.messages.get(answer["id"])
    assert message.text == "kept"
    status = await gateway.get("/sys/status.php", params={"apikey": "key-acme", "id": answer["id"],
                                                          "phone": "79001234567", "fmt": "3"})
    assert json.loads(await text(status))["status"] == -1
