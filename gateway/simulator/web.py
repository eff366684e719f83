"""
The simulator over HTTP, for tests, benchmarks and people:

``POST /mo``      ``from``, ``to``, ``text`` (form fields or a JSON object; optional
                  ``system_id``) → deliver_sm to a bound receiver / transceiver.
                  200 ``{"parts": n}`` once the ESME acknowledged every part; 503 when
                  no receiver is bound; 502 when the ESME refused; 400 for bad input.
``GET /stats``    the counters as JSON (``?destinations=no`` leaves out the
                  per-destination counts).
``POST /reset``   zero the counters.
"""

from __future__ import annotations

import json

from twisted.web import resource, server

from gateway.logs import Logger
from gateway.simulator.smsc import SMSC, NoReceiver

__all__ = ["simulator_resource"]


def _json(request, code: int, body) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(body).encode()


class _Stats(resource.Resource):
    isLeaf = True

    def __init__(self, smsc: SMSC):
        super().__init__()
        self.smsc = smsc

    def render_GET(self, request):
        flag = request.args.get(b"destinations", [b"yes"])[0].lower()
        return _json(request, 200, self.smsc.stats(destinations=flag not in (b"no", b"0", b"false")))


class _Reset(resource.Resource):
    isLeaf = True

    def __init__(self, smsc: SMSC):
        super().__init__()
        self.smsc = smsc

    def render_POST(self, request):
        self.smsc.reset()
        return _json(request, 200, {"reset": True})


class _MO(resource.Resource):
    isLeaf = True
    log = Logger()

    def __init__(self, smsc: SMSC):
        super().__init__()
        self.smsc = smsc

    def render_POST(self, request):
        try:
            fields = _fields(request)
            source, destination, text = fields["from"], fields["to"], fields["text"]
        except (KeyError, ValueError, UnicodeDecodeError) as e:
            return _json(request, 400, {"error": f"from, to and text are required: {e}"})
        gone = []
        request.notifyFinish().addErrback(lambda f: gone.append(f))
        d = self.smsc.inject_mo(source, destination, text, fields.get("system_id") or None)
        d.addCallbacks(self._sent, self._failed, (request, gone), None, (request, gone))
        return server.NOT_DONE_YET

    def _sent(self, parts: int, request, gone) -> None:
        _finish(request, gone, 200, {"parts": parts})

    def _failed(self, failure, request, gone) -> None:
        if failure.check(NoReceiver):
            _finish(request, gone, 503, {"error": str(failure.value)})
        else:
            _finish(request, gone, 502, {"error": f"the ESME did not take it: {failure.getErrorMessage()}"})


def _finish(request, gone: list, code: int, body) -> None:
    """Answer a deferred request, unless its client has gone away meanwhile."""
    if not gone:
        request.write(_json(request, code, body))
        request.finish()


def _fields(request) -> dict:
    """Form fields or a JSON object, as ``{name: str}``."""
    content_type = (request.getHeader(b"content-type") or b"").lower()
    if content_type.startswith(b"application/json"):
        body = json.loads(request.content.read() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the JSON body must be an object")
        return {str(k): str(v) for k, v in body.items()}
    return {k.decode(): v[0].decode("utf-8") for k, v in request.args.items()}


def simulator_resource(smsc: SMSC) -> resource.Resource:
    """The root resource: /mo, /stats, /reset."""
    root = resource.Resource()
    root.putChild(b"mo", _MO(smsc))
    root.putChild(b"stats", _Stats(smsc))
    root.putChild(b"reset", _Reset(smsc))
    return root
