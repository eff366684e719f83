"""The e-mail provider against a real SMTP server (aiosmtpd, own thread): STARTTLS, implicit TLS, AUTH, refusals."""

from __future__ import annotations

import email
import email.policy
import ssl

import pytest
import pytest_twisted
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from twisted.internet import reactor

from gateway.model import Outcome, State
from gateway.providers.options import ProviderOptionError
from gateway.providers.smtp import NOT_AN_ADDRESS, from_options
from tests.channels.certs import self_signed
from tests.channels.support import RecordingSink, bounded, message
from tests.conftest import free_port

USER, PASSWORD = "gateway", "s3cret"

# aiosmtpd warns of AUTH without STARTTLS; with implicit TLS the whole session is encrypted.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Relay:
    """What the test relay does: refuses some recipients, keeps every accepted e-mail."""

    def __init__(self):
        self.received: list = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                              session.authenticated))
        return "250 2.0.0 queued"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("smtp-tls"))


def _server_context(cert):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


@pytest.fixture(scope="module")
def starttls_relay(cert):
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port(), tls_context=_server_context(cert),
                            require_starttls=True, authenticator=_authenticate, auth_required=True)
    controller.start()
    yield relay, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def implicit_relay(cert):
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port(), ssl_context=_server_context(cert),
                            authenticator=_authenticate, auth_required=True, auth_require_tls=False)
    controller.start()
    yield relay, controller.port
    controller.stop()


def provider(port, cert, sink, **options):
    config = {"type": "smtp", "host": "127.0.0.1", "port": str(port), "tls": "starttls",
              "username": USER, "password": PASSWORD, "from": "noreply@gateway.test",
              "from_name": "Gateway", "ca_file": str(cert[0]), "timeout": "10"}
    config.update(options)
    return from_options("mail1", config, sink, reactor)


def parse(content: bytes):
    return email.message_from_bytes(content, policy=email.policy.default)


@pytest_twisted.ensureDeferred
async def test_starttls_with_auth_delivers_and_reports_delivered(starttls_relay, cert):
    relay, port = starttls_relay
    sink = RecordingSink()
    smtp = provider(port, cert, sink)
    m = message("alice@example.org", "Привет, Алиса.\n.line starting with a dot", channel="mail",
                msg_id="e1", subject="Ваш код")
    result = await bounded(smtp.send(m))
    assert result.outcome == Outcome.SENT and result.upstream_ids == ("e1",)
    assert (await sink.when(1))[0][:4] == ("mail1", "e1", State.DELIVERED, 0)
    mail_from, rcpt, content, authenticated = relay.received[-1]
    assert (mail_from, rcpt, authenticated) == ("noreply@gateway.test", ["alice@example.org"], True)
    mail = parse(content)
    assert mail["Subject"] == "Ваш код"
    assert mail["From"] == "Gateway <noreply@gateway.test>"
    assert mail["Message-ID"] == "<e1@gateway.test>"
    assert mail.get_content().replace("\r\n", "\n") == "Привет, Алиса.\n.line starting with a dot\n"


@pytest_twisted.ensureDeferred
async def test_implicit_tls_with_auth_delivers(implicit_relay, cert):
    relay, port = implicit_relay
    sink = RecordingSink()
    smtp = provider(port, cert, sink, tls="implicit", default_subject="Notification")
    result = await bounded(smtp.send(message("bob@example.org", "hi", channel="mail", msg_id="e2")))
    assert result.outcome == Outcome.SENT
    assert parse(relay.received[-1][2])["Subject"] == "Notification"
    await sink.when(1)


@pytest_twisted.ensureDeferred
async def test_permanent_refusal_keeps_the_smtp_code(starttls_relay, cert):
    sink = RecordingSink()
    result = await bounded(provider(starttls_relay[1], cert, sink).send(
        message("gone@example.org", "x", channel="mail", msg_id="e3")))
    assert result.outcome == Outcome.PERMANENT and result.error_code == 550
    assert sink.reports == []


@pytest_twisted.ensureDeferred
async def test_temporary_refusal_is_retried_later(starttls_relay, cert):
    result = await bounded(provider(starttls_relay[1], cert, RecordingSink()).send(
        message("busy@example.org", "x", channel="mail", msg_id="e4")))
    assert result.outcome == Outcome.TEMPORARY and result.error_code == 451


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_temporary_not_the_messages_fault(starttls_relay, cert):
    result = await bounded(provider(starttls_relay[1], cert, RecordingSink(), password="wrong").send(
        message("carol@example.org", "x", channel="mail", msg_id="e5")))
    assert result.outcome == Outcome.TEMPORARY


@pytest_twisted.ensureDeferred
async def test_untrusted_certificate_is_refused(starttls_relay, tmp_path):
    other = self_signed(tmp_path)  # a different self-signed CA: the relay's certificate does not verify
    result = await bounded(provider(starttls_relay[1], other, RecordingSink()).send(
        message("dave@example.org", "x", channel="mail", msg_id="e6")))
    assert result.outcome == Outcome.TEMPORARY


@pytest_twisted.ensureDeferred
async def test_no_server_is_temporary():
    result = await bounded(from_options("mail1", {"host": "127.0.0.1", "port": str(free_port()), "tls": "none",
                                                  "from": "a@b.test", "timeout": "5"}, RecordingSink(), reactor)
                           .send(message("e@example.org", "x", channel="mail")))
    assert result.outcome == Outcome.TEMPORARY


@pytest_twisted.ensureDeferred
async def test_a_phone_number_is_not_an_address():
    smtp = from_options("mail1", {"host": "127.0.0.1", "from": "a@b.test"}, RecordingSink(), reactor)
    result = await smtp.send(message("79001234567", "x"))
    assert result.outcome == Outcome.PERMANENT and result.error_code == NOT_AN_ADDRESS


@pytest.mark.parametrize("options, key", [
    ({"from": "a@b.test"}, "host"),
    ({"host": "h"}, "from"),
    ({"host": "h", "from": "not-an-address"}, "from"),
    ({"host": "h", "from": "a@b.test", "tls": "ssl"}, "tls"),
    ({"host": "h", "from": "a@b.test", "username": "u"}, "password"),
    ({"host": "h", "from": "a@b.test", "port": "0"}, "port"),
    ({"host": "h", "from": "a@b.test", "colour": "blue"}, "colour"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ProviderOptionError) as e:
        from_options("mail1", options, RecordingSink(), reactor)
    assert e.value.key == key and "[provider:mail1]" in str(e.value)
