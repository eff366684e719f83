"""
The JSON API, ``/api/v1``: send (one message, or a batch of up to 1,000, or
by template), message status, archive search, balance, templates.  Auth by
API key (``X-API-Key: …`` or ``Authorization: Bearer …``); errors are
``{"error": {"code": …, "message": …}}`` with a precise 4xx.  The OpenAPI 3
document (`gateway.http.api.openapi`) is served at ``/api/v1/openapi.json``.
"""

__all__ = ["router", "messages", "templates", "openapi"]
