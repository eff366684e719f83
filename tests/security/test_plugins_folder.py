"""Plugin code runs only from the configured ``plugins_dir``: not from the working directory's
``./plugins`` (the default folder) or ``./twisted/plugins``, not from the data directory."""

from __future__ import annotations

import pytest

from tests.reliability.support import Twistd, gateway_ini, stop_stale_redis

pytestmark = pytest.mark.slow

PLUGIN = '''
import pathlib
pathlib.Path({marker!r}).write_text("imported")
from gateway.plugins import ProviderPlugin
{name} = ProviderPlugin({name!r}, "test plugin", "gateway.providers.null:NullProvider")
'''


def plant(folder, name, markers):
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder.parent / f"{name}.ran"
    (folder / f"smsgw_{name}.py").write_text(PLUGIN.format(marker=str(marker), name=name))
    markers[name] = marker


def test_only_the_configured_plugins_folder_is_loaded(datadir):
    markers = {}
    work = datadir / "work"
    plant(datadir / "allowed", "allowed", markers)            # the configured folder
    plant(work / "plugins", "cwd_default", markers)            # ./plugins of the working directory
    plant(work / "twisted" / "plugins", "cwd_twisted", markers)  # a twisted/plugins package in it
    plant(datadir / "var" / "plugins", "in_datadir", markers)  # next to the data
    config = gateway_ini(datadir, accounts={}, gateway={"plugins_dir": str(datadir / "allowed")})
    gateway = Twistd("smsgw", "--config", str(config), cwd=work)
    try:
        gateway.port_of("http")
        assert markers["allowed"].exists(), gateway.collect()
        for name in ("cwd_default", "cwd_twisted", "in_datadir"):
            assert not markers[name].exists(), f"plugin {name} was imported"
    finally:
        gateway.stop()
        stop_stale_redis(datadir / "var")
