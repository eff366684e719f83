"""Nothing secret in the log, even at debug level where every PDU and request is logged."""

from __future__ import annotations

import pytest

from tests.reliability.support import Esme, wait_until
from tests.security.support import ADMIN_TOKEN, API_KEYS, PASSWORDS, SECRETS, client_context, http_call

pytestmark = pytest.mark.slow

GUESS = "gU3ss-pw"  # a wrong password is often a typo of the right one: not logged either


def test_no_secret_reaches_the_log(secure):
    smpp, web = secure.smpp, secure.http
    for port, context in ((smpp["tcp"], None), (smpp["ssl"], client_context())):
        esme = Esme(port, ssl_context=context, source="127.0.0.81")
        assert esme.bind("alice", PASSWORDS["alice"]).command_status == 0
        assert esme.submit("79001112233", b"logged text").command_status == 0
        esme.close()
    wrong = Esme(smpp["tcp"], source="127.0.0.82")
    assert wrong.bind("alice", GUESS).command_status != 0
    wrong.close()
    alice, key = PASSWORDS["alice"], API_KEYS["alice"]
    calls = [
        ("GET", f"/sys/send.php?login=alice&psw={alice}&phones=79001112234&mes=a", None, {}),
        ("POST", "/sys/send.php", f"login=alice&psw={alice}&phones=79001112235&mes=b",
         {"Content-Type": "application/x-www-form-urlencoded"}),
        ("GET", f"/sys/send.php?apikey={key}&phones=79001112236&mes=c", None, {}),
        ("GET", f"/sys/balance.php?login=alice&psw={GUESS}", None, {}),
        ("GET", "/api/v1/balance", None, {"X-API-Key": key}),
        ("POST", "/api/v1/messages", {"to": "+79001112237", "text": "d"}, {"Authorization": f"Bearer {key}"}),
        ("GET", "/admin/api/overview", None, {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        ("GET", f"/api/v1/balance?apikey={key}", None, {}),
    ]
    for method, path, body, headers in calls:
        status, _ = http_call(web["tcp"], method, path, body, headers, source="127.0.0.83")
        assert status < 500
    status, _ = http_call(web["ssl"], "GET", f"/sys/balance.php?login=alice&psw={alice}", source="127.0.0.83",
                          context=client_context())
    assert status == 200
    # the requests above were logged (the access log and debug PDUs are on), but without secrets
    wait_until(lambda: secure.gateway.count(r"/sys/balance\.php") >= 2, 10, "the access log lines")
    wait_until(lambda: secure.simulator.stats()["accepted"] >= 5, 30, "messages upstream")
    log = secure.gateway.collect() + secure.simulator.collect()
    assert "bind_transmitter" in log or "bind_transceiver" in log  # PDUs are traced at debug level
    assert "psw=***" in log and "apikey=***" in log  # requests are in the access log, masked
    leaked = [secret for secret in SECRETS + [GUESS] if secret in log]
    lines = [line for line in log.splitlines() if any(secret in line for secret in leaked)]
    assert not leaked, f"secrets in the log: {leaked}\n" + "\n".join(lines[:10])
