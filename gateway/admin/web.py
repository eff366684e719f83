"""
Answering admin HTTP requests from ``async`` handlers: JSON replies, JSON
errors with a precise 4xx (the `gateway.http.errors` types, plus the few the
admin API adds), and handlers that stream their own response (exports).
"""

from __future__ import annotations

import json

from twisted.internet import defer
from twisted.web import server

from gateway.http.errors import BadParameters, HttpError, InternalError, ServiceUnavailable
from gateway.logs import Logger
from gateway.store.scripting import StoreUnavailable

__all__ = ["STREAMED", "Conflict", "AdminDisabled", "respond", "json_body", "arg", "args", "send_json"]

log = Logger(namespace="gateway.admin")

#: Returned by a handler that has written (or is writing) the response itself.
STREAMED = object()

MAX_BODY = 1024 * 1024


class Conflict(HttpError):
    """The request contradicts the current state (account exists, connector is not a service…)."""

    status, code, smsc = 409, "conflict", 1


class AdminDisabled(HttpError):
    """``[admin] token`` is empty: the admin API and the console are switched off."""

    status, code, smsc = 403, "admin_disabled", 6


def send_json(request, status: int, body) -> None:
    """Write a JSON answer and finish the request."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    if request.method != b"HEAD":
        request.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    request.finish()


def respond(request, handler) -> int:
    """Render ``await handler()``: a ``(status, body)`` pair written as JSON, or `STREAMED`.

    Refusals (`HttpError`) become their JSON error, Redis outages 503, bugs a
    logged 500; nothing is written to a client that went away.
    """
    gone = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))
    d = defer.ensureDeferred(handler())

    def done(result):
        if result is STREAMED or gone:
            return
        status, body = result
        send_json(request, status, body)

    def failed(failure):
        if gone:
            return
        if failure.check(HttpError):
            error = failure.value
        elif failure.check(StoreUnavailable):
            log.warn("{method} {path}: store unavailable: {error}", method=request.method,
                     path=request.path, error=failure.getErrorMessage())
            error = ServiceUnavailable("store temporarily unavailable, retry later")
        else:
            log.failure("{method} {path} failed", failure, method=request.method, path=request.path)
            error = InternalError("internal error")
        send_json(request, error.status, error.to_json())

    d.addCallbacks(done, failed)
    d.addErrback(lambda f: log.failure("answering {path} failed", f, path=request.path))
    return server.NOT_DONE_YET


def json_body(request) -> dict:
    """The request body as a JSON object; 400 when it is not one, 413 when too large."""
    request.content.seek(0, 2)
    if request.content.tell() > MAX_BODY:
        from gateway.http.errors import PayloadTooLarge
        raise PayloadTooLarge(f"request body over {MAX_BODY} bytes")
    request.content.seek(0)
    raw = request.content.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadParameters(f"body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadParameters("the body is a JSON object")
    return body


def arg(request, name: str, default: str = "") -> str:
    """One query argument (the first if repeated), stripped."""
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace").strip() if values else default


def args(request, name: str) -> list[str]:
    """Every value of a query argument, repeated and/or comma-separated."""
    out = []
    for raw in request.args.get(name.encode(), ()):
        out += [v.strip() for v in raw.decode("utf-8", "replace").split(",") if v.strip()]
    return out
