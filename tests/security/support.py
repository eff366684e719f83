"""
The gateway the security tests attack: plain and TLS listeners for SMPP and
HTTP, debug logging (every PDU and request is logged: nothing secret may be),
an admin token, accounts for each kind of attack, and an upstream SMPP
connector that logs in with a password of its own.

Tests that count failures by address connect from their own loopback address
(127.0.0.0/8 is all loopback on Linux) so that they do not block each other.
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.reliability.support import API_KEY, Gateway, Simulator, gateway_ini

__all__ = ["SECRETS", "ADMIN_TOKEN", "UPSTREAM_PASSWORD", "make_pki", "secure_gateway", "http_call", "ports_of",
           "client_context"]

ADMIN_TOKEN = "admin-token-9f8e7d6c5b4a"
UPSTREAM_PASSWORD = "upPw2468"
PASSWORDS = {"alice": "al1ce-pw", "fenced": "f3nce-pw", "victim": "v1ctim-p", "target": "t4rget-p"}
API_KEYS = {name: f"{API_KEY}-{name}" for name in PASSWORDS}
#: what must never be written to a log or stored in clear
SECRETS = [*PASSWORDS.values(), *API_KEYS.values(), ADMIN_TOKEN, UPSTREAM_PASSWORD]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(folder: Path, host: str = "localhost") -> dict[str, Path]:
    """A CA and a key + certificate for ``host`` (and 127.0.0.1) signed by it, as PEM files."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, key, signer, ca, names=()):
        builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if names:
            import ipaddress

            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("smsgw test CA", "smsgw test CA", ca_key, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(host, "smsgw test CA", key, ca_key, False, names=True)
    pem = serialization.Encoding.PEM
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(pem))
    paths["cert"].write_bytes(cert.public_bytes(pem))
    paths["key"].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


def ports_of(gateway: Gateway, what: str) -> dict[str, int]:
    """``{"tcp": port, "ssl": port}`` of the listeners of one kind (``SMPP`` or ``http``)."""
    found = {}
    for match in re.finditer(rf"{what} listening on [^:\s]*:(\d+) \((\w+):", gateway.collect()):
        found.setdefault(match.group(2), int(match.group(1)))
    return found


def secure_gateway(folder: Path, **overrides) -> tuple[Gateway, Simulator, dict]:
    """The gateway described in the module docstring, its upstream simulator and its PKI."""
    pki = make_pki(folder / "pki")
    simulator = Simulator(system_id="smsgw", password=UPSTREAM_PASSWORD)
    tls = f"ssl:0:interface=127.0.0.1:privateKey={pki['key']}:certKey={pki['cert']}"
    accounts = {name: {"password": pw, "api_keys": API_KEYS[name]} for name, pw in PASSWORDS.items()}
    accounts["fenced"]["allowed_ips"] = "127.0.0.7"
    config = gateway_ini(
        folder, node="sec", upstream_port=simulator.smpp_port, accounts=accounts,
        gateway={"loglevel": "debug"},
        smpp={"listen": f"tcp:0:interface=127.0.0.1 {tls}", "failed_bind_limit": "3",
              "failed_bind_account_limit": "4", "failed_bind_delay": "30", "max_binds": "20",
              **overrides.get("smpp", {})},
        http={"listen": f"tcp:0:interface=127.0.0.1 {tls}", "failed_login_limit": "3",
              "failed_login_account_limit": "4", "failed_login_block": "30"},
        provider={"password": UPSTREAM_PASSWORD},
        extra=f"[admin]\ntoken = {ADMIN_TOKEN}\n")
    gateway = Gateway(config)
    gateway.wait_for(r"bound as transceiver smsgw", timeout=30)
    for what in ("SMPP", "http"):
        gateway.wait_for(rf"{what} listening on \S+ \(ssl:")
    return gateway, simulator, pki


def client_context(pki: dict | None = None, **versions) -> ssl.SSLContext:
    """A TLS client context trusting the test CA (or nothing verified without ``pki``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if pki is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(pki["ca"])
    for attribute, value in versions.items():
        setattr(context, attribute, value)
    return context


def http_call(port: int, method: str, path: str, body=None, headers=None, source: str = "127.0.0.1",
              context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """One HTTP request from loopback address ``source``; (status, body)."""
    if context is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    else:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, source_address=(source, 0),
                                                 context=context)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
