"""Two real gateway processes: the central one pulls the other's archive (seed 000)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import free_port
from tests.process import REPO, GatewayProcess


def write(path, text):
    path.write_text(text)
    return path


def node_config(datadir, name, token, extra=""):
    return f"""
[gateway]
node = {name}
datadir = {datadir / name}
[smpp]
listen = tcp:0:interface=127.0.0.1
[http]
listen = tcp:0:interface=127.0.0.1
[admin]
token = {token}
[account:acme]
password = secret
api_keys = key-{name}
throughput = 0
dedup_window = 0
[provider:up]
type = null
receipt_delay = 0.05
[route:all]
channel = *
providers = up
{extra}"""


def api(port, token, method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/api/{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def sync_cli(config):
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "--config", str(config), "sync"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.slow
def test_central_node_pulls_a_remote_archive_periodically_and_on_demand(datadir):
    office_ini = write(datadir / "office.ini", node_config(datadir, "office", "tok-office"))
    office = GatewayProcess("--config", str(office_ini))
    central = None
    try:
        office_port = office.port_of("http")
        first = [api(office_port, "tok-office", "POST", "send", {"account": "acme", "to": "7900111000" + str(n),
                                                                 "text": f"hello {n}\n~~~\nbatch 1"})["id"]
                 for n in range(3)]
        down = free_port()
        central_ini = write(datadir / "central.ini", node_config(datadir, "central", "tok-central", f"""
[sync]
nodes = office=http://127.0.0.1:{office_port}|tok-office, gone=http://127.0.0.1:{down}|whatever
interval = 3600
"""))
        central = GatewayProcess("--config", str(central_ini))
        central_port = central.port_of("http")
        # the periodic pull runs at start-up: the node that is down does not hold up the other
        central.wait_for(r"sync from office: received 3 messages")
        central.wait_for(r"sync from gone failed \(1 in a row\): unreachable")
        page = api(central_port, "tok-central", "GET", "archive?origin=office&order=asc")
        assert [m["id"] for m in page["messages"]] == first
        assert {m["origin"] for m in page["messages"]} == {"office"}
        assert page["messages"][0]["comment"] == "batch 1" and page["messages"][0]["node"] == "office"

        more = [api(office_port, "tok-office", "POST", "send", {"account": "acme", "to": "79002220000",
                                                                "text": "later"})["id"] for _ in range(2)]
        code, out, err = sync_cli(central_ini)                       # smsgw sync, like the seed's menu item
        assert code == 1, (out, err)                                 # one node failed…
        lines = dict(line.split(": ", 1) for line in out.splitlines())
        assert lines["office"].startswith("received 2 messages"), out
        assert lines["gone"].startswith("failed: unreachable"), out
        code, out, err = sync_cli(central_ini)
        assert "office: received 0 messages" in out                  # pulling twice adds nothing

        result = api(central_port, "tok-central", "POST", "sync?node=office")["results"]
        assert [(r["node"], r["added"], r["error"]) for r in result] == [("office", 0, None)]
        status = {s["node"]: s for s in api(central_port, "tok-central", "GET", "sync")["nodes"]}
        assert status["office"]["total_added"] == 5 and status["gone"]["failures"] >= 2
        page = api(central_port, "tok-central", "GET", "archive?origin=office&number=79002220000")
        assert sorted(m["id"] for m in page["messages"]) == sorted(more)
        local = api(central_port, "tok-central", "GET", "archive?origin=central")
        assert local["messages"] == []
    finally:
        codes = [p.terminate() for p in (central, office) if p is not None]
    assert codes == [0] * len(codes)
    for process in (office, central):
        assert "Traceback" not in process.output, process.output
