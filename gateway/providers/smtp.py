"""
The e-mail provider (``[provider:NAME] type = smtp``): each message of the
``mail`` channel is one e-mail through an SMTP relay, sent with
`twisted.mail.smtp.ESMTPSenderFactory` — implicit TLS (port 465),
STARTTLS (587) or plain (25), AUTH (CRAM-MD5, LOGIN or PLAIN, whichever
the relay offers) when a username is set.

The relay's answer is the outcome: accepted → sent, and a DELIVERED
receipt (the relay now owns the message; there is no end-to-end receipt in
SMTP); a 5xx reply → permanent error with the SMTP code as error code (the
DLR's ``err``), i.e. UNDELIVERABLE unless the route fails over; a 4xx
reply, no connection, or a failed TLS or login (the relay's or our
configuration's fault, not the message's) → temporary, retried later.

Options: ``host`` (required), ``port`` (default by ``tls``: 465, 587, 25),
``tls`` = starttls | implicit | none, ``username``, ``password``, ``from``
(required: the From address), ``from_name``, ``default_subject``,
``verify`` (check the relay's certificate, default yes), ``ca_file`` (PEM
trust roots instead of the system's), ``helo`` (our EHLO name),
``timeout`` (seconds), ``concurrency`` (SMTP sessions at once).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from twisted.internet import defer
from twisted.mail import smtp
from twisted.mail._except import SMTPTLSError
from zope.interface import implementer

from gateway.channels.base import is_email
from gateway.interfaces import IProvider
from gateway.logs import Logger
from gateway.model import SendResult, State
from gateway.providers.options import Options
from gateway.smpp.constants import CommandStatus

__all__ = ["SmtpProvider", "SmtpOptions", "from_options", "smtp_outcome", "NOT_AN_ADDRESS"]

#: The error code of a message whose destination is not an e-mail address (SMTP "mailbox name not allowed").
NOT_AN_ADDRESS = 553
TRANSPORT_ERROR = CommandStatus.VENDOR_TRANSPORT_ERROR
_DEFAULT_PORTS = {"implicit": 465, "starttls": 587, "none": 25}
# Failures of the session rather than of the message: never a reason to give the message up.
_SESSION_ERRORS = (smtp.AUTHDeclinedError, smtp.AuthenticationError, smtp.AUTHRequiredError,
                   smtp.TLSRequiredError, SMTPTLSError, smtp.EHLORequiredError,
                   smtp.SMTPConnectError, smtp.SMTPTimeoutError, smtp.SMTPProtocolError)
_KNOWN = ("host", "port", "tls", "username", "password", "from", "from_name", "default_subject", "verify",
          "ca_file", "helo", "timeout", "concurrency")


@dataclass(frozen=True)
class SmtpOptions:
    host: str
    port: int
    tls: str
    sender: str
    username: str = ""
    password: str = ""
    from_name: str = ""
    default_subject: str = ""
    verify: bool = True
    ca_file: str = ""
    helo: str = ""
    timeout: float = 30.0
    concurrency: int = 4

    @classmethod
    def parse(cls, name: str, options: dict) -> "SmtpOptions":
        o = Options(name, options, _KNOWN)
        tls = o.choice("tls", ("starttls", "implicit", "none"), "starttls")
        sender = o.text("from", required=True)
        if not is_email(sender):
            raise o.bad("from", "expected an e-mail address")
        username, password = o.text("username"), o.text("password")
        if bool(username) != bool(password):
            raise o.bad("password" if username else "username", "AUTH needs both username and password")
        return cls(host=o.text("host", required=True), port=o.integer("port", _DEFAULT_PORTS[tls], 1, 65535),
                   tls=tls, sender=sender, username=username, password=password,
                   from_name=o.text("from_name"), default_subject=o.text("default_subject"),
                   verify=o.flag("verify", True), ca_file=o.text("ca_file"), helo=o.text("helo"),
                   timeout=o.number("timeout", 30, 1, 600), concurrency=o.integer("concurrency", 4, 1, 100))


def smtp_outcome(error: Exception) -> SendResult:
    """What an SMTP failure means for the message (see the module docstring)."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, smtp.SMTPClientError) and not isinstance(error, _SESSION_ERRORS):
        if 500 <= error.code < 600:
            return SendResult.permanent(error.code, reason)
        if 400 <= error.code < 500:
            return SendResult.temporary(error.code, reason)
    return SendResult.temporary(TRANSPORT_ERROR, f"{type(error).__name__}: {reason}")


@implementer(IProvider)
class SmtpProvider:
    """See the module docstring."""

    log = Logger()

    def __init__(self, name: str, options: SmtpOptions, sink, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.options = options
        self.sink = sink
        self.reactor = reactor
        self._in_flight = 0
        self._tls = self._tls_options()

    def capacity(self) -> int:
        return max(0, self.options.concurrency - self._in_flight)

    def send(self, message) -> defer.Deferred:
        if not is_email(message.destination):
            return defer.succeed(SendResult.permanent(
                NOT_AN_ADDRESS, f"{self.name} sends e-mail; {message.destination!r} is not an address"))
        self._in_flight += 1
        d = self._transmit(message)
        d.addCallbacks(self._accepted, self._refused, (message,), None, (message,))

        def done(result):
            self._in_flight -= 1
            return result

        return d.addBoth(done)

    def _transmit(self, message) -> defer.Deferred:
        o = self.options
        result = defer.Deferred()
        factory = smtp.ESMTPSenderFactory(
            o.username.encode() or None, o.password.encode() or None, o.sender, [message.destination],
            io.BytesIO(self.compose(message)), result, retries=0, timeout=o.timeout,
            contextFactory=self._tls if o.tls == "starttls" else None,
            requireAuthentication=bool(o.username), requireTransportSecurity=o.tls != "none")
        if o.helo:
            factory.domain = o.helo.encode()
        if o.tls == "implicit":
            self.reactor.connectSSL(o.host, o.port, factory, self._tls, timeout=o.timeout)
        else:
            self.reactor.connectTCP(o.host, o.port, factory, timeout=o.timeout)
        return result

    def compose(self, message) -> bytes:
        """The e-mail: From the configuration, subject from ``subj:``, the text as UTF-8 plain text."""
        o = self.options
        mail = EmailMessage()
        mail["From"] = formataddr((o.from_name, o.sender)) if o.from_name else o.sender
        mail["To"] = message.destination
        mail["Subject"] = (message.extra or {}).get("subject") or o.default_subject
        mail["Date"] = formatdate(self.reactor.seconds(), usegmt=True)
        mail["Message-ID"] = f"<{message.id}@{o.sender.rpartition('@')[2]}>"
        mail.set_content(message.text)
        return mail.as_bytes()  # "\n" line ends: the SMTP client sends them as CRLF

    def _accepted(self, _result, message) -> SendResult:
        upstream_id = message.id
        self.reactor.callLater(0, self._delivered, upstream_id)
        return SendResult.sent(upstream_id)

    def _delivered(self, upstream_id: str) -> None:
        d = defer.maybeDeferred(self.sink.report, self.name, upstream_id, State.DELIVERED, 0)
        d.addErrback(lambda f: self.log.warn("receipt of {upstream_id} via {provider} not recorded: {error}",
                                             upstream_id=upstream_id, provider=self.name,
                                             error=f.getErrorMessage()))

    def _refused(self, failure, message) -> SendResult:
        failure.trap(Exception)
        outcome = smtp_outcome(failure.value)
        level = self.log.warn if failure.check(*_SESSION_ERRORS) else self.log.info
        level("{provider}: e-mail {id} not sent ({outcome}, code {code}): {reason}", provider=self.name,
              id=message.id, outcome=outcome.outcome.value, code=outcome.error_code, reason=outcome.reason)
        return outcome

    def _tls_options(self):
        from twisted.internet import ssl

        o = self.options
        if o.tls == "none":
            return None
        if not o.verify:
            return ssl.CertificateOptions(verify=False)
        trust = None
        if o.ca_file:
            with open(o.ca_file, "rb") as f:
                trust = ssl.Certificate.loadPEM(f.read())
        return ssl.optionsForClientTLS(o.host, trustRoot=trust)


def from_options(name, options, sink, reactor) -> SmtpProvider:
    """``[provider:NAME] type = smtp``; raises `ProviderOptionError` (a ValueError) for a bad option."""
    parsed = SmtpOptions.parse(name, options)
    if parsed.ca_file:
        try:
            open(parsed.ca_file, "rb").close()
        except OSError as e:
            raise ValueError(f"[provider:{name}] ca_file = {parsed.ca_file!r}: cannot be read: {e}") from None
    return SmtpProvider(name, parsed, sink, reactor)
