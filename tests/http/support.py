"""Helpers of the HTTP tests: a scripted upstream HTTP server and a waiting helper."""

from __future__ import annotations

import json

from twisted.internet import defer, reactor, task
from twisted.web import resource, server


class Recorder(resource.Resource):
    """A local HTTP server: records each request, answers with ``respond(request) -> (status, body)``."""

    isLeaf = True

    def __init__(self, respond=None):
        super().__init__()
        self.requests: list[dict] = []
        self.respond = respond or (lambda r: (200, b"OK"))
        self._waiters: list[tuple[int, defer.Deferred]] = []

    def render(self, request):
        body = request.content.read()
        seen = {"method": request.method.decode(), "path": request.path.decode(), "uri": request.uri.decode(),
                "args": {k.decode(): [v.decode() for v in vs] for k, vs in request.args.items()},
                "headers": {k.decode().lower(): v[0].decode() for k, v in request.requestHeaders.getAllRawHeaders()},
                "body": body}
        self.requests.append(seen)
        status, reply = self.respond(seen)
        request.setResponseCode(status)
        for n, d in list(self._waiters):
            if len(self.requests) >= n:
                self._waiters.remove((n, d))
                reactor.callLater(0, d.callback, self.requests)
        return reply if isinstance(reply, bytes) else json.dumps(reply).encode()

    def wait_for(self, n: int, timeout: float = 10.0) -> defer.Deferred:
        """Fires with the requests once ``n`` have arrived (fails after ``timeout``)."""
        if len(self.requests) >= n:
            return defer.succeed(self.requests)
        d = defer.Deferred()
        self._waiters.append((n, d))
        return d.addTimeout(timeout, reactor)


def listen(res) -> tuple:
    """Serve ``res`` on a free loopback port; (port object, base URL)."""
    site = server.Site(res)
    site.noisy = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    return port, f"http://127.0.0.1:{port.getHost().port}"


async def eventually(check, timeout: float = 10.0, interval: float = 0.02):
    """Await until ``await check()`` is truthy (bounded); returns its value."""
    waited = 0.0
    while True:
        value = await check()
        if value:
            return value
        if waited >= timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await task.deferLater(reactor, interval, lambda: None)
        waited += interval
