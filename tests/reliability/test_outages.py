"""
Outages under load: Redis away, the upstream SMSC away, a client that stops
answering.  CI runs them shorter than the soak variant (tests/soak): the
behaviour under test (temporary refusals, reconnects, queueing, draining) is
the same at 4 s as at 10 s or 30 s; the durations only change how much piles up.
"""

import pytest

from tests.reliability.scenarios import redis_outage, silent_client, upstream_outage


@pytest.mark.slow
def test_redis_outage_refuses_temporarily_and_loses_nothing(datadir):
    numbers = redis_outage(datadir, outage=4.0)
    assert numbers["temporary_refusals_during"] > 0


@pytest.mark.slow
def test_upstream_outage_queues_and_drains_without_loss(datadir):
    numbers = upstream_outage(datadir, outage=5.0)
    assert numbers["refused_binds"] >= 2


@pytest.mark.slow
def test_client_that_stops_answering_gets_its_receipts_after_reconnecting(datadir):
    numbers = silent_client(datadir)
    assert numbers["waited_in_outbox"] > 0
