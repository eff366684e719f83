"""The admin API: who may use it, precise JSON errors, accounts, connectors, routes, queues, binds."""

from __future__ import annotations

import json

import pytest_twisted
from twisted.internet import reactor

from gateway.model import SendResult
from gateway.store import keys
from tests.admin.conftest import build_admin, mount


@pytest_twisted.ensureDeferred
async def test_only_the_admin_token_or_an_admin_accounts_key_gets_in(admin):
    assert (await admin.get("/admin/api/whoami"))[1]["name"] == "admin"
    assert (await admin.get("/admin/api/whoami", token="key-ops"))[1]["name"] == "ops"
    code, body = await admin.get("/admin/api/whoami", token=None)
    assert code == 401 and body["error"]["code"] == "unauthorized"
    assert (await admin.get("/admin/api/whoami", token="wrong"))[0] == 401
    code, body = await admin.get("/admin/api/whoami", token="key-acme")
    assert code == 403 and "not an admin account" in body["error"]["message"]


@pytest_twisted.ensureDeferred
async def test_everything_admin_is_off_while_the_token_is_empty(redis):
    ctx, tracker, metrics = await build_admin(redis, token="")
    port = reactor.listenTCP(0, mount(ctx, metrics), interface="127.0.0.1")
    try:
        from tests.admin.conftest import Admin
        off = Admin(f"http://127.0.0.1:{port.getHost().port}", ctx, tracker, metrics)
        code, body = await off.get("/admin/api/whoami", token="anything")
        assert code == 403 and body["error"]["code"] == "admin_disabled"
        code, page = await off.get("/console/")
        assert code == 403 and b"[admin] token" in page
        assert (await off.get("/sync/v1/changes", token="key-acme"))[0] == 403
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_unknown_paths_and_methods_get_json_404_and_405(admin):
    code, body = await admin.get("/admin/api/nothing")
    assert code == 404 and body["error"]["code"] == "not_found"
    code, body = await admin.request("PUT", "/admin/api/queues")
    assert code == 405 and "allowed: GET" in body["error"]["message"]
    code, body = await admin.request("POST", "/admin/api/accounts", headers={"Content-Type": "application/json"})
    assert code == 400 and body["error"]["field"] == "name"


@pytest_twisted.ensureDeferred
async def test_accounts_are_created_read_changed_and_deleted(admin):
    code, created = await admin.request("POST", "/admin/api/accounts", {
        "name": "shop", "password": "pw", "api_keys": ["k1", "k2"], "throughput": 50, "balance": "10.50",
        "tariff": {"7": "1.20"}, "allowed_ips": ["10.0.0.0/8"]})
    assert code == 201, created
    assert (created["api_keys"], created["balance"], created["tariff"], created["has_password"]) == (
        2, "10.50", {"7": "1.20"}, True)
    assert "pw" not in json.dumps(created) and "k1" not in json.dumps(created)
    assert (await admin.request("POST", "/admin/api/accounts", {"name": "shop"}))[0] == 409
    code, body = await admin.request("POST", "/admin/api/accounts", {"name": "x", "throughput": "lots"})
    assert code == 400 and body["error"]["field"] == "throughput"
    code, body = await admin.request("POST", "/admin/api/accounts", {"name": "x", "colour": "red"})
    assert code == 400 and body["error"]["field"] == "colour"
    code, changed = await admin.request("PATCH", "/admin/api/accounts/shop", {"enabled": False, "balance": None})
    assert code == 200 and changed["enabled"] is False and changed["balance"] is None
    assert (await admin.ctx.accounts.by_api_key("k1")) is None   # disabled accounts do not log in
    names = [a["name"] for a in (await admin.get("/admin/api/accounts"))[1]["accounts"]]
    assert names == ["acme", "ops", "shop"]
    assert (await admin.request("DELETE", "/admin/api/accounts/shop"))[0] == 200
    assert (await admin.get("/admin/api/accounts/shop"))[0] == 404
    assert (await admin.request("PATCH", "/admin/api/accounts/shop", {"enabled": True}))[0] == 404


@pytest_twisted.ensureDeferred
async def test_connectors_show_status_and_services_can_be_stopped_and_started(admin):
    code, body = await admin.get("/admin/api/connectors")
    states = {c["name"]: (c["state"], c["controllable"]) for c in body["connectors"]}
    assert states == {"null": ("ready", False), "smsc": ("running", True)}
    code, body = await admin.request("POST", "/admin/api/connectors/smsc/stop")
    assert code == 200 and body["state"] == "stopped" and body["capacity"] == 0
    code, body = await admin.request("POST", "/admin/api/connectors/smsc/restart")
    assert code == 200 and body["state"] == "running"
    assert (await admin.request("POST", "/admin/api/connectors/null/stop"))[0] == 409
    assert (await admin.request("POST", "/admin/api/connectors/nope/stop"))[0] == 404
    assert (await admin.request("POST", "/admin/api/connectors/smsc/explode"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_routes_are_shown_and_reloaded_from_the_configuration_file(admin, tmp_path):
    assert (await admin.get("/admin/api/routes"))[1]["routes"][0]["providers"] == ["null"]
    assert (await admin.request("POST", "/admin/api/routes/reload"))[0] == 409   # no config file
    ini = tmp_path / "smsgw.ini"
    ini.write_text("[provider:null]\ntype = null\n[route:ru]\nprefix = 7\nproviders = null\n"
                   "[route:rest]\nproviders = null\n")
    from gateway.config import load
    from gateway.engine import build_router
    admin.ctx.load_routes = lambda: build_router(load(str(ini))).routes
    code, body = await admin.request("POST", "/admin/api/routes/reload")
    assert code == 200 and [r["name"] for r in body["routes"]] == ["ru", "rest"]
    ini.write_text("[provider:other]\ntype = null\n[route:x]\nproviders = other\n")
    code, body = await admin.request("POST", "/admin/api/routes/reload")
    assert code == 409 and "other" in body["error"]["message"]
    ini.write_text("[route:x]\nproviders = nowhere\n")
    code, body = await admin.request("POST", "/admin/api/routes/reload")
    assert code == 400 and "nowhere" in body["error"]["message"]
    assert [r.name for r in admin.ctx.router.routes] == ["ru", "rest"]   # the old rules stay


@pytest_twisted.ensureDeferred
async def test_queues_and_dead_letters_can_be_listed_retried_and_dropped(admin):
    ctx = admin.ctx
    sent = [(await admin.request("POST", "/admin/api/send", {"account": "acme", "to": "7900", "text": t}))[1]
            for t in ("a", "b")]
    code, body = await admin.get("/admin/api/queues")
    assert {q["provider"]: q["ready"] for q in body["queues"]}["null"] == 2 and body["dead"] == 0
    await ctx.queues.renew("o", 30000)
    taken = await ctx.queues.take("o", "null", 10)
    await ctx.queues.settle("o", [(m.id, SendResult.temporary(0x58), 0) for m in taken])  # max_attempts=1
    code, body = await admin.get("/admin/api/queues/dead")
    assert sorted(d["id"] for d in body["dead"]) == sorted(s["id"] for s in sent)
    assert body["dead"][0]["account"] == "acme" and body["dead"][0]["attempts"] == 1
    code, body = await admin.request("POST", "/admin/api/queues/dead/retry", {"ids": [sent[0]["id"]]})
    assert body == {"retry": 1}
    code, body = await admin.request("POST", "/admin/api/queues/dead/drop", {"ids": [sent[1]["id"], "nope"]})
    assert body == {"drop": 1}
    assert (await admin.get(f"/admin/api/archive/{sent[1]['id']}"))[1]["state"] == "UNDELIVERABLE"
    assert (await admin.request("POST", "/admin/api/queues/dead/retry", {"ids": "x"}))[0] == 400


class FakeSession:
    def __init__(self, bind_id):
        self.bind_id, self.why = bind_id, None

    def shutdown(self, why):
        self.why = why


class FakeRegistry:
    def __init__(self, *sessions):
        self._sessions = list(sessions)

    def sessions(self):
        return list(self._sessions)


@pytest_twisted.ensureDeferred
async def test_binds_are_listed_across_nodes_and_kicked_where_they_live(admin, redis):
    now = int(reactor.seconds() * 1000)
    record = {"node": "node-a", "mode": "transceiver", "peer": "10.0.0.9:50000", "since": now, "flags": "",
              "expires": now + 60000}
    await redis.hset(keys.binds("acme"), "node-a/1", json.dumps(record))
    await redis.hset(keys.binds("acme"), "node-b/4", json.dumps(dict(record, node="node-b")))
    await redis.hset(keys.binds("acme"), "dead/1", json.dumps(dict(record, expires=now - 1)))
    local = FakeSession("node-a/1")
    admin.ctx.registries = lambda: [FakeRegistry(local)]
    code, body = await admin.get("/admin/api/binds")
    assert sorted(b["id"] for b in body["binds"]) == ["node-a/1", "node-b/4"]
    code, body = await admin.request("DELETE", "/admin/api/binds/node-a/1")
    assert code == 200 and local.why == "kicked by the administrator"
    code, body = await admin.request("DELETE", "/admin/api/binds/node-b/4")
    assert code == 202 and body["node"] == "node-b"
    assert (await admin.request("DELETE", "/admin/api/binds/node-c/9"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_sync_without_nodes_is_a_clear_conflict(admin):
    assert (await admin.get("/admin/api/sync"))[1] == {"nodes": [], "interval": 0}
    code, body = await admin.request("POST", "/admin/api/sync")
    assert code == 409 and "[sync] nodes" in body["error"]["message"]


@pytest_twisted.ensureDeferred
async def test_repeated_bad_tokens_block_the_address_even_for_the_right_token(admin):
    from gateway.http.auth import FailedLogins

    admin.ctx.auth.failures = FailedLogins(reactor, limit=3, window=60, block=60)
    for _ in range(3):
        assert (await admin.get("/admin/api/whoami", token="guess"))[0] == 401
    code, body = await admin.get("/admin/api/whoami")
    assert code == 429 and body["error"]["code"] == "ip_blocked"
