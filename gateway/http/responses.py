"""
Running an ``async`` request handler inside a `twisted.web` resource and
writing what it returns: the one place that turns refusals (`HttpError`),
Redis outages (`StoreUnavailable`) and bugs into answers, so that one bad
request never takes anything else down.
"""

from __future__ import annotations

import json

from twisted.internet import defer
from twisted.web import resource, server

from gateway.http.errors import HttpError, InternalError, ServiceUnavailable
from gateway.logs import Logger
from gateway.store.scripting import StoreUnavailable

__all__ = ["Reply", "json_reply", "error_reply", "text_reply", "run", "client_address", "ProviderRoot",
           "Refusal"]

log = Logger(namespace="gateway.http")


class Reply:
    """A finished answer: status, content type and body bytes."""

    __slots__ = ("status", "content_type", "body", "headers")

    def __init__(self, status: int, content_type: bytes, body: bytes, headers=None):
        self.status = status
        self.content_type = content_type
        self.body = body
        self.headers = headers or {}


def json_reply(body, status: int = 200, headers=None) -> Reply:
    data = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, b"application/json; charset=utf-8", data, headers)


def error_reply(error: HttpError) -> Reply:
    """The JSON answer to an `HttpError` (with its ``Allow`` header, when it has one)."""
    headers = {b"allow": error.details["allow"].encode()} if "allow" in error.details else None
    return json_reply(error.to_json(), error.status, headers)


def text_reply(text: str, status: int = 200, charset: str = "utf-8") -> Reply:
    return Reply(status, f"text/plain; charset={charset}".encode(),
                 text.encode(charset, "replace"))


def client_address(request) -> str:
    peer = request.getClientAddress()
    return getattr(peer, "host", "") or "unix"


def run(request, handler, on_error) -> int:
    """Render ``await handler()`` (a `Reply`); ``on_error(HttpError)`` renders refusals.

    Returns ``NOT_DONE_YET``; the request is finished exactly once, and not
    written to at all when the client went away meanwhile.
    """
    gone = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))
    d = defer.ensureDeferred(handler())

    def refused(failure):
        if failure.check(StoreUnavailable):
            log.warn("{method} {path}: store unavailable: {error}", method=request.method,
                     path=request.path, error=failure.getErrorMessage())
            return on_error(ServiceUnavailable("store temporarily unavailable, retry later"))
        if failure.check(HttpError):
            error = failure.value
            log.info("{method} {path} from {client}: {status} {code}: {message}", method=request.method.decode(),
                     path=request.path.decode("utf-8", "replace"), client=client_address(request),
                     status=error.status, code=error.code, message=error.message)
            return on_error(error)
        log.failure("{method} {path} failed", failure, method=request.method, path=request.path)
        return on_error(InternalError("internal error"))

    def write(reply: Reply):
        if gone:
            return
        request.setResponseCode(reply.status)
        request.setHeader(b"content-type", reply.content_type)
        for name, value in reply.headers.items():
            request.setHeader(name, value)
        request.setHeader(b"content-length", str(len(reply.body)).encode())  # not chunked
        if reply.body and request.method != b"HEAD":
            request.write(reply.body)
        request.finish()

    d.addErrback(refused)
    d.addCallback(write)
    d.addErrback(lambda f: log.failure("writing the answer to {path} failed", f, path=request.path))
    return server.NOT_DONE_YET


class ProviderRoot(resource.Resource):
    """A path with one child per provider that takes some inbound call (``/dlr/<provider>``,
    ``/telegram/<provider>``): ``child(provider)`` for a provider for which ``takes(provider)``,
    else a JSON 404 saying that no provider of that name takes ``what``."""

    def __init__(self, context, takes, child, what: str):
        super().__init__()
        self.context = context
        self.takes = takes
        self.child = child
        self.what = what

    def getChild(self, path, request):
        from gateway.http.errors import NotFound

        name = path.decode("utf-8", "replace")
        provider = self.context.providers.get(name)
        if provider is None or not self.takes(provider):
            return Refusal(NotFound(f"no provider {name!r} takes {self.what}"))
        return self.child(provider)


class Refusal(resource.Resource):
    """Answers ``error`` (an `HttpError`) to any request under it."""

    isLeaf = True

    def __init__(self, error: HttpError):
        super().__init__()
        self.error = error

    def render(self, request):
        return run(request, self._refuse, error_reply)

    async def _refuse(self):
        raise self.error
