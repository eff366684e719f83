"""SIGKILL of a loaded gateway, restarted on the same data directory: nothing acknowledged is lost."""

import pytest

from tests.reliability.scenarios import crash_cycles


@pytest.mark.slow
def test_acknowledged_messages_and_receipts_survive_sigkill_cycles(datadir):
    numbers = crash_cycles(datadir, cycles=3)
    assert numbers["reached_upstream"] == numbers["acknowledged"]
