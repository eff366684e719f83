"""
The JSON API fuzzed from its own OpenAPI document (schemathesis, on
hypothesis): valid and invalid bodies, parameters and headers against a live
gateway process.  No request may get a 5xx (503 would only mean the store is
down, which it is not here), and the gateway logs no traceback.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from tests.reliability.support import API_KEY, Gateway, Simulator, gateway_ini, stop_stale_redis  # noqa: E402

pytestmark = pytest.mark.slow

KEY = f"{API_KEY}-api"


@pytest.fixture(scope="module")
def api_gateway():
    folder = Path(tempfile.mkdtemp(prefix="smsgw-api-"))
    simulator = Simulator()
    gateway = None
    try:
        config = gateway_ini(folder, upstream_port=simulator.smpp_port, accounts={"api": {"balance": "1000"}},
                             http={"failed_login_limit": "0", "failed_login_account_limit": "0"})
        gateway = Gateway(config)
        yield gateway
    finally:
        for process in (gateway, simulator):
            if process is not None:
                process.stop()
        stop_stale_redis(folder / "var")
        shutil.rmtree(folder, ignore_errors=True)


def operations(api_gateway):
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{api_gateway.http_port}/api/v1/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


# schemathesis' own pytest plugin does not run on this pytest; its strategies do, under hypothesis
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_server_errors(api_gateway, mode):
    base = f"http://127.0.0.1:{api_gateway.http_port}/api/v1"
    found = operations(api_gateway)
    assert len(found) >= 8, [op.label for op in found]
    for operation in found:
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(base_url=base, headers={"X-API-Key": KEY}, checks=[not_a_server_error])

        run()


def test_no_tracebacks_after_fuzzing(api_gateway):
    problems = api_gateway.problems()
    assert not problems, "\n".join(problems[:20])
