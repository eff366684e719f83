"""
Local HTTP servers speaking the vendor APIs the channel providers call: the
Telegram Bot API (sendMessage, getUpdates, setWebhook), the Telegram Gateway API
(sendVerificationMessage), and a generic JSON vendor (Viber, voice, social,
HLR).  Each records the requests it got; behaviour is set by plain attributes.
"""

from __future__ import annotations

import itertools
import json

from twisted.internet import reactor
from twisted.web import resource, server


class JsonApi(resource.Resource):
    """Answers POSTed JSON (or form) requests with ``self.answer(path, body, request) -> (status, document)``."""

    isLeaf = True

    def __init__(self):
        super().__init__()
        self.requests: list[dict] = []

    def render(self, request):
        raw = request.content.read()
        kind = (request.getHeader("content-type") or "").split(";")[0]
        if kind.endswith("json"):
            body = json.loads(raw or b"{}")
        else:
            body = {k.decode(): v[0].decode() for k, v in request.args.items()}
        path = request.path.decode()
        self.requests.append({"method": request.method.decode(), "path": path, "body": body,
                              "headers": {k.decode().lower(): v[0].decode()
                                          for k, v in request.requestHeaders.getAllRawHeaders()}})
        status, document = self.answer(path, body, request)
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(document).encode()

    def answer(self, path, body, request):
        raise NotImplementedError

    def calls(self, suffix: str) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith(suffix)]


class FakeTelegram(JsonApi):
    """The Bot API of one bot (``token``) and the Gateway API (Bearer ``gateway_token``)."""

    def __init__(self, token="123:ABC", gateway_token="gw-token"):
        super().__init__()
        self.token = token
        self.gateway_token = gateway_token
        self.updates: list[dict] = []
        self.blocked: set[int] = set()
        self.flooded: set[int] = set()  # chats whose sendMessage answers 429 (flood control)
        self.down = False
        self.webhook: dict | None = None  # the last setWebhook's parameters, while one is set
        self.refuse_webhook = ""  # set: setWebhook answers 400 with this description
        self._ids = itertools.count(100)

    def answer(self, path, body, request):
        if self.down:
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if path.startswith("/bot"):
            token, _, method = path[4:].partition("/")
            if token != self.token:
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return getattr(self, "bot_" + method)(body)
        if request.getHeader("authorization") != f"Bearer {self.gateway_token}":
            return 401, {"ok": False, "error": "ACCESS_TOKEN_INVALID"}
        return getattr(self, "gateway_" + path.strip("/"))(body)

    def bot_getUpdates(self, body):
        if self.webhook is not None:  # as the real API: no polling while a webhook is set
            return 409, {"ok": False, "error_code": 409,
                         "description": "Conflict: can't use getUpdates method while webhook is active; "
                                        "use deleteWebhook to delete the webhook first"}
        offset = body.get("offset") or 0
        return 200, {"ok": True, "result": [u for u in self.updates if u["update_id"] >= offset]}

    def bot_sendMessage(self, body):
        if body["chat_id"] in self.flooded:
            return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
                         "parameters": {"retry_after": 5}}
        if body["chat_id"] in self.blocked:
            return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        return 200, {"ok": True, "result": {"message_id": next(self._ids), "chat": {"id": body["chat_id"]},
                                            "date": 0, "text": body["text"]}}

    def bot_setWebhook(self, body):
        if self.refuse_webhook:
            return 400, {"ok": False, "error_code": 400, "description": self.refuse_webhook}
        self.webhook = body if body.get("url") else None
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    def gateway_sendVerificationMessage(self, body):
        if body["phone_number"].startswith("+999"):
            return 400, {"ok": False, "error": "PHONE_NUMBER_INVALID"}
        return 200, {"ok": True, "result": {
            "request_id": f"req{next(self._ids)}", "phone_number": body["phone_number"], "request_cost": 0.01,
            "delivery_status": {"status": "sent", "updated_at": 0}, "payload": body.get("payload")}}

    def user_message(self, user_id: int, **fields) -> dict:
        """Queue an update: a private message from user ``user_id``."""
        update = {"update_id": 1000 + len(self.updates), "message": {
            "message_id": len(self.updates) + 1, "date": 0, "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            "chat": {"id": user_id, "type": "private"}, **fields}}
        self.updates.append(update)
        return update


async def serve(api: resource.Resource):
    """Listen on a free loopback port; ``(base_url, port)`` — stop with ``port.stopListening()``."""
    port = reactor.listenTCP(0, server.Site(api), interface="127.0.0.1")
    return f"http://127.0.0.1:{port.getHost().port}", port


class FakeVendor(JsonApi):
    """A vendor API: ``replies`` maps a path suffix to ``(status, document)`` or a callable of the body."""

    def __init__(self):
        super().__init__()
        self.replies: dict = {}

    def answer(self, path, body, request):
        for suffix, reply in self.replies.items():
            if path.endswith(suffix):
                return reply(body) if callable(reply) else reply
        return 404, {"error": "no such method"}
