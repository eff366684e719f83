"""The connector over TLS: the SMSC certificate is verified (CA and host name) unless told not to."""

from __future__ import annotations

import datetime

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.model import Outcome
from gateway.providers.smpp import OptionError
from tests.providers.support import RecordingSink, bound, connector, eventually, message, simulator, stop


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, key, signer, *, ca: bool, names=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                        critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and a server certificate for smsc.test signed by it, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Test CA", "Test CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("smsc.test", "Test CA", key, ca_key, ca=False, names=["smsc.test"])
    (folder / "ca.pem").write_bytes(_pem(ca))
    (folder / "server.pem").write_bytes(_pem(cert) + _pem(key))
    return folder


async def tls_simulator(pki):
    return await simulator(listen=f"ssl:0:interface=127.0.0.1:certKey={pki / 'server.pem'}"
                                  f":privateKey={pki / 'server.pem'}")


@pytest_twisted.ensureDeferred
async def test_verified_tls_connection_binds_and_sends(pki):
    sim = await tls_simulator(pki)
    p = connector("c1", sim, RecordingSink(), tls="yes", tls_ca=pki / "ca.pem", tls_hostname="smsc.test")
    try:
        await bound(p)
        assert (await p.send(message(1))).outcome is Outcome.SENT
        assert p.status()["tls"] is True
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_wrong_host_name_fails_verification(pki):
    sim = await tls_simulator(pki)
    p = connector("c1", sim, RecordingSink(), tls="yes", tls_ca=pki / "ca.pem", tls_hostname="other.test")
    try:
        p.startService()
        await eventually(lambda: p.links[0].failures >= 1)
        assert p.capacity() == 0 and sim.smsc.counters["binds"] == 0
        assert p.status()["state"] != "bound" and p.status()["last_error"]
    finally:
        await stop(p, sim)


@pytest_twisted.ensureDeferred
async def test_unknown_ca_fails_verification_and_tls_verify_no_connects(pki):
    sim = await tls_simulator(pki)
    strict = connector("strict", sim, RecordingSink(), tls="yes", tls_hostname="smsc.test")
    lax = connector("lax", sim, RecordingSink(), tls="yes", tls_verify="no")
    try:
        strict.startService()
        await bound(lax)
        assert (await lax.send(message(1))).outcome is Outcome.SENT
        await eventually(lambda: strict.links[0].failures >= 1)
        assert strict.capacity() == 0
    finally:
        await stop(strict, lax, sim)


def test_unreadable_ca_file_is_an_option_error(tmp_path):
    with pytest.raises(OptionError) as error:
        from gateway.providers.smpp import SMPPProvider

        SMPPProvider("c1", {"host": "h", "system_id": "x", "tls": "yes", "tls_ca": str(tmp_path / "nope.pem")},
                     RecordingSink())
    assert error.value.key == "tls_ca" and "cannot read" in str(error.value)
