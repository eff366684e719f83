"""Credentials: stored hashed, compared in constant time, guessing throttled per address and
per account, addresses outside an account's allowlist refused, the admin API closed without its token."""

from __future__ import annotations

import ast
import inspect
import re

import pytest

from gateway.smpp.constants import CommandStatus as S
from tests.reliability.support import REPO, Esme, redis_cli, wait_until
from tests.security.support import ADMIN_TOKEN, API_KEYS, PASSWORDS, SECRETS, http_call

pytestmark = pytest.mark.slow


def bind(secure, system_id, password, source, **kwargs):
    esme = Esme(secure.smpp["tcp"], source=source)
    try:
        return esme.bind(system_id, password, "transmitter", **kwargs).command_status
    finally:
        esme.close()


def smsc_send(secure, login, psw, source):
    query = f"/sys/send.php?login={login}&psw={psw}&phones=79001234567&mes=hi&fmt=3"
    return http_call(secure.http["tcp"], "GET", query, source=source)[1]


# -- stored hashed ------------------------------------------------------------------------------

def test_passwords_and_api_keys_are_stored_hashed(secure):
    var = secure.folder / "var"
    stored = redis_cli(var, "HGET", "smsgw:acct:alice", "password")
    assert stored.startswith('"scrypt$'), stored
    redis_cli(var, "SET", "smsgw:test:marker", "flushed")  # the AOF now holds every earlier write
    aof = (var / "appendonly.aof").read_bytes()
    assert b"smsgw:test:marker" in aof
    leaked = [secret for secret in SECRETS if secret.encode() in aof]
    assert not leaked, f"in clear in Redis: {leaked}"


# -- constant-time comparisons ---------------------------------------------------------------------

_SECRET_NAME = re.compile(r"password|passwd|psw|token|secret|signature|api_?key|digest", re.I)
#: ``==`` on secret-sounding values that compare nothing an attacker controls with a secret
_REVIEWED = {
    # both sides are the server's own stored hash (cache validation), no input involved
    ("gateway/http/auth.py", "self._verified.get(digest) == account.password"),
}


def _name_of(node) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return ""


def test_secrets_are_compared_in_constant_time():
    """No ``==`` / ``!=`` between a secret and another value anywhere in the package; the
    places that check secrets use hmac.compare_digest."""
    suspicious = []
    for path in sorted((REPO / "gateway").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare) or not any(isinstance(o, (ast.Eq, ast.NotEq)) for o in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) for o in operands):
                continue  # against a literal (empty string, None, a mode name): no secret on one side
            if all(_name_of(o).startswith("bool(") for o in operands):
                continue  # "both given or neither" checks of settings
            if any(_SECRET_NAME.search(_name_of(o)) for o in operands):
                where = (str(path.relative_to(REPO)), _name_of(node))
                if where not in _REVIEWED:
                    suspicious.append(f"{where[0]}:{node.lineno}: {where[1]}")
    assert not suspicious, "compare secrets with hmac.compare_digest:\n" + "\n".join(suspicious)
    from gateway.admin.auth import AdminAuth
    from gateway.http.api.router import ApiResource
    from gateway.store.passwords import verify_password

    for checker in (verify_password, AdminAuth, ApiResource.caller):
        assert "compare_digest" in inspect.getsource(checker), checker


# -- guessing ---------------------------------------------------------------------------------------

def test_failed_binds_from_one_address_block_it_but_not_others(secure):
    source = "127.0.0.21"
    for _ in range(3):
        assert bind(secure, "alice", "wrong-pw", source) == S.ESME_RINVPASWD
    assert bind(secure, "alice", PASSWORDS["alice"], source) == S.ESME_RBINDFAIL  # even the right one
    assert bind(secure, "alice", PASSWORDS["alice"], "127.0.0.22") == S.ESME_ROK
    wait_until(lambda: secure.gateway.count(r"3 failed binds in a row for address 127\.0\.0\.21") == 1, 10,
               "the block logged once, with the address")


def test_wrong_passwords_for_one_account_from_many_addresses_block_the_account(secure):
    for n in range(4):  # one try per address: no address reaches its own limit
        assert bind(secure, "victim", "guess-%d" % n, f"127.0.0.{31 + n}") == S.ESME_RINVPASWD
    assert bind(secure, "victim", PASSWORDS["victim"], "127.0.0.36") == S.ESME_RBINDFAIL
    assert bind(secure, "alice", PASSWORDS["alice"], "127.0.0.36") == S.ESME_ROK  # others bind on


def test_failed_http_logins_block_the_address_psw_and_api_key_alike(secure):
    for _ in range(3):
        assert b'"error_code": 2' in smsc_send(secure, "alice", "wrong", "127.0.0.41")
    assert b'"error_code": 4' in smsc_send(secure, "alice", PASSWORDS["alice"], "127.0.0.41")
    for _ in range(3):
        status, _ = http_call(secure.http["tcp"], "GET", "/api/v1/balance", headers={"X-API-Key": "nope"},
                              source="127.0.0.42")
        assert status == 401
    status, _ = http_call(secure.http["tcp"], "GET", "/api/v1/balance",
                          headers={"X-API-Key": API_KEYS["alice"]}, source="127.0.0.42")
    assert status == 429
    status, _ = http_call(secure.http["tcp"], "GET", "/api/v1/balance",
                          headers={"X-API-Key": API_KEYS["alice"]}, source="127.0.0.43")
    assert status == 200


def test_failed_http_logins_of_one_account_from_many_addresses_block_it(secure):
    for n in range(4):
        assert b'"error_code": 2' in smsc_send(secure, "target", f"guess{n}", f"127.0.0.{51 + n}")
    assert b'"error_code": 4' in smsc_send(secure, "target", PASSWORDS["target"], "127.0.0.56")
    assert b'"error_code"' not in smsc_send(secure, "alice", PASSWORDS["alice"], "127.0.0.56")


# -- allowlists ---------------------------------------------------------------------------------------

def test_addresses_outside_the_allowlist_cannot_bind_or_call(secure):
    assert bind(secure, "fenced", PASSWORDS["fenced"], "127.0.0.61") == S.ESME_RBINDFAIL
    assert bind(secure, "fenced", PASSWORDS["fenced"], "127.0.0.7") == S.ESME_ROK
    headers = {"X-API-Key": API_KEYS["fenced"]}
    assert http_call(secure.http["tcp"], "GET", "/api/v1/balance", headers=headers, source="127.0.0.62")[0] == 401
    assert http_call(secure.http["tcp"], "GET", "/api/v1/balance", headers=headers, source="127.0.0.7")[0] == 200
    assert b'"error_code": 2' in smsc_send(secure, "fenced", PASSWORDS["fenced"], "127.0.0.63")


# -- admin --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"},
                                     {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
                                     {"Authorization": f"Bearer {API_KEYS['alice']}"},
                                     {"X-API-Key": "wrong-token"}])
def test_admin_api_is_closed_without_the_token(secure, headers):
    for path in ("/admin/api/overview", "/admin/api/accounts", "/admin/api/accounts/alice"):
        status, body = http_call(secure.http["tcp"], "GET", path, headers=headers, source="127.0.0.71")
        # 403: a valid key of a non-admin account; 429: the address is blocked after bad tokens
        assert status in (401, 403, 429), (path, status, body)
        assert b"scrypt" not in body


def test_admin_api_opens_with_the_token(secure):
    status, body = http_call(secure.http["tcp"], "GET", "/admin/api/accounts/alice",
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, source="127.0.0.72")
    assert status == 200, body
    assert b"scrypt" not in body and PASSWORDS["alice"].encode() not in body
