"""Connecting by URL: TCP, unix socket and Sentinel (a real redis-server in sentinel mode)."""

import subprocess
import threading

import pytest
import pytest_twisted

from gateway.store.connection import RECONNECT_MAX_DELAY, connect, parse_url
from gateway.store.embedded import redis_server_path
from tests.conftest import free_port


def test_urls_parse_into_addresses():
    a = parse_url("redis://:pw@db.example:6380/3")
    assert (a.kind, a.host, a.port, a.db, a.password, a.tls) == ("tcp", "db.example", 6380, 3, "pw", False)
    assert parse_url("rediss://h/0").tls
    u = parse_url("unix:///run/redis.sock?db=2")
    assert (u.kind, u.path, u.db) == ("unix", "/run/redis.sock", 2)
    s = parse_url("sentinel://s1:26379,s2/mymaster/1")
    assert (s.kind, s.sentinels, s.master, s.db) == ("sentinel", (("s1", 26379), ("s2", 26379)), "mymaster", 1)
    with pytest.raises(ValueError):
        parse_url("sentinel://s1:26379")


@pytest.fixture
def sentinel(redis_server, tmp_path):
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {redis_server.port} 1\n")
    proc = subprocess.Popen([redis_server_path(), str(conf), "--sentinel"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # blocks until the sentinel monitors the master
        if "+monitor master mymaster" in line:
            break
    else:
        raise RuntimeError("redis sentinel did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    yield f"sentinel://127.0.0.1:{port}/mymaster"
    proc.terminate()
    proc.wait(timeout=30)


@pytest_twisted.ensureDeferred
async def test_sentinel_url_reaches_the_master_it_names(sentinel, redis):
    conn = await connect(sentinel, poolsize=1, reply_timeout=10)
    try:
        await conn.set("smsgw:via-sentinel", "yes")
        assert await redis.get("smsgw:via-sentinel") == "yes"
    finally:
        await conn.disconnect()


@pytest_twisted.ensureDeferred
async def test_reconnect_attempts_are_at_most_a_second_apart(redis_server):
    """After a Redis outage service resumes within about a second of Redis coming back,
    not after txredisapi's default backoff of up to 10 s."""
    conn = await connect(redis_server.url, poolsize=1)
    lazy = connect(redis_server.url, poolsize=1, lazy=True)
    try:
        await lazy._connected
        assert conn._factory.maxDelay == lazy._factory.maxDelay == RECONNECT_MAX_DELAY == 1.0
    finally:
        await conn.disconnect()
        await lazy.disconnect()
