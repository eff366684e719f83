"""Exports are streamed page by page, and stop reading while the client is not keeping up."""

from __future__ import annotations

import csv
import io
import json

import pytest_twisted
from twisted.internet import defer

from gateway.archive.export import Export
from gateway.archive.query import ArchiveQuery
from tests.archive.conftest import T0, send, sms


class FakeRequest:
    """Just enough of a twisted.web request to be the export's consumer."""

    def __init__(self):
        self.headers, self.writes, self.producer = {}, [], None
        self.finished = self.lost = False
        self._finish = defer.Deferred()

    def setHeader(self, name, value):
        self.headers[name] = value

    def write(self, data):
        self.writes.append(data)

    def registerProducer(self, producer, streaming):
        assert streaming
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    def notifyFinish(self):
        return self._finish

    def finish(self):
        self.finished = True

    def loseConnection(self):
        self.lost = True

    @property
    def body(self) -> bytes:
        return b"".join(self.writes)


@pytest_twisted.ensureDeferred
async def test_csv_export_is_written_page_by_page(archive, acceptor, clock):
    sent = await send(acceptor, clock, *[sms(text=f"n{i}, \"quoted\"\n~~~\nc{i}") for i in range(45)], at=T0)
    request = FakeRequest()
    export = Export(archive, ArchiveQuery(newest_first=False), "csv", request, page_size=10)
    rows = await export.start("x")
    assert rows == 45 and request.finished and len(request.writes) == 1 + 5
    assert request.headers[b"content-disposition"] == b'attachment; filename="x.csv"'
    table = list(csv.DictReader(io.StringIO(request.body.decode())))
    assert [r["id"] for r in table] == [m.id for m in sent]
    assert (table[3]["text"], table[3]["comment"], table[3]["state"]) == ('n3, "quoted"', "c3", "ACCEPTED")


@pytest_twisted.ensureDeferred
async def test_jsonl_export_waits_while_paused(archive, acceptor, clock, monkeypatch):
    await send(acceptor, clock, *[sms(text=f"n{i}") for i in range(30)], at=T0)
    request = FakeRequest()
    export = Export(archive, ArchiveQuery(), "jsonl", request, page_size=10)
    searched = []
    real = archive.search

    async def counting(query):
        searched.append(query.cursor)
        page = await real(query)
        if len(searched) == 1:
            request.producer.pauseProducing()   # as a full transport buffer would
            gate.callback(None)
        return page

    gate = defer.Deferred()
    monkeypatch.setattr(archive, "search", counting)
    done = export.start()
    await gate
    for _ in range(20):   # give the reactor turns: nothing more may be read while paused
        await deferLater(0)
    assert len(searched) == 1 and not request.finished
    request.producer.resumeProducing()
    assert await done == 30 and request.finished
    lines = request.body.decode().splitlines()
    assert len(lines) == 30 and json.loads(lines[0])["text"] == "n29"


@pytest_twisted.ensureDeferred
async def test_a_client_that_goes_away_stops_the_export(archive, acceptor, clock):
    await send(acceptor, clock, *[sms() for _ in range(30)], at=T0)
    request = FakeRequest()
    export = Export(archive, ArchiveQuery(), "jsonl", request, page_size=10)
    export.pauseProducing()
    done = export.start()
    request._finish.errback(ConnectionError("gone"))
    assert await done == 10 and not request.finished


def deferLater(seconds):
    from twisted.internet import reactor, task
    return task.deferLater(reactor, seconds, lambda: None)
