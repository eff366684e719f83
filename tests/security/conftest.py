"""One attacked gateway for the whole package (see `support`); clean-up whatever happens."""

import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.reliability.support import stop_stale_redis
from tests.security.support import ports_of, secure_gateway


@pytest.fixture(scope="package")
def secure():
    folder = Path(tempfile.mkdtemp(prefix="smsgw-sec-"))
    gateway = simulator = None
    try:
        gateway, simulator, pki = secure_gateway(folder)
        yield SimpleNamespace(gateway=gateway, simulator=simulator, pki=pki, folder=folder,
                              smpp=ports_of(gateway, "SMPP"), http=ports_of(gateway, "http"))
    finally:
        for process in (gateway, simulator):
            if process is not None:
                process.stop()
        stop_stale_redis(folder / "var")
        shutil.rmtree(folder, ignore_errors=True)
