"""Scale-out benchmark: messages per second with their DLRs, one gateway node against two.

Each round starts an external redis-server, the SMSC simulator (``twistd
smsc-sim``) and ``--nodes`` ``twistd smsgw`` processes on that Redis; load
processes (``--clients`` per node, each with ``--window`` submits open) bind
to the nodes, submit ``--messages`` in all with registered_delivery and wait
for every DLR.  The rate is acknowledged messages over the time from the first
submit to the last DLR.  Everything shares this machine's cores, so the ratio
says how much a second node adds here, not on two machines.

Run from the repository root: ``python bench/scale.py [--messages 20000]``; the
last line is one JSON object: ``{"one_node": {...}, "two_nodes": {...}, "ratio": …}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path.pop(0)  # bench/http.py would shadow the standard library's http package
sys.path.insert(0, str(ROOT))


def load_role(args) -> None:
    """One load process: ``--clients`` binds to ``--port``; prints its counts and times as JSON."""
    from tests.reliability.support import Ledger, Load, wait_until

    ledger = Ledger(prefix=f"7{args.prefix:02d}")
    share = args.messages // args.clients
    # an account of its own: receipts go to any bind of the account, on any node
    loads = [Load(args.port, ledger, system_id=f"load{args.prefix}", window=args.window, total=share,
                  linger=True, label=f"c{n}") for n in range(args.clients)]
    print("READY", flush=True)
    sys.stdin.readline()  # go
    started = time.time()
    for load in loads:
        load.start()
    wait_until(lambda: ledger.acked_count + sum(ledger.refused.values()) >= share * args.clients, 600, "answers")
    wait_until(lambda: not ledger.missing_dlrs(), 600, "receipts")
    finished = time.time()
    for load in loads:
        load.stop()
    print(json.dumps({"acked": ledger.acked_count, "refused": sum(ledger.refused.values()),
                      "dlrs": len(ledger.dlrs), "started": started, "finished": finished}), flush=True)


def run_round(nodes: int, args) -> dict:
    from tests.scale.cluster import Cluster

    accounts = {f"load{n}": {"max_connections": "9"} for n in range(nodes)}
    with Cluster(nodes, accounts=accounts,
                 provider={"window": str(args.upstream_window)}) as cluster:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        per_node = args.messages // nodes
        children = []
        for n, node in enumerate(cluster.nodes):
            children.append(subprocess.Popen(
                [sys.executable, __file__, "--role", "load", "--port", str(node.smpp_port),
                 "--messages", str(per_node), "--clients", str(args.clients), "--window", str(args.window),
                 "--prefix", str(n)], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for child in children:
            assert child.stdout.readline().strip() == "READY"
        for child in children:
            child.stdin.write("\n")
            child.stdin.flush()
        results = [json.loads(child.communicate(timeout=900)[0].strip().splitlines()[-1]) for child in children]
        shares = [cluster.submitted_by(node) for node in cluster.nodes]
    acked = sum(r["acked"] for r in results)
    seconds = max(r["finished"] for r in results) - min(r["started"] for r in results)
    return {"nodes": nodes, "messages": acked, "refused": sum(r["refused"] for r in results),
            "dlrs": sum(r["dlrs"] for r in results), "seconds": round(seconds, 3),
            "messages_per_s": round(acked / seconds), "sent_per_node": shares}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=2, help="binds per node")
    parser.add_argument("--window", type=int, default=50, help="submits open per bind")
    parser.add_argument("--upstream-window", type=int, default=100)
    parser.add_argument("--role", choices=["bench", "load"], default="bench")
    parser.add_argument("--port", type=int)
    parser.add_argument("--prefix", type=int, default=0)
    args = parser.parse_args()
    if args.role == "load":
        return load_role(args)
    one = run_round(1, args)
    print("1 node :", json.dumps(one), flush=True)
    two = run_round(2, args)
    print("2 nodes:", json.dumps(two), flush=True)
    print(json.dumps({"one_node": one, "two_nodes": two, "cores": os.cpu_count(),
                      "ratio": round(two["messages_per_s"] / one["messages_per_s"], 2)}))


if __name__ == "__main__":
    main()
