"""Resource limits: binds per node and per login, PDU size, and a client that floods without
reading its answers (the gateway stops reading; its memory stays bounded; others are served)."""

from __future__ import annotations

import json
import select
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId, CommandStatus as S
from tests.reliability.support import (Closed, Esme, Gateway, PASSWORD, Simulator, gateway_ini, stop_stale_redis,
                                       submit_pdu)

pytestmark = pytest.mark.slow

MAX_BINDS = 4
MAX_PDU = 2048


@pytest.fixture(scope="module")
def limited():
    folder = Path(tempfile.mkdtemp(prefix="smsgw-lim-"))
    simulator = Simulator()
    gateway = None
    try:
        config = gateway_ini(folder, upstream_port=simulator.smpp_port,
                             accounts={"single": {"max_connections": "1"}, "multi": {"max_connections": "1"},
                                       "other": {}, "flood": {"throughput": "50"}},
                             smpp={"max_binds": str(MAX_BINDS), "max_pdu_size": str(MAX_PDU)})
        gateway = Gateway(config)
        yield gateway
    finally:
        for process in (gateway, simulator):
            if process is not None:
                process.stop()
        stop_stale_redis(folder / "var")
        shutil.rmtree(folder, ignore_errors=True)


def bound(gateway, system_id, **params) -> Esme:
    esme = Esme(gateway.smpp_port)
    resp = esme.bind(system_id, PASSWORD, **params)
    assert resp.command_status == 0, S(resp.command_status).name
    return esme


def unbound_by_gateway(esme: Esme, timeout: float = 10.0) -> bool:
    """True once the gateway unbinds (or drops) this client."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pdu = esme.read(0.2)
        except Closed:
            return True
        if pdu is not None and pdu.command_id == CommandId.unbind:
            esme.send(pdu.resp())
            return True
    return False


def test_a_login_has_one_bind_unless_mcon_and_at_most_mcon(limited):
    first = bound(limited, "single")
    second = bound(limited, "single")
    assert unbound_by_gateway(first)  # replaced: never two binds of the login
    a, b = bound(limited, "multi", system_type="MCON2"), bound(limited, "multi", system_type="MCON2")
    c = bound(limited, "multi", system_type="MCON2")
    assert unbound_by_gateway(a) and not unbound_by_gateway(b, 0.5)
    esme = Esme(limited.smpp_port)
    assert esme.bind("multi", PASSWORD, system_type="MCON10").command_status == S.ESME_RINVSYSTYP
    for client in (second, b, c, esme):
        client.close()


def test_binds_beyond_the_node_limit_are_refused(limited):
    clients = [bound(limited, "other", system_type="MCON9") for _ in range(MAX_BINDS)]
    try:
        extra = Esme(limited.smpp_port)
        assert extra.bind("other", PASSWORD, system_type="MCON9").command_status == S.ESME_RBINDFAIL
        extra.close()
        clients.pop().close()
        again = Esme(limited.smpp_port)
        deadline = time.monotonic() + 10
        while again.bind("other", PASSWORD, system_type="MCON9").command_status != 0:  # the close is seen
            assert time.monotonic() < deadline
            again.close()
            again = Esme(limited.smpp_port)
        clients.append(again)
    finally:
        for client in clients:
            client.close()


def test_a_pdu_over_the_size_limit_is_refused_and_the_connection_closed(limited):
    esme = bound(limited, "other")
    other = bound(limited, "single")
    try:
        huge = bytearray(encode(submit_pdu("79001234567", b"x" * 200)))
        huge[0:4] = (MAX_PDU + 1).to_bytes(4, "big")
        esme.sendall(bytes(huge) + b"\0" * (MAX_PDU + 1 - len(huge)))
        nack = esme.read(10)
        assert nack.command_id == CommandId.generic_nack and nack.command_status == S.ESME_RINVCMDLEN
        with pytest.raises(Closed):
            esme.read(10)
        assert other.submit("79001234567").command_status == 0  # everyone else is served
        assert not limited.problems()
    finally:
        esme.close()
        other.close()


def flood(port: int, count: int, stall: float = 3.0) -> int:
    """Bind, then write ``count`` submit_sm without ever reading; stop when the gateway has not
    taken a byte for ``stall`` seconds.  Returns how many PDUs went out whole; the socket stays open."""
    esme = Esme(port, rcvbuf=4096)
    assert esme.bind("flood", PASSWORD, "transmitter").command_status == 0
    template = encode(submit_pdu("79001234567", b"F" * 200, registered_delivery=0))
    head, tail = template[:12], template[16:]
    sock = esme.sock
    sock.setblocking(False)
    written = 0
    for start in range(0, count, 500):
        chunk = memoryview(b"".join(head + (start + i + 10).to_bytes(4, "big") + tail for i in range(500)))
        while chunk:
            try:
                n = sock.send(chunk)
            except BlockingIOError:
                _, writable, _ = select.select([], [sock], [], stall)
                if not writable:
                    flood.socket = sock
                    return written // len(template)
                continue
            chunk = chunk[n:]
            written += n
    flood.socket = sock
    return written // len(template)


def largest_send_buffer() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 1024 * 1024


def test_a_client_flooding_without_reading_is_paused_and_memory_stays_bounded(limited):
    """Without backpressure the gateway reads every submit and queues the answers in its own
    memory; with it, it stops reading once its output (kernel buffer, then the transport's)
    is full — after some 100k throttled submits here — and the client's writes stall."""
    before = limited.rss_kb()
    # enough that the answers overflow the largest send buffer the kernel may give the gateway
    # (17 octets per throttled submit_sm_resp), however much its receive side buffers
    submits = max(400_000, 2 * largest_send_buffer() // 17)
    pushed = flood(limited.smpp_port, submits)
    during = limited.rss_kb()
    try:
        # the gateway stopped reading: its buffers and the kernel's hold the rest
        assert pushed < submits, "the gateway read everything from a client that reads nothing"
        other = bound(limited, "other")
        assert other.submit("79001234567", b"still served").command_status == 0
        other.close()
    finally:
        flood.socket.close()
    probe = bound(limited, "single")
    assert probe.submit("79001234567", b"after the flood").command_status == 0
    probe.close()
    after = limited.rss_kb()
    growth_mb = (max(during, after) - before) / 1024
    print(json.dumps({"flood_submits_pushed": pushed, "rss_before_mb": round(before / 1024, 1),
                      "rss_during_mb": round(during / 1024, 1), "rss_after_mb": round(after / 1024, 1),
                      "growth_mb": round(growth_mb, 1)}))
    assert growth_mb < 200, growth_mb
    assert not limited.problems()


def test_reading_pauses_while_answers_are_unread_or_requests_pile_up():
    """The two reasons to stop reading, bytes in and out (StringTransport + task.Clock)."""
    from tests.smpp.server_support import Server

    server = Server(max_pending=4)
    client = server.connect()
    client.bind(command=CommandId.bind_transmitter)
    transport, session = client.transport, client.session
    assert transport.producer is session  # the transport tells the session when its buffer is full
    session.pauseProducing()              # what the transport does when the client reads nothing
    assert transport.producerState == "paused"
    session.resumeProducing()
    assert transport.producerState == "producing"
    server.acceptor.hold = True           # the store is slow: requests pile up
    for n in range(4):
        client.send(CommandId.submit_sm, {"destination_addr": "79001234567", "short_message": b"x%d" % n})
    assert transport.producerState == "paused"
    session.pauseProducing()
    session.resumeProducing()             # the output drained, but requests are still pending
    assert transport.producerState == "paused"
    for d in list(server.acceptor.held):
        d.callback(None)
    assert transport.producerState == "producing"
