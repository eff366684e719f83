"""
The OpenAPI 3.0 document of ``/api/v1``, served at ``/api/v1/openapi.json``.
``tests/http/test_api.py`` validates real responses (and the send requests
the handler takes or refuses) against these schemas, so the document stays
true to the code.

The document is built for the channels installed (`document`): the
``channel`` enum lists the built-in channels and those of plugins, and says
which of them need no text.
"""

from __future__ import annotations

from functools import lru_cache

from gateway.http.responses import json_reply

__all__ = ["document", "for_channels", "serve", "SCHEMAS", "PATHS"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    text = {400: "Bad parameters", 401: "Missing or invalid API key", 402: "Insufficient funds",
            403: "Forbidden", 404: "Not found", 409: "Duplicate message", 413: "Too large",
            415: "Not JSON", 422: "Undeliverable, or a template problem", 429: "Throttled or blocked",
            503: "Store unavailable, retry later"}
    return {str(s): _json(_ref("Error"), text[s]) for s in statuses}


_STRING_OR_NULL = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time"}
_STATES = ["ENROUTE", "DELIVERED", "EXPIRED", "DELETED", "UNDELIVERABLE", "ACCEPTED", "UNKNOWN", "REJECTED"]

#: The fields of a message, for a single send and for each message of a batch (``channel``
#: gets the names of the installed channels in `document`).
_MESSAGE_FIELDS = {
    "to": {"type": "string", "description": "Phone (international with or without +, or domestic in the "
                                            "account's default region); e-mail for channel mail; what a "
                                            "plugin channel addresses for its channel"},
    "text": {"type": "string", "maxLength": 4096, "description": "Text after \\n~~~\\n is a comment"},
    "from": {"type": "string", "description": "Sender name or number"},
    "channel": {"type": "string", "default": "sms", "description": "One of the channels installed "
                                                                    "(built-in and plugins)"},
    "template": {"type": "string", "description": "Name of one of the account's templates (instead of text)"},
    "variables": {"type": "object", "additionalProperties": True,
                  "description": "Values of the template's variables (only with template)"},
    "schedule_at": {"oneOf": [_TIME, {"type": "integer"}], "description": "ISO 8601 or epoch ms"},
    "valid_for": {"type": "integer", "minimum": 0, "maximum": 604800, "description": "Seconds"},
    "priority": {"type": "integer", "minimum": 0, "maximum": 3},
    "reference": {"type": "string", "maxLength": 64},
    "report": {"type": "boolean", "description": "Ask for a DLR callback (default: if the account has a dlr_url)"},
    "subject": {"type": "string", "description": "Channel mail: the subject"},
    "voice": {"type": "string", "description": "Channel call: the voice"},
    "bot": {"type": "string", "description": "Channel bot: @bot_name"},
    "params": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "Parameters of the channel by name: those it reads from key:value lines at the "
                              "end of the text (a plugin channel's too); another name is refused"},
    "flash": {"type": "boolean"},
}


def _message_schemas(channels: tuple, textless: tuple) -> dict:
    """``MessageIn``, ``BatchItem`` and ``Batch`` for the installed ``channels``.

    A message needs ``to``, and ``text`` or ``template`` (not both) unless
    its channel is one of ``textless``; ``variables`` only with a template.
    In a batch these hold for each message merged over the top-level fields,
    which no schema can say: an item is checked for its fields only, and one
    that does not make a message is refused in its result.
    """
    channel = dict(_MESSAGE_FIELDS["channel"], enum=list(channels)) if channels else _MESSAGE_FIELDS["channel"]
    fields = dict(_MESSAGE_FIELDS, channel=channel)
    content = [{"required": ["text"], "properties": {"text": {"minLength": 1}}}, {"required": ["template"]}]
    if textless:
        content.append({"required": ["channel"], "properties": {"channel": {"enum": list(textless)}}})
    return {
        "MessageIn": {
            "type": "object", "additionalProperties": False, "required": ["to"], "properties": fields,
            "allOf": [
                {"anyOf": content, "description": "text or template; neither only on a channel that needs no text"},
                {"not": {"required": ["text", "template"]}, "description": "not both text and template"},
                {"anyOf": [{"required": ["template"]}, {"not": {"required": ["variables"]}}],
                 "description": "variables only with a template"},
            ],
        },
        "BatchItem": {
            "type": "object", "additionalProperties": False, "properties": fields,
            "description": "One message of a batch, merged over the batch's top-level fields",
        },
        "Batch": {
            "type": "object", "required": ["messages"], "additionalProperties": False,
            "description": "Top-level fields other than messages are defaults for every message",
            "properties": dict(fields, messages={
                "type": "array", "minItems": 1, "maxItems": 1000, "items": _ref("BatchItem")}),
        },
    }


SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message"], "additionalProperties": True,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "field": {"type": "string"}, "variable": {"type": "string"},
                           "template": {"type": "string"}, "number": {"type": "string"},
                           "smpp_status": {"type": "integer"},
                           "channel": {"type": "string", "description": "An unknown channel asked for"},
                           "known": {"type": "array", "items": {"type": "string"},
                                     "description": "The channels installed"}}}},
    },
    "Accepted": {
        "type": "object", "required": ["id", "to", "state", "parts", "cost", "created"],
        "properties": {"id": {"type": "string", "maxLength": 64}, "to": {"type": "string"},
                       "state": {"type": "string", "enum": _STATES}, "parts": {"type": "integer"},
                       "cost": _STRING_OR_NULL, "created": _TIME, "index": {"type": "integer"}},
    },
    "BatchItemRefused": {
        "type": "object", "required": ["index", "error"],
        "properties": {"index": {"type": "integer"}, "to": _STRING_OR_NULL,
                       "error": {}},  # filled in below: the body of Error
    },
    "BatchResult": {
        "type": "object", "required": ["accepted", "refused", "results"],
        "properties": {"accepted": {"type": "integer"}, "refused": {"type": "integer"},
                       "results": {"type": "array", "items": {"oneOf": [_ref("Accepted"), _ref("BatchItemRefused")]}}},
    },
    "Message": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "account", "direction", "from", "to", "text", "channel", "state", "error",
                     "parts", "provider", "reference", "comment", "created", "updated", "history"],
        "properties": {
            "id": {"type": "string"}, "account": {"type": "string"},
            "direction": {"type": "string", "enum": ["MT", "MO"]}, "from": {"type": "string"},
            "to": {"type": "string"}, "text": {"type": "string"}, "channel": {"type": "string"},
            "state": {"type": "string", "enum": _STATES}, "error": {"type": "integer"},
            "parts": {"type": "integer"}, "provider": _STRING_OR_NULL, "reference": _STRING_OR_NULL,
            "comment": _STRING_OR_NULL, "created": _TIME, "updated": _TIME,
            "history": {"type": "array", "items": {
                "type": "object", "required": ["state", "at"],
                "properties": {"state": {"type": "string", "enum": _STATES}, "at": _TIME}}},
        },
    },
    "MessagePage": {
        "type": "object", "required": ["messages", "next_cursor"], "additionalProperties": False,
        "properties": {"messages": {"type": "array", "items": _ref("Message")},
                       "next_cursor": dict(_STRING_OR_NULL, description="Pass as cursor for the next page")},
    },
    "Balance": {
        "type": "object", "required": ["account", "balance", "unlimited"], "additionalProperties": False,
        "properties": {"account": {"type": "string"}, "balance": _STRING_OR_NULL, "unlimited": {"type": "boolean"}},
    },
    "CallbackSecret": {
        "type": "object", "required": ["account", "secret", "header", "algorithm"], "additionalProperties": False,
        "properties": {"account": {"type": "string"}, "secret": {"type": "string"},
                       "header": {"type": "string"}, "algorithm": {"type": "string"}},
    },
    "TemplateIn": {
        "type": "object", "required": ["body"], "additionalProperties": False,
        "properties": {"body": {"type": "string", "maxLength": 10000},
                       "engine": {"type": "string", "enum": ["printf", "jinja"], "default": "printf"}},
    },
    "Template": {
        "type": "object", "required": ["name", "engine", "body", "variables"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "engine": {"type": "string", "enum": ["printf", "jinja"]},
                       "body": {"type": "string"}, "variables": {"type": "array", "items": {"type": "string"}}},
    },
    "TemplateList": {
        "type": "object", "required": ["templates"], "additionalProperties": False,
        "properties": {"templates": {"type": "array", "items": _ref("Template")}},
    },
}
SCHEMAS["BatchItemRefused"]["properties"]["error"] = SCHEMAS["Error"]["properties"]["error"]


def _query(name: str, description: str, schema=None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}

PATHS = {
    "/messages": {
        "post": {
            "summary": "Send one message, or a batch of up to 1000",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": [_ref("MessageIn"), _ref("Batch")]}}}},
            "responses": {"201": _json(_ref("Accepted"), "The message is stored (single send)"),
                          "200": _json(_ref("BatchResult"), "Each message of the batch, accepted or refused"),
                          **_errors(400, 401, 402, 403, 409, 413, 415, 422, 429, 503)},
        },
        "get": {
            "summary": "Search the archive, newest first",
            "parameters": [_query("since", "ISO 8601 or epoch ms"), _query("until", "ISO 8601 or epoch ms"),
                           _query("direction", "MT or MO", {"type": "string", "enum": ["MT", "MO"]}),
                           _query("number", "Phone number"), _query("state", "States, comma separated"),
                           _query("account", "Admin token only: the account"),
                           _query("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": 1000}),
                           _query("cursor", "next_cursor of the previous page")],
            "responses": {"200": _json(_ref("MessagePage"), "One page"), **_errors(400, 401, 403, 503)},
        },
    },
    "/messages/{id}": {
        "get": {
            "summary": "A message with its state history",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref("Message"), "The message"), **_errors(401, 404, 503)},
        },
    },
    "/openapi.json": {"get": {"summary": "This document", "security": [],
                              "responses": {"200": _json({"type": "object", "required": ["openapi", "paths"]},
                                                         "OpenAPI 3.0 document")}}},
    "/balance": {"get": {"summary": "The account's balance",
                         "responses": {"200": _json(_ref("Balance"), "Balance"), **_errors(401, 503)}}},
    "/callback-secret": {"get": {"summary": "The secret DLR/MO callbacks of the account are signed with",
                                 "responses": {"200": _json(_ref("CallbackSecret"), "Secret"), **_errors(401, 503)}}},
    "/templates": {"get": {"summary": "The account's templates",
                           "responses": {"200": _json(_ref("TemplateList"), "Templates"), **_errors(401, 503)}}},
    "/templates/{name}": {
        "parameters": [_NAME],
        "get": {"summary": "One template", "responses": {"200": _json(_ref("Template"), "The template"),
                                                          **_errors(401, 404)}},
        "put": {"summary": "Create or replace a template",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TemplateIn")}}},
                "responses": {"200": _json(_ref("Template"), "Replaced"), "201": _json(_ref("Template"), "Created"),
                              **_errors(400, 401, 415, 422)}},
        "delete": {"summary": "Delete a template",
                   "responses": {"204": {"description": "Deleted"}, **_errors(401, 404)}},
    },
}


@lru_cache(maxsize=8)
def document(channels: tuple = (), textless: tuple = ()) -> dict:
    """The document for the installed ``channels`` (names), ``textless`` those that need no text.

    Without channels, ``channel`` is any string.  Cached (the APIs ask with
    the same names every time), so the dict is shared: read it, never change it.
    """
    schemas = dict(SCHEMAS, **_message_schemas(channels, textless))
    return {
        "openapi": "3.0.3",
        "info": {"title": "smsgw API", "version": "1",
                 "description": "Send messages, read their states, search the archive, manage templates. "
                                "DLR and MO callbacks are signed: X-Smsgw-Signature: sha256=<hex HMAC-SHA256 "
                                "of the timestamp, a dot and the body, keyed with the account's callback secret>."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"apiKey": []}, {"bearer": []}],
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                "bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "paths": PATHS,
    }


def for_channels(channels) -> dict:
    """The document for a `gateway.channels.Channels` registry."""
    names = tuple(channels.names)
    textless = tuple(name for name in names if not getattr(channels.by_name[name], "needs_text", True))
    return document(names, textless)


async def serve(ctx, request, caller):
    """``GET /api/v1/openapi.json``: the document for the channels this gateway has installed."""
    return json_reply(for_channels(ctx.channels))
