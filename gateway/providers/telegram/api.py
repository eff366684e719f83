"""
The two Telegram HTTP APIs the providers call, as small clients over
`gateway.providers.webapi.WebClient`:

- the Bot API: ``POST {api_url}/bot{token}/{method}`` with a JSON body,
  answering ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": 403,
  "description": "Forbidden: bot was blocked by the user", "parameters":
  {"retry_after": 5}}``;
- the Gateway API: ``POST {api_url}/{method}`` with ``Authorization: Bearer
  {token}``, answering ``{"ok": true, "result": …}`` or ``{"ok": false,
  "error": "PHONE_NUMBER_INVALID"}``.

Both raise `TelegramError`, which says whether trying again later may help.
Tokens go into URLs and headers only, never into errors or logs.
"""

from __future__ import annotations

from gateway.providers.webapi import Unreachable, WebClient

__all__ = ["TelegramError", "BotApi", "GatewayApi"]


class TelegramError(Exception):
    """A failed call: ``code`` (HTTP-like: Bot API ``error_code``, HTTP status, 0 for no answer),
    ``description`` (Telegram's words) and whether it is ``temporary``."""

    def __init__(self, code: int, description: str, temporary: bool):
        super().__init__(f"{code} {description}" if code else description)
        self.code = code
        self.description = description
        self.temporary = temporary


def _temporary(code: int) -> bool:
    # 0: no answer; 401: our token (the operator fixes it, the message is not at fault); 429: flood control
    return code in (0, 401, 408, 429) or code >= 500


class BotApi:
    """Calls Bot API methods of one bot."""

    def __init__(self, web: WebClient, api_url: str, token: str):
        self.web = web
        self._base = f"{api_url.rstrip('/')}/bot{token}/"

    async def call(self, method: str, deadline: float | None = None, **params):
        """The ``result`` of ``method`` (waiting up to ``deadline`` seconds); raises `TelegramError`."""
        try:
            answer = await self.web.request("POST", self._base + method, json_body=params, timeout=deadline)
        except Unreachable as e:
            raise TelegramError(0, f"Bot API unreachable: {e}", True) from None
        doc = answer.document if isinstance(answer.document, dict) else {}
        if answer.status == 200 and doc.get("ok") is True:
            return doc.get("result")
        code = int(doc.get("error_code") or answer.status)
        description = str(doc.get("description") or answer.text[:200] or f"HTTP {answer.status}")
        raise TelegramError(code, description, _temporary(code))


class GatewayApi:
    """Calls Telegram Gateway API methods with one access token."""

    def __init__(self, web: WebClient, api_url: str, token: str):
        self.web = web
        self._base = api_url.rstrip("/") + "/"
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, **params):
        """The ``result`` of ``method``; raises `TelegramError` (``description``: Telegram's error string)."""
        try:
            answer = await self.web.request("POST", self._base + method, json_body=params, headers=self._headers)
        except Unreachable as e:
            raise TelegramError(0, f"Gateway API unreachable: {e}", True) from None
        doc = answer.document if isinstance(answer.document, dict) else {}
        if answer.status == 200 and doc.get("ok") is True:
            return doc.get("result") or {}
        error = str(doc.get("error") or answer.text[:200] or f"HTTP {answer.status}")
        code = answer.status if answer.status != 200 else 400
        temporary = _temporary(code) or "FLOOD" in error or "TOKEN" in error or "BALANCE" in error
        raise TelegramError(code, error, temporary)
