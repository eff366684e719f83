"""
``GET /sync/v1/changes?after=<seq>&limit=<n>``: this node's archive as a change
feed, for other nodes to pull (`gateway.sync.puller`).

Every local message is on the feed once, at the sequence number of its last
change (accepted, sent, delivered…), so a puller that keeps the last ``next``
it was given gets each new message and each later state change exactly once
more.  Records pulled from other nodes are not on the feed (no loops between
nodes that pull each other).  The admin token sees every account; an account's
API key sees that account's messages only.

Answer: ``{"node", "records": [archive records], "next": seq, "head": seq, "more": bool}``.
"""

from __future__ import annotations

from twisted.web import resource

from gateway.admin.web import arg, respond
from gateway.archive.records import record_json
from gateway.http.errors import BadParameters, ServiceUnavailable
from gateway.store import keys
from gateway.store.messages import as_text
from gateway.store.scripting import call

__all__ = ["ChangesResource", "MAX_LIMIT"]

MAX_LIMIT = 1000


class ChangesResource(resource.Resource):
    """The change feed; see the module docstring.

    ``context`` has ``archive``, ``auth`` (`AdminAuth`) and ``node``; until it is
    set (the engine is starting) the feed answers 503.
    """

    isLeaf = True

    def __init__(self, context=None):
        super().__init__()
        self.context = context

    def render_GET(self, request):
        return respond(request, lambda: self.changes(request))

    async def changes(self, request):
        ctx = self.context
        if ctx is None:
            raise ServiceUnavailable("the gateway is starting")
        caller = await ctx.auth.caller(request)
        after = _whole(arg(request, "after", "0"), "after", 0, 2 ** 53)
        limit = _whole(arg(request, "limit", "500"), "limit", 1, MAX_LIMIT)
        account = "" if caller.admin else caller.account
        rows, last, examined = await ctx.archive.changes(after, limit, account)
        head = int(as_text(await call(ctx.archive.redis, ctx.archive.clock, "get", keys.ARCHIVE_SEQ)) or 0)
        return 200, {"node": ctx.node, "records": [record_json(k, m, ctx.node) for k, _, m in rows],
                     "next": last, "head": head, "more": examined > 0 and last < head}


def _whole(raw: str, name: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadParameters(f"{name} is a whole number from {low} to {high}", field=name)
    return int(raw)
