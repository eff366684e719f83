"""
``/api/v1/templates``: an account's message templates (`gateway.templates`):
list, read, put (create or replace, checked before it is stored), delete.
"""

from __future__ import annotations

from gateway.http.api.inputs import account_of, read_json
from gateway.http.errors import BadParameters, NotFound, TemplateProblem
from gateway.http.responses import json_reply
from gateway.templates import ENGINES, Template, TemplateError

__all__ = ["list_templates", "get_template", "put_template", "delete_template", "template_json"]


def template_json(template: Template) -> dict:
    return {"name": template.name, "engine": template.engine, "body": template.body,
            "variables": template.variables}


async def list_templates(ctx, request, caller):
    account = account_of(caller, request)
    templates = await ctx.templates.list(account)
    return json_reply({"templates": [template_json(t) for t in templates]})


async def get_template(ctx, request, caller, name):
    account = account_of(caller, request)
    template = await ctx.templates.get(account, name)
    if template is None:
        raise NotFound(f"no template {name!r}")
    return json_reply(template_json(template))


async def put_template(ctx, request, caller, name):
    """Create (201) or replace (200) a template: ``{"body": "…", "engine": "printf"|"jinja"}``."""
    account = account_of(caller, request)
    body = read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        raise BadParameters("expected {\"body\": \"…\", \"engine\": \"printf\"|\"jinja\"}", field="body")
    unknown = sorted(set(body) - {"body", "engine"})
    if unknown:
        raise BadParameters(f"unknown field {unknown[0]!r}", field=unknown[0])
    engine = body.get("engine", "printf")
    if engine not in ENGINES:
        raise BadParameters(f"engine is one of {', '.join(ENGINES)}", field="engine")
    try:
        template = Template(name, body["body"], engine)
        replaced = await ctx.templates.put(account, template)
    except TemplateError as e:
        raise TemplateProblem(str(e), template=name) from None
    return json_reply(template_json(template), 200 if replaced else 201)


async def delete_template(ctx, request, caller, name):
    account = account_of(caller, request)
    if not await ctx.templates.delete(account, name):
        raise NotFound(f"no template {name!r}")
    return json_reply(None, 204)
