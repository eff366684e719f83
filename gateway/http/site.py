"""The HTTP site: one resource tree for every HTTP part of the gateway."""

from __future__ import annotations

import json

from twisted.internet import defer
from twisted.web import resource, server

from gateway.logs import Logger

__all__ = ["make_site", "Health", "json_response"]


def json_response(request, status: int, body) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


class Health(resource.Resource):
    """``GET /health``: is this node up and does it reach Redis."""

    isLeaf = True
    log = Logger()

    def __init__(self, node: str, redis_service):
        super().__init__()
        self.node = node
        self.redis_service = redis_service

    def render_GET(self, request):
        d = defer.ensureDeferred(self._check())

        def done(result):
            status, body = result
            request.write(json_response(request, status, body))
            request.finish()

        d.addCallback(done)
        d.addErrback(lambda f: self.log.failure("health check failed", f))
        return server.NOT_DONE_YET

    async def _check(self):
        redis = self.redis_service.redis
        try:
            if redis is None:
                raise ConnectionError("not connected yet")
            await redis.ping()
        except Exception as e:
            return 503, {"status": "degraded", "node": self.node, "redis": f"down: {e}"}
        return 200, {"status": "ok", "node": self.node, "redis": "up"}


class Root(resource.Resource):
    def render_GET(self, request):
        return json_response(request, 200, {"service": "smsgw", "health": "/health"})


def make_site(config, redis_service) -> server.Site:
    root = Root()
    root.putChild(b"health", Health(config.gateway["node"], redis_service))
    site = server.Site(root)
    site.noisy = False
    return site
