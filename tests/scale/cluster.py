"""Several ``twistd smsgw`` nodes on one external redis-server, for the scale-out tests and
``bench/scale.py``."""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from pathlib import Path

from tests.conftest import RedisServer, free_port
from tests.reliability.support import Gateway, Simulator, gateway_ini

__all__ = ["Cluster", "ADMIN_TOKEN"]

ADMIN_TOKEN = "scale-admin-token"


class Cluster:
    """``size`` gateway nodes (gw1, gw2, …) sharing a redis-server and an upstream simulator."""

    def __init__(self, size: int, accounts: dict | None = None, simulator: dict | None = None,
                 gateway: dict | None = None, provider: dict | None = None, folder: Path | None = None):
        self.folder = folder or Path(tempfile.mkdtemp(prefix="smsgw-scale-"))
        self.processes: list = []
        self.redis = RedisServer(self.folder / "redis", free_port())
        self.redis.datadir.mkdir(parents=True, exist_ok=True)
        self.redis.start()
        try:
            self.simulator = Simulator(**(simulator or {}))
            self.processes.append(self.simulator)
            self.nodes: list[Gateway] = []
            for n in range(1, size + 1):
                self.start_node(n, accounts, gateway, provider)
        except BaseException:
            self.stop()
            raise

    def start_node(self, n: int, accounts=None, gateway=None, provider=None) -> Gateway:
        config = gateway_ini(self.folder / f"gw{n}", node=f"gw{n}", redis_url=self.redis.url,
                             upstream_port=self.simulator.smpp_port, accounts=accounts, gateway=gateway,
                             provider=provider, extra=f"[admin]\ntoken = {ADMIN_TOKEN}\n")
        node = Gateway(config)
        node.wait_for(r"bound as transceiver smsgw", timeout=30)
        self.nodes.append(node)
        self.processes.append(node)
        return node

    def submitted_by(self, node: Gateway) -> int:
        """Messages the node's upstream connector has submitted (admin API)."""
        request = urllib.request.Request(f"http://127.0.0.1:{node.http_port}/admin/api/connectors/up",
                                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["counters"]["submitted"]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.redis.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
