"""
Why an HTTP request was refused: one exception type per kind, each carrying
the HTTP status and code of the JSON API and the error number of the
smsc.ru-compatible API, so both front ends answer the same refusal the same way.

smsc.ru numbers: 1 bad parameters, 2 bad credentials, 3 no money, 4 IP
blocked, 5 bad date, 6 forbidden, 7 bad number, 8 cannot deliver, 9 duplicate
or too frequent.  `from_accept_error` maps the acceptor's SMPP statuses
(the same refusals an SMPP client gets) onto these.
"""

from __future__ import annotations

from gateway.smpp.constants import CommandStatus as S
from gateway.store.accept import AcceptError

__all__ = [
    "HttpError", "BadParameters", "BadDate", "BadCredentials", "AccountDisabled", "NoMoney",
    "IpBlocked", "Forbidden", "InvalidNumberError", "Undeliverable", "Duplicate", "Throttled",
    "NotFound", "MethodNotAllowed", "PayloadTooLarge", "UnsupportedMediaType",
    "TemplateProblem", "TemplateNotFound", "ServiceUnavailable", "InternalError", "from_accept_error",
]


class HttpError(Exception):
    """A refusal: ``status`` (HTTP), ``code`` (JSON API), ``smsc`` (smsc.ru error number)."""

    status = 400
    code = "bad_request"
    smsc = 1

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict:
        error = {"code": self.code, "message": self.message}
        error.update(self.details)
        return {"error": error}


class BadParameters(HttpError):
    status, code, smsc = 400, "bad_parameters", 1


class BadDate(HttpError):
    status, code, smsc = 400, "bad_date", 5


class BadCredentials(HttpError):
    status, code, smsc = 401, "unauthorized", 2


class AccountDisabled(HttpError):
    status, code, smsc = 403, "account_disabled", 2


class NoMoney(HttpError):
    status, code, smsc = 402, "insufficient_funds", 3


class IpBlocked(HttpError):
    status, code, smsc = 429, "ip_blocked", 4


class Forbidden(HttpError):
    status, code, smsc = 403, "forbidden", 6


class InvalidNumberError(HttpError):
    status, code, smsc = 400, "invalid_number", 7


class Undeliverable(HttpError):
    status, code, smsc = 422, "undeliverable", 8


class Duplicate(HttpError):
    status, code, smsc = 409, "duplicate", 9


class Throttled(HttpError):
    status, code, smsc = 429, "throttled", 9


class NotFound(HttpError):
    status, code, smsc = 404, "not_found", 1


class MethodNotAllowed(HttpError):
    status, code, smsc = 405, "method_not_allowed", 1


class PayloadTooLarge(HttpError):
    status, code, smsc = 413, "payload_too_large", 1


class UnsupportedMediaType(HttpError):
    status, code, smsc = 415, "unsupported_media_type", 1


class TemplateProblem(HttpError):
    status, code, smsc = 422, "template_error", 1


class TemplateNotFound(HttpError):
    status, code, smsc = 422, "template_not_found", 1


class ServiceUnavailable(HttpError):
    """Redis is unreachable: nothing was accepted, the client should retry later."""

    status, code, smsc = 503, "unavailable", 9


class InternalError(HttpError):
    """A bug: logged with its traceback where it is handled."""

    status, code, smsc = 500, "internal_error", 1


_BY_STATUS = {
    S.ESME_RINVMSGLEN: BadParameters,       # a channel's text format (a __TGM__ code, a bot line)
    S.ESME_RINVDSTADR: InvalidNumberError,  # a destination that does not suit the channel
    S.ESME_RSYSERR: InternalError,          # a channel plugin failed
    S.VENDOR_BAD_ENCODING: BadParameters,
    S.VENDOR_MESSAGE_TOO_LONG: BadParameters,
    S.ESME_RINVSYSID: AccountDisabled,
    S.ESME_RINVSRCADR: Forbidden,
    S.ESME_RINVEXPIRY: BadParameters,
    S.ESME_RTHROTTLED: Throttled,
    S.VENDOR_FORBIDDEN_WORDS: Forbidden,
    S.VENDOR_BLACKLISTED: Forbidden,
    S.VENDOR_INSUFFICIENT_FUNDS: NoMoney,
    S.VENDOR_NO_TARIFF: Undeliverable,
    S.VENDOR_DUPLICATE: Duplicate,
    S.VENDOR_NO_ROUTING_POLICY: Undeliverable,
    # refusals of a channel (gateway.channels.errors): the text or the recipient does not fit it
    S.ESME_RINVMSGLEN: BadParameters,
    S.ESME_RINVDSTADR: InvalidNumberError,
}


def from_accept_error(error: AcceptError) -> HttpError:
    """The HTTP refusal for an acceptor refusal; ``smpp_status`` keeps the original."""
    return _BY_STATUS.get(error.status, Undeliverable)(error.reason, smpp_status=error.status)
