"""
Several gateway processes on one Redis: clients spread over the nodes, the
work shared, a DLR for a message accepted on one node delivered to the
client's bind on another, and a node killed mid-send whose in-flight messages
the others send once its lease has lapsed.
"""

from __future__ import annotations

import pytest

from tests.reliability.scenarios import settle
from tests.reliability.support import Ledger, Load, redis_cli, wait_until
from tests.scale.cluster import Cluster

pytestmark = pytest.mark.slow

ACCOUNTS = {"load": {"max_connections": "9"}, "cross": {"max_connections": "2"}}


@pytest.mark.parametrize("size", [2, 3])
def test_nodes_share_the_work_and_receipts_find_the_bind_on_another_node(size):
    ledger = Ledger()
    with Cluster(size, accounts=ACCOUNTS) as cluster:
        nodes = cluster.nodes
        # "cross" sends through the first node only and receives on the last node only
        receiver = Load(nodes[-1].smpp_port, ledger, system_id="cross", mode="receiver", label="cross-rx")
        receiver.start()
        assert receiver.bound.wait(10), receiver.error
        loads = [receiver, Load(nodes[0].smpp_port, ledger, system_id="cross", mode="transmitter", total=300,
                                label="cross-tx")]
        loads += [Load(node.smpp_port, ledger, total=400, window=20, linger=True, label=f"load@gw{n + 1}")
                  for n, node in enumerate(nodes)]
        try:
            for load in loads[1:]:
                load.start()
            expected = 300 + 400 * size
            wait_until(lambda: ledger.acked_count >= expected, 60, f"{expected} submits acknowledged")
            numbers = settle(ledger, cluster.simulator)
        finally:
            for load in loads:
                load.stop()
        cross = [m for m, label in ledger.dlr_nodes.items() if "cross-rx" in label]
        assert len(cross) == 300  # every receipt of "cross" went to its bind on the other node
        assert numbers["acknowledged"] == expected
        assert numbers["upstream_duplicates"] == 0
        shares = [cluster.submitted_by(node) for node in nodes]
        assert all(shares), f"every node sends: {shares}"
        for node in nodes:
            assert not node.problems()
    print({"nodes": size, "sent_per_node": shares, **numbers})


def test_in_flight_messages_of_a_killed_node_are_sent_by_the_others():
    ledger = Ledger()
    # slow answers upstream keep a full window in flight on each node; lease 2 s
    with Cluster(2, accounts=ACCOUNTS, simulator={"response_delay": "0.5"}) as cluster:
        doomed, survivor = cluster.nodes
        load = Load(survivor.smpp_port, ledger, total=600, window=50, linger=True, label="client")
        load.start()
        try:
            inflight = "smsgw:q:up:inflight"

            def held_by_doomed():
                values = redis_cli(cluster.redis.url, "HVALS", inflight).split()
                return sum(1 for owner in values if owner.startswith("gw1#"))

            wait_until(lambda: held_by_doomed() >= 20, 30, "the first node holding messages in flight")
            held = held_by_doomed()
            doomed.kill()
            wait_until(lambda: ledger.acked_count >= 600, 60, "every submit acknowledged")
            numbers = settle(ledger, cluster.simulator, timeout=60)
            wait_until(lambda: held_by_doomed() == 0, 30, "nothing left in flight under the dead node")
        finally:
            load.stop()
        assert numbers["acknowledged"] == 600
        # what the dead node had sent without seeing the answer is sent again: at most its window
        assert numbers["upstream_duplicates"] <= 50
        assert not survivor.problems()
    print({"in_flight_at_kill": held, **numbers})
