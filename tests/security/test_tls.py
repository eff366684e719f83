"""TLS: the SMPP and HTTP listeners speak TLS 1.2+ only; the upstream connector verifies the
SMSC's certificate and host name."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from tests.reliability.support import Esme, Gateway, Simulator, gateway_ini
from tests.security.support import PASSWORDS, client_context, http_call, make_pki

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")]

OLD = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]


def old_client(version) -> ssl.SSLContext:
    """A client that offers nothing newer than ``version`` (and whatever ciphers that needs)."""
    context = client_context(minimum_version=version, maximum_version=version)
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def handshake(port: int, context: ssl.SSLContext) -> str:
    """The negotiated protocol, or raises ssl.SSLError / OSError."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version()


@pytest.fixture(scope="module")
def old_tls_possible(tmp_path_factory):
    """Whether this machine's OpenSSL can speak TLS 1.0/1.1 at all: a control server that allows
    them must accept the old clients, or refusals by the gateway would prove nothing."""
    pki = make_pki(tmp_path_factory.mktemp("control"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki["cert"], pki["key"])
    server.minimum_version = ssl.TLSVersion.TLSv1
    server.set_ciphers("ALL:@SECLEVEL=0")
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        for _ in OLD:
            try:
                conn, _ = listener.accept()
                with server.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    able = {}
    for version in OLD:
        try:
            able[version] = handshake(listener.getsockname()[1], old_client(version))
        except (OSError, ssl.SSLError):
            able[version] = None
    listener.close()
    return able


@pytest.mark.parametrize("what", ["SMPP", "http"])
@pytest.mark.parametrize("version", OLD, ids=["TLSv1.0", "TLSv1.1"])
def test_tls_before_1_2_is_refused(secure, old_tls_possible, what, version):
    if not old_tls_possible[version]:
        pytest.skip(f"this OpenSSL cannot offer {version.name} even to a willing server")
    port = (secure.smpp if what == "SMPP" else secure.http)["ssl"]
    with pytest.raises((ssl.SSLError, OSError)):
        handshake(port, old_client(version))


@pytest.mark.parametrize("what", ["SMPP", "http"])
def test_tls_1_2_and_1_3_with_a_verified_certificate(secure, what):
    port = (secure.smpp if what == "SMPP" else secure.http)["ssl"]
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert handshake(port, client_context(secure.pki, maximum_version=version)) == version.name.replace("_", ".")


def test_smpp_and_http_work_over_tls(secure):
    esme = Esme(secure.smpp["ssl"], ssl_context=client_context(secure.pki), server_hostname="localhost",
                source="127.0.0.91")
    try:
        assert esme.bind("alice", PASSWORDS["alice"]).command_status == 0
        assert esme.submit("79005550101", b"over TLS").command_status == 0
    finally:
        esme.close()
    status, body = http_call(secure.http["ssl"], "GET", "/health", context=client_context(secure.pki))
    assert status == 200 and b'"ok"' in body


@pytest.mark.parametrize("hostname, verified", [("localhost", True), ("smsc.example.com", False)])
def test_connector_verifies_the_upstream_certificate_and_host_name(datadir, hostname, verified):
    pki = make_pki(datadir / "pki")
    simulator = Simulator(port=f"ssl:0:interface=127.0.0.1:privateKey={pki['key']}:certKey={pki['cert']}")
    gateway = None
    try:
        config = gateway_ini(datadir, upstream_port=simulator.smpp_port,
                             provider={"host": "127.0.0.1", "tls": "yes", "tls_ca": str(pki["ca"]),
                                       "tls_hostname": hostname, "reconnect_initial": "0.2"})
        gateway = Gateway(config)
        if verified:
            gateway.wait_for(r"bound as transceiver smsgw", timeout=30)
        else:
            gateway.wait_for(r"bind did not complete: VerificationError.*DNSMismatch", timeout=30)
            assert gateway.count(r"bound as transceiver") == 0
            assert simulator.stats()["binds"] == 0
    finally:
        for process in (gateway, simulator):
            if process is not None:
                process.stop()
