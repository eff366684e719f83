"""
Finding plugins: the built-ins through `twisted.plugin.getPlugins` (from
``twisted/plugins/``), and an admin's files from the configured plugins folder.

The folder is read with importlib, one file at a time, rather than through
twisted.plugin's cache: a file that fails to import, or that declares nothing
providing the expected interface, is logged with its path and the reason and
skipped, and the folder needs no write access (no ``dropin.cache`` there).
Nothing is loaded from anywhere else.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from twisted.plugin import IPlugin, getPlugins
from zope.interface.exceptions import Invalid
from zope.interface.verify import verifyObject

from gateway.logs import Logger

__all__ = ["discover", "load_folder"]

log = Logger(namespace="gateway.discovery")


def load_folder(folder: Path, interface) -> list:
    """Every object providing IPlugin and *interface* in the ``*.py`` files of *folder*."""
    found = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = _import_file(path)
        if module is None:
            continue
        plugins = [obj for obj in vars(module).values() if IPlugin.providedBy(obj)]
        if not plugins:
            log.warn("plugin file {path} skipped: it declares no object providing IPlugin", path=str(path))
        for plugin in plugins:
            if interface.providedBy(plugin) and _valid(plugin, interface, path):
                found.append(plugin)
    return found


def _import_file(path: Path):
    name = f"gateway.plugins.admin_{path.stem}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        log.error("plugin file {path} skipped: it failed to import: {error}",
                  path=str(path), error=f"{type(e).__name__}: {e}")
        return None
    return module


def _valid(plugin, interface, where) -> bool:
    try:
        verifyObject(interface, plugin)
    except Invalid as e:
        log.error("plugin {plugin!r} in {path} skipped: it does not provide {interface}: {error}",
                  plugin=plugin, path=str(where), interface=interface.__name__, error=" ".join(str(e).split()))
        return False
    return True


def discover(interface, plugins_dir: Path | str | None = None, key: str = "name") -> dict:
    """
    The plugins providing *interface*, by their *key* attribute: the built-ins
    first, then the folder's (a folder plugin with a built-in's name replaces it,
    and says so in the log).
    """
    import twisted.plugins

    result = {}
    for plugin in getPlugins(interface, twisted.plugins):
        if _valid(plugin, interface, getattr(plugin, "__module__", "twisted.plugins")):
            result[getattr(plugin, key)] = plugin
    if plugins_dir:
        for plugin in load_folder(Path(plugins_dir), interface):
            name = getattr(plugin, key)
            if name in result:
                log.warn("plugin {name!r} from {folder} replaces the built-in one", name=name, folder=str(plugins_dir))
            result[name] = plugin
    return result
