"""
Reading ``/api/v1`` requests: who is calling, the JSON body, query arguments
and times (ISO 8601 or epoch milliseconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from gateway.http.errors import (BadParameters, Forbidden, PayloadTooLarge,
                                 UnsupportedMediaType)

__all__ = ["Caller", "read_json", "account_of", "arg", "parse_moment", "iso", "MAX_BODY"]

MAX_BODY = 8 * 1024 * 1024  # bytes of a JSON request body


@dataclass
class Caller:
    """Who is asking: an account (API key), or the admin (``[admin] token``) acting for ``account``."""

    account: object
    admin: bool = False


def read_json(request):
    """The request body as JSON; 415 for a non-JSON content type, 413 when too large, 400 when invalid."""
    kind = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
    if kind not in ("", "application/json", "text/plain") and not kind.endswith("+json"):
        raise UnsupportedMediaType(f"expected a JSON body (Content-Type: application/json), got {kind}")
    request.content.seek(0, 2)
    size = request.content.tell()
    if size > MAX_BODY:
        raise PayloadTooLarge(f"request body over {MAX_BODY} bytes")
    request.content.seek(0)
    raw = request.content.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadParameters(f"body is not valid JSON: {e}") from None


def account_of(caller: Caller, request):
    """The account a request acts on: the caller's; the admin names it with ``?account=``."""
    if not caller.admin:
        wanted = arg(request, "account")
        if wanted and wanted != caller.account.name:
            raise Forbidden("an API key acts only on its own account")
        return caller.account.name
    wanted = arg(request, "account")
    if not wanted:
        raise BadParameters("the admin token needs ?account=NAME", field="account")
    return wanted


def arg(request, name: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace").strip() if values else ""


def parse_moment(value, field: str) -> int:
    """Epoch ms from an ISO 8601 time (UTC unless it says otherwise) or a number of epoch ms."""
    if isinstance(value, bool):
        raise BadParameters(f"{field}: expected an ISO 8601 time or epoch milliseconds", field=field)
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameters(f"{field}: expected an ISO 8601 time or epoch milliseconds, got {text!r}",
                            field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    """Epoch ms → ISO 8601 UTC with milliseconds (``2025-06-15T15:06:40.000Z``)."""
    return _iso_second(ms // 1000) + f"{ms % 1000:03d}Z"


@lru_cache(maxsize=256)
def _iso_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
