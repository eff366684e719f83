"""``twistd smsc-sim``: options, plugin registration, and the simulator as a real process."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import urllib.request

import pytest
from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.python import usage

from gateway.simulator.tap import DEFAULT_PORT, Options
from tests.process import REPO, twistd_command


def parse(*args):
    options = Options()
    options.parseOptions(list(args))
    return options.settings


def test_port_numbers_become_loopback_endpoints_and_set_overrides_keys():
    settings = parse("--port", "2999", "--http", "8999", "--set", "dlr_delay=1.5", "-s", "outcomes=7999 expire")
    assert settings.listen == ("tcp:2999:interface=127.0.0.1",) and settings.http_listen == ("tcp:8999:interface=127.0.0.1",)
    assert settings.dlr_delay == 1.5 and settings.outcomes[0].outcome == "expire"
    assert parse().listen == (DEFAULT_PORT,)


def test_config_file_section_is_read_and_options_win(tmp_path):
    ini = tmp_path / "sim.ini"
    ini.write_text("[gateway]\nnode = x\n[simulator]\nenabled = yes\nthroughput = 30\nlisten = tcp:2888\n")
    settings = parse("--config", str(ini), "--port", "tcp:2777")
    assert settings.throughput == 30 and settings.listen == ("tcp:2777",)


@pytest.mark.parametrize("args, words", [
    (["--set", "nonsense"], "KEY=VALUE"),
    (["--set", "throughput=fast"], "throughput"),
    (["--set", "colour=blue"], "unknown key"),
    (["--config", "/nonexistent.ini"], "cannot read"),
])
def test_bad_options_are_usage_errors(args, words):
    with pytest.raises(usage.UsageError, match=words):
        parse(*args)


def test_the_plugin_is_registered_without_package_init_files():
    import twisted.plugins

    names = {maker.tapname for maker in getPlugins(IServiceMaker, twisted.plugins)}
    assert "smsc-sim" in names
    assert not (REPO / "twisted" / "__init__.py").exists()
    assert not (REPO / "twisted" / "plugins" / "__init__.py").exists()


def _read_lines(proc, lines: queue.Queue):
    for line in proc.stdout:
        lines.put(line)


def _wait_for(lines: queue.Queue, pattern: str, seen: list, timeout: float = 30.0) -> re.Match:
    regex = re.compile(pattern)
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {pattern!r} in:\n" + "".join(seen)) from None
        seen.append(line)
        match = regex.search(line)
        if match:
            return match


def test_standalone_process_serves_smpp_and_http():
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        twistd_command("smsc-sim", "--port", "tcp:0:interface=127.0.0.1", "--http", "tcp:0:interface=127.0.0.1"),
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    seen: list = []
    threading.Thread(target=_read_lines, args=(proc, lines), daemon=True).start()
    try:
        smpp = int(_wait_for(lines, r"simulator SMPP listening on [^:]*:(\d+)", seen).group(1))
        http = int(_wait_for(lines, r"simulator HTTP listening on [^:]*:(\d+)", seen).group(1))
        from tests.simulator.test_interop import smpplib_round_trip

        got = smpplib_round_trip(smpp)
        assert got["state"] == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/stats", timeout=10) as response:
            stats = json.load(response)
        assert stats["accepted"] == 1 and stats["receipts_sent"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Traceback" not in "".join(seen)
