"""``twistd -n smsgw`` as a real process: start, listen, SIGTERM, clean exit, config errors."""

import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from gateway.config import load
from gateway.service import build
from gateway.store.embedded import find_running_server
from tests.process import REPO, GatewayProcess, twistd_command


def write_config(directory: Path, text: str) -> Path:
    path = directory / "smsgw.ini"
    path.write_text(text)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", ["TERM", "INT"])
def test_gateway_starts_on_embedded_redis_and_stops_cleanly(datadir, stop_signal):
    config = write_config(datadir, f"""
[gateway]
node = test-node
datadir = {datadir / 'var'}
[smpp]
listen = tcp:0:interface=127.0.0.1
[http]
listen = tcp:0:interface=127.0.0.1
[account:shop]
password = secret
throughput = 50
""")
    gw = GatewayProcess("--config", str(config))
    try:
        port = gw.port_of("http")
        gw.wait_for(r"connected to Redis at unix://")
        redis_pid = find_running_server(datadir / "var")
        assert redis_pid is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            health = json.load(response)
        assert health == {"status": "ok", "node": "test-node", "redis": "up"}
        # the admin CLI finds the same embedded Redis through the same config
        listed = subprocess.run([sys.executable, "-m", "gateway.cli", "--config", str(config), "account", "list"],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == ["shop\tenabled\tthroughput=50\tbalance=unlimited"]
    finally:
        gw.proc.send_signal(getattr(__import__("signal"), "SIG" + stop_signal))
        code = gw.wait()
    assert code == 0, gw.output
    assert "Traceback" not in gw.output
    assert "embedded redis-server stopped (exit code 0)" in gw.output
    assert find_running_server(datadir / "var") is None
    with pytest.raises(ProcessLookupError):
        os.kill(redis_pid, 0)
    assert (datadir / "var" / "appendonly.aof").exists()


def test_no_config_builds_embedded_redis_and_loopback_listeners(datadir):
    gateway = build(load(None, {"gateway": {"datadir": str(datadir)}}))
    names = [child.name for child in gateway]
    assert names == ["redis", "redis-connection", "simulator", "engine", "frontends"]
    assert list(gateway.getServiceNamed("engine").providers) == ["simulator"]
    frontends = [child.name for child in gateway.getServiceNamed("frontends")]
    assert "http:tcp:8080:interface=127.0.0.1" in frontends
    assert gateway.getServiceNamed("redis").datadir == datadir


@pytest.mark.slow
def test_bad_config_stops_start_up_with_one_line(datadir):
    config = write_config(datadir, "[smpp]\nwindow = lots\n")
    result = subprocess.run(twistd_command("smsgw", "--config", str(config)), cwd=REPO,
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"smsgw: configuration error: {config}: [smpp] window = 'lots': expected a whole number"
    ]


@pytest.mark.slow
def test_wheel_ships_the_twistd_plugin(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, timeout=300,
                   capture_output=True)
    wheel = next(tmp_path.glob("smsgw-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "twisted/plugins/smsgw_plugin.py" in names
    assert "twisted/__init__.py" not in names
    assert "twisted/plugins/__init__.py" not in names
    assert "gateway/tap.py" in names
    assert {"gateway/admin/static/index.html", "gateway/admin/static/console.js",
            "gateway/store/lua/archive_scan.lua"} <= set(names)   # the console and archive scripts ship
