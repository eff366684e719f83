"""Running real gateway processes in tests: start twistd, wait for log lines, stop."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def twistd_command(*args: str) -> list[str]:
    twistd = Path(sys.executable).parent / "twistd"
    return [str(twistd), "-n", "--pidfile=", *args]


class GatewayProcess:
    """A ``twistd -n smsgw`` child whose log lines can be waited for."""

    def __init__(self, *args: str, cwd: Path | None = None):
        paths = [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        self.proc = subprocess.Popen(
            twistd_command("smsgw", *args), cwd=cwd or REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Block until a log line matches *pattern* (a regex); fail after *timeout* s."""
        regex = re.compile(pattern)
        for line in self.lines:
            m = regex.search(line)
            if m:
                return m
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(0.0, remaining))
            except queue.Empty:
                raise AssertionError(f"no log line matching {pattern!r} within {timeout} s:\n" + "".join(self.lines[-40:]))
            if line is None:
                raise AssertionError(f"process exited ({self.proc.wait()}) before {pattern!r}:\n" + "".join(self.lines[-40:]))
            self.lines.append(line)
            m = regex.search(line)
            if m:
                return m

    def port_of(self, what: str, timeout: float = 30.0) -> int:
        """The port a listener logged (``<what> listening on 127.0.0.1:<port>``)."""
        return int(self.wait_for(rf"{what} listening on [^:]*:(\d+)", timeout).group(1))

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> int:
        self.proc.kill()
        return self.proc.wait(timeout=30)

    def wait(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout=timeout)
        # collect the rest of the output
        while True:
            line = self._queue.get(timeout=timeout)
            if line is None:
                break
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)
