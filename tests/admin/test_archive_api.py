"""Archive search, detail, streamed export and test messages through the admin API; the console files."""

from __future__ import annotations

import csv
import io
import json

import pytest_twisted
import treq

from gateway.model import State


@pytest_twisted.ensureDeferred
async def test_a_test_message_is_found_in_the_archive_with_its_receipt(admin):
    code, sent = await admin.request("POST", "/admin/api/send",
                                     {"account": "acme", "to": "+7 900 123-45-67".replace("-", ""),
                                      "text": "hello\n~~~\nticket 42"})
    assert code == 201 and sent["provider"] == "null"
    ctx = admin.ctx
    await ctx.queues.renew("o", 30000)
    [message] = await ctx.queues.take("o", "null", 10)
    result = await ctx.providers["null"].send(message)
    await ctx.queues.settle("o", [(message.id, result, 0)])
    assert await admin.tracker.report("null", result.upstream_ids[0], State.DELIVERED) == sent["id"]
    code, record = await admin.get(f"/admin/api/archive/{sent['id']}")
    assert [h["state"] for h in record["history"]] == ["ACCEPTED", "ENROUTE", "DELIVERED"]
    assert (record["stat"], record["comment"], record["to"], record["origin"]) == (
        "DELIVRD", "ticket 42", "+79001234567", "node-a")
    code, page = await admin.get("/admin/api/archive?number=79001234567&state=DELIVRD&direction=MT")
    assert [m["key"] for m in page["messages"]] == [sent["id"]] and page["next_cursor"] is None
    code, page = await admin.get("/admin/api/archive?q=TICKET")
    assert [m["key"] for m in page["messages"]] == [sent["id"]]


@pytest_twisted.ensureDeferred
async def test_bad_search_parameters_are_named(admin):
    for query, field in [("since=yesterday", "since"), ("direction=sideways", "direction"),
                         ("state=LOST", "state"), ("limit=0", "limit"), ("order=up", "order"),
                         ("since=2025-06-02&until=2025-06-01", "since"), ("cursor=a%20b", "cursor")]:
        code, body = await admin.get("/admin/api/archive?" + query)
        assert code == 400 and body["error"]["field"] == field, query
    assert (await admin.get("/admin/api/archive/nope"))[0] == 404
    code, body = await admin.request("POST", "/admin/api/send", {"account": "acme", "to": "7900"})
    assert code == 400 and body["error"]["field"] == "text"
    code, body = await admin.request("POST", "/admin/api/send", {"account": "ghost", "to": "7900", "text": "x"})
    assert code == 404


@pytest_twisted.ensureDeferred
async def test_a_refused_test_message_says_why(admin):
    await admin.ctx.accounts.set("acme", enabled=False)
    code, body = await admin.request("POST", "/admin/api/send", {"account": "acme", "to": "7900", "text": "x"})
    assert code == 422 and body["error"]["message"] == "account disabled"


@pytest_twisted.ensureDeferred
async def test_export_streams_csv_in_chunks(admin):
    ids = []
    for n in range(1200):   # 1200 rows, written a page (500) at a time
        ids.append((await admin.ctx.acceptor.accept(await admin.ctx.accounts.get("acme"),
                                                    _submit(f"message {n}"))).id)
    response = await treq.get(admin.url + "/admin/api/archive/export?format=csv",
                              headers={"Authorization": "Bearer admin-secret"})
    assert response.code == 200
    from twisted.web.iweb import UNKNOWN_LENGTH
    assert response.length is UNKNOWN_LENGTH   # chunked: no Content-Length, so not built in memory first
    assert response.headers.getRawHeaders("content-type")[0].startswith("text/csv")
    chunks = []
    await treq.collect(response, chunks.append)
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [r["id"] for r in rows] == ids and rows[0]["text"] == "message 0"
    response = await treq.get(admin.url + "/admin/api/archive/export?format=jsonl&limit=100&order=desc",
                              headers={"Authorization": "Bearer admin-secret"})
    lines = (await response.content()).decode().splitlines()
    assert json.loads(lines[0])["id"] == ids[-1] and len(lines) == 1200
    code, body = await admin.get("/admin/api/archive/export?format=xml")
    assert code == 400 and body["error"]["field"] == "format"


def _submit(text):
    from gateway.model import Submit
    return Submit(destination="79001234567", text=text)


@pytest_twisted.ensureDeferred
async def test_the_console_is_served_with_strict_headers(admin):
    response = await treq.get(admin.url + "/console/")
    body = await response.content()
    assert response.code == 200 and b"smsgw console" in body
    assert b"default-src 'self'" in response.headers.getRawHeaders(b"content-security-policy")[0]
    js = await treq.get(admin.url + "/console/console.js")
    assert js.code == 200 and b"Authorization" in await js.content()
    assert (await treq.get(admin.url + "/console/nope.js")).code == 404
    redirect = await treq.get(admin.url + "/admin", allow_redirects=False)
    assert redirect.code == 302 and redirect.headers.getRawHeaders(b"location") == [b"/console/"]
