"""
Exporting the archive as CSV or JSON lines, streamed: the records matching a
query are read a page at a time and written to the HTTP response as they come,
so an export of any size takes the memory of one page.  The export is a
streaming producer registered on the request: when the client reads slowly
and the transport's buffer fills, Twisted pauses it and no further page is
read until the client catches up.  A client that goes away stops it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from gateway.archive.query import Archive, ArchiveQuery
from gateway.archive.records import CSV_COLUMNS, csv_row, record_json
from gateway.logs import Logger

__all__ = ["Export", "FORMATS"]

#: format name → (content type, file extension)
FORMATS = {
    "csv": (b"text/csv; charset=utf-8", "csv"),
    "jsonl": (b"application/x-ndjson; charset=utf-8", "jsonl"),
}


@implementer(IPushProducer)
class Export:
    """Writes every record of ``query`` to ``request`` in ``fmt``; `start` fires when done."""

    log = Logger()

    def __init__(self, archive: Archive, query: ArchiveQuery, fmt: str, request, local_node: str = "",
                 page_size: int = 500):
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        self.archive = archive
        self.query = replace(query, limit=page_size, cursor=query.cursor)
        self.fmt = fmt
        self.request = request
        self.local_node = local_node
        self.pages = 0
        self.rows = 0
        self._paused: defer.Deferred | None = None
        self._stopped = False

    # -- IPushProducer

    def pauseProducing(self):
        if self._paused is None:
            self._paused = defer.Deferred()

    def resumeProducing(self):
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.callback(None)

    def stopProducing(self):
        self._stopped = True
        self.resumeProducing()

    # -- writing

    def start(self, filename: str = "archive") -> defer.Deferred:
        content_type, extension = FORMATS[self.fmt]
        self.request.setHeader(b"content-type", content_type)
        self.request.setHeader(b"content-disposition",
                               f'attachment; filename="{filename}.{extension}"'.encode())
        self.request.notifyFinish().addErrback(lambda _: self.stopProducing())
        self.request.registerProducer(self, True)
        return defer.ensureDeferred(self._run())

    async def _run(self):
        try:
            if self.fmt == "csv":
                self.request.write(self._csv([list(CSV_COLUMNS)]))
            cursor = self.query.cursor
            while not self._stopped:
                page = await self.archive.search(replace(self.query, cursor=cursor))
                self.pages += 1
                if page.items:
                    self._write_page(page.items)
                if self._paused is not None:
                    await self._paused
                cursor = page.cursor
                if cursor is None:
                    break
        except Exception as e:  # the status line is gone: cut the response so it reads as incomplete
            self.log.warn("archive export stopped after {rows} rows: {error}", rows=self.rows, error=e)
            self.request.unregisterProducer()
            self.request.loseConnection()
            return self.rows
        self.request.unregisterProducer()
        if not self._stopped:
            self.request.finish()
        return self.rows

    def _write_page(self, items) -> None:
        records = [record_json(key, message, self.local_node) for key, message in items]
        self.rows += len(records)
        if self.fmt == "csv":
            self.request.write(self._csv(csv_row(r) for r in records))
        else:
            lines = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)
            self.request.write(("\n".join(lines) + "\n").encode("utf-8"))

    @staticmethod
    def _csv(rows) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue().encode("utf-8")
