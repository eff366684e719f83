"""
``/console/``: the web console, plain static files (``gateway/admin/static``)
served as they are — no build step.  The pages only talk to ``/admin/api``;
while the admin API is disabled (empty ``[admin] token``) the console says so
instead of showing a login that cannot work.
"""

from __future__ import annotations

from pathlib import Path

from twisted.web import pages, resource, static, util

__all__ = ["ConsoleFiles", "STATIC_DIR", "console_resource", "AdminRoot"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

_HEADERS = {
    b"content-security-policy": b"default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-cache",
}

_DISABLED = (b"<!doctype html><meta charset=utf-8><title>smsgw console</title>"
             b"<p>The smsgw console is disabled on this gateway: set <code>[admin] token</code> "
             b"in its configuration and restart it.</p>")


class ConsoleFiles(static.File):
    """The console's files, with strict security headers and no directory listings."""

    def __init__(self, path=str(STATIC_DIR), *args, enabled=lambda: True, **kwargs):
        super().__init__(path, *args, **kwargs)
        self.enabled = enabled

    def createSimilarFile(self, path):
        similar = super().createSimilarFile(path)
        similar.enabled = self.enabled
        return similar

    def directoryListing(self):
        return pages.notFound("No such file", "")

    def render(self, request):
        for name, value in _HEADERS.items():
            request.setHeader(name, value)
        if not self.enabled():
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"text/html; charset=utf-8")
            return _DISABLED
        return super().render(request)


def console_resource(enabled) -> resource.Resource:
    """``/console``: the files; ``/console`` without the slash redirects to ``/console/``."""
    files = ConsoleFiles(enabled=enabled)
    files.indexNames = ["index.html"]
    return files


class AdminRoot(resource.Resource):
    """``/admin`` and ``/admin/`` redirect to ``/console/`` (people type that first); children
    (``api``) are served as usual."""

    def getChild(self, path, request):
        if path == b"":
            return self
        return super().getChild(path, request)

    def render(self, request):
        return util.redirectTo(b"/console/", request)
