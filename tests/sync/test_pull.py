"""Pulling a remote node's archive: tagged, idempotent, resumable, and independent per node."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor

from gateway.archive.query import ArchiveQuery
from gateway.model import State
from gateway.sync.nodes import SyncNode, parse_nodes
from gateway.sync.puller import Puller
from tests.conftest import free_port
from tests.sync.conftest import TOKEN


def puller(archive, *nodes, **kw):
    return Puller(archive, list(nodes), reactor, interval=0, **kw)


@pytest_twisted.ensureDeferred
async def test_records_arrive_tagged_with_their_node_and_a_second_pull_adds_nothing(remote, archive):
    sent = await remote.send("one", "two\n~~~\nnote", "three")
    p = puller(archive, SyncNode("office", remote.url, TOKEN), page_size=2)
    [first] = await p.sync_all()
    assert (first.added, first.updated, first.error, first.pages) == (3, 0, None, 2)
    page = await archive.search(ArchiveQuery(origins=("office",)))
    assert [k for k, _ in page.items] == [f"{m.id}@office" for m in reversed(sent)]
    record = page.items[1][1]
    assert (record.text, record.comment, record.node, record.state) == ("two", "note", "remote-1", State.ACCEPTED)
    [again] = await p.sync_all()
    assert (again.added, again.updated, again.error) == (0, 0, None)
    assert len((await archive.search(ArchiveQuery())).items) == 3


@pytest_twisted.ensureDeferred
async def test_later_state_changes_are_pulled_as_updates(remote, archive):
    from gateway.store.tracker import Tracker
    from gateway.store.queues import Queues
    from gateway.model import IdGenerator, SendResult
    [m] = await remote.send("hello")
    p = puller(archive, SyncNode("office", remote.url, TOKEN))
    await p.sync_all()
    queues = Queues(remote.redis, reactor)
    await queues.renew("o", 30000)
    await queues.take("o", "up", 10)
    await queues.settle("o", [(m.id, SendResult.sent("u1"), 0)])
    await Tracker(remote.redis, IdGenerator(4), reactor, unmatched_retries=0).report("up", "u1", State.DELIVERED)
    [result] = await p.sync_all()
    assert (result.added, result.updated) == (0, 1)
    [(key, record)] = (await archive.search(ArchiveQuery(states=("DELIVERED",)))).items
    assert key == f"{m.id}@office" and [s for s, _ in record.history] == [State.ACCEPTED, State.ENROUTE,
                                                                          State.DELIVERED]
    assert (await archive.search(ArchiveQuery(states=("ACCEPTED",)))).items == []


@pytest_twisted.ensureDeferred
async def test_an_account_key_pulls_only_that_accounts_messages(remote, archive):
    await remote.send("mine", account="acme")
    await remote.send("not mine", account="shop")
    [result] = await puller(archive, SyncNode("office", remote.url, "key-acme")).sync_all()
    assert result.added == 1
    [(_, record)] = (await archive.search(ArchiveQuery())).items
    assert record.text == "mine"


@pytest_twisted.ensureDeferred
async def test_a_node_that_is_down_is_reported_and_does_not_stop_the_others(remote, archive):
    await remote.send("hi")
    down = SyncNode("down", f"http://127.0.0.1:{free_port()}", "k")
    wrong = SyncNode("wrong-key", remote.url, "nope")
    p = puller(archive, down, SyncNode("office", remote.url, TOKEN), wrong)
    results = {r.node: r for r in await p.sync_all()}
    assert results["office"].added == 1 and results["office"].error is None
    assert results["down"].error.startswith("unreachable")
    assert results["wrong-key"].error == "HTTP 401: invalid admin token or API key"
    status = {s["node"]: s for s in await p.status()}
    assert status["down"]["failures"] == 1 and status["down"]["last_error"].startswith("unreachable")
    assert status["office"]["last_added"] == 1 and status["office"]["failures"] == 0
    assert "nope" not in repr(status)


@pytest_twisted.ensureDeferred
async def test_a_failed_node_is_retried_with_backoff_on_its_own_schedule(archive):
    from twisted.internet import defer, task
    from gateway.sync.client import FeedClient
    clock = task.Clock()
    down = SyncNode("down", f"http://127.0.0.1:{free_port()}", "k")
    p = Puller(archive, [down], clock, interval=300, retry=10, client=FeedClient(reactor))
    pulled = [defer.Deferred(), defer.Deferred()]
    real = p.pull

    def pull(node):
        d = real(node)
        d.addCallback(lambda r: (reactor.callLater(0, pulled.pop(0).callback, r), r)[1])
        return d

    p.pull = pull
    waits = list(pulled)
    p.startService()
    try:
        clock.advance(0)
        first = await waits[0].addTimeout(10, reactor)
        assert first.error.startswith("unreachable") and p.next_run("down") == clock.seconds() + 10
        clock.advance(10)
        await waits[1].addTimeout(10, reactor)
        assert p.next_run("down") == clock.seconds() + 20
    finally:
        p.stopService()


def test_nodes_are_parsed_with_optional_names_and_keys_never_shown():
    nodes = parse_nodes(["office=http://10.0.0.5:8080/|k1", "https://gw.example:8443|k2"])
    assert [(n.name, n.url, n.key) for n in nodes] == [("office", "http://10.0.0.5:8080", "k1"),
                                                        ("gw.example:8443", "https://gw.example:8443", "k2")]
    assert "k1" not in repr(nodes)
    with pytest.raises(ValueError, match=r"'ftp://x\|\*\*\*'"):
        parse_nodes(["ftp://x|secret"])
    with pytest.raises(ValueError, match="expected"):
        parse_nodes(["http://x"])
    with pytest.raises(ValueError, match="twice"):
        parse_nodes(["a=http://x|1", "a=http://y|2"])
