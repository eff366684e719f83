"""
The long variants of the reliability and scale scenarios.  Not part of the
default run (``norecursedirs`` in setup.cfg); run them with

    python -m pytest tests/soak -s

``SMSGW_SOAK_CYCLES`` (default 20) sets the number of SIGKILL cycles.  The
outages last their full length here: Redis 10 s, the upstream 30 s.
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.scenarios import crash_cycles, redis_outage, silent_client, upstream_outage

pytestmark = [pytest.mark.soak, pytest.mark.slow]


def test_many_sigkill_cycles(datadir):
    cycles = int(os.environ.get("SMSGW_SOAK_CYCLES", "20"))
    numbers = crash_cycles(datadir, cycles=cycles, acks_per_cycle=(500, 8000))
    assert numbers["reached_upstream"] == numbers["acknowledged"]


def test_redis_down_for_ten_seconds(datadir):
    redis_outage(datadir, outage=10.0)


def test_upstream_down_for_thirty_seconds(datadir):
    upstream_outage(datadir, outage=30.0)


def test_silent_client_with_a_full_window(datadir):
    silent_client(datadir, messages=3000, window=100, response_timeout=10.0)
