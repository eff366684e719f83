"""The HTTP site: one resource tree for every HTTP part of the gateway.

    /health                      node up, Redis reachable
    /sys/send.php, /sys/status.php, /sys/balance.php   smsc.ru-compatible API
    /api/v1/…                    JSON API (OpenAPI at /api/v1/openapi.json)
    /dlr/<provider>              inbound DLR callbacks of HTTP-template providers
    /telegram/<provider>         updates Telegram POSTs to a bot in webhook mode

Everything but /health needs an `HttpContext` (the store objects); without
one the site serves /health only.

The access log never shows credentials: smsc.ru clients put ``psw`` and
``apikey`` in the query string, so their values are masked in the logged URI
(`redacting_log_formatter`).
"""

from __future__ import annotations

import json
import re

from twisted.internet import defer
from twisted.python.components import proxyForInterface
from twisted.web import resource, server
from twisted.web.http import combinedLogFormatter
from twisted.web.iweb import IAccessLogFormatter, IRequest
from zope.interface import provider

from gateway.logs import Logger

__all__ = ["make_site", "Health", "json_response", "redacting_log_formatter", "SECRET_PARAMETERS"]

#: Query parameters whose values the access log masks.
SECRET_PARAMETERS = ("psw", "password", "apikey", "api_key", "token", "key", "secret")
_SECRET_QUERY = re.compile(rb"([?&;](?:" + b"|".join(p.encode() for p in SECRET_PARAMETERS) + rb")=)[^&;#]*",
                           re.IGNORECASE)


class _Redacted(proxyForInterface(IRequest, "_request")):  # type: ignore[misc]
    """The request as the access log sees it: credentials in the query string masked."""

    @property
    def uri(self):
        return _SECRET_QUERY.sub(rb"\1***", self._request.uri)

    # not in IRequest, read by combinedLogFormatter
    @property
    def clientproto(self):
        return self._request.clientproto

    @property
    def code(self):
        return self._request.code

    @property
    def sentLength(self):
        return self._request.sentLength


@provider(IAccessLogFormatter)
def redacting_log_formatter(timestamp, request) -> str:
    """Twisted's combined log line, with ``psw=***``, ``apikey=***`` … in the URI."""
    return combinedLogFormatter(timestamp, _Redacted(request))


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
        return json_response(request, 200, {"service": "smsgw", "health": "/health",
                                            "api": "/api/v1/openapi.json"})


def make_site(config, redis_service, context=None) -> server.Site:
    """The site for ``config``; with ``context`` (`gateway.http.context.HttpContext`) the APIs too."""
    root = Root()
    root.putChild(b"health", Health(config.gateway["node"], redis_service))
    if context is not None:
        add_apis(root, context)
    site = server.Site(root, logFormatter=redacting_log_formatter)
    site.noisy = False
    site.displayTracebacks = False
    return site


def add_apis(root: resource.Resource, context) -> None:
    """Mount the smsc.ru-compatible API, ``/api/v1``, ``/dlr/<provider>`` and ``/telegram/<provider>``."""
    from gateway.http.api.router import ApiResource
    from gateway.http.dlr import DlrRoot
    from gateway.http.smsc.resources import BalanceResource, SendResource, StatusResource
    from gateway.http.telegram import TelegramRoot

    sys = resource.Resource()
    sys.putChild(b"send.php", SendResource(context))
    sys.putChild(b"status.php", StatusResource(context))
    sys.putChild(b"balance.php", BalanceResource(context))
    root.putChild(b"sys", sys)
    api = resource.Resource()
    api.putChild(b"v1", ApiResource(context))
    root.putChild(b"api", api)
    root.putChild(b"dlr", DlrRoot(context))
    root.putChild(b"telegram", TelegramRoot(context))
