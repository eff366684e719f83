"""
``/telegram/<provider>``: the updates Telegram POSTs to a bot in webhook mode
(`gateway.providers.telegram.webhook`), mounted like ``/dlr/<provider>``:
the provider is looked up by name in the context's providers and must have
``takes_webhook`` true.

A request is accepted only with the bot's secret in
``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time; wrong or
missing → 403), with a JSON ``Update`` body (else 400), and answered 200 once
the provider handled it.  An update the provider could not handle for a
reason that may pass (Redis, the Bot API) is answered 503: Telegram repeats a
request answered with anything but 2xx, so the update is not lost.
"""

from __future__ import annotations

import json

from twisted.web import resource

from gateway.http.errors import BadParameters, Forbidden, MethodNotAllowed, PayloadTooLarge, ServiceUnavailable
from gateway.http.responses import ProviderRoot, error_reply, json_reply, run
from gateway.providers.telegram.bot import UpdateNotHandled

__all__ = ["TelegramRoot", "WebhookResource", "MAX_UPDATE_BODY"]

#: Largest update body accepted, in bytes (an update is a few kilobytes).
MAX_UPDATE_BODY = 1024 * 1024
_SECRET_HEADER = b"x-telegram-bot-api-secret-token"


class TelegramRoot(ProviderRoot):
    """``/telegram``: one child per Telegram bot provider in webhook mode."""

    def __init__(self, context):
        super().__init__(context, lambda provider: getattr(provider, "takes_webhook", False),
                         lambda provider: WebhookResource(provider), "Telegram webhook updates")


class WebhookResource(resource.Resource):
    """The updates of one bot, handed to its provider's ``handle_update``."""

    isLeaf = True

    def __init__(self, provider):
        super().__init__()
        self.provider = provider

    def render(self, request):
        return run(request, lambda: self.handle(request), error_reply)

    async def handle(self, request):
        if request.method != b"POST":
            raise MethodNotAllowed("Telegram POSTs updates", allow="POST")
        if not self.provider.secret_ok(request.getHeader(_SECRET_HEADER) or b""):
            raise Forbidden("wrong or missing X-Telegram-Bot-Api-Secret-Token", provider=self.provider.name)
        update = _update(request)
        try:
            await self.provider.handle_update(update)
        except UpdateNotHandled as e:
            raise ServiceUnavailable(f"update not handled, post it again: {e}") from None
        return json_reply({"ok": True})


def _update(request) -> dict:
    raw = request.content.read(MAX_UPDATE_BODY + 1)
    if len(raw) > MAX_UPDATE_BODY:
        raise PayloadTooLarge("update body too large")
    try:
        update = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadParameters(f"update body is not valid JSON: {e}") from None
    update_id = update.get("update_id") if isinstance(update, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise BadParameters("an update is a JSON object with an integer update_id")
    return update
