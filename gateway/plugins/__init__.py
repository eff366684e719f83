"""
Plugins that add channels and providers to smsgw.

Built-in channels and providers are declared in ``twisted/plugins/smsgw_*.py``
and found with `twisted.plugin.getPlugins`; an admin's own plugin files live in
the folder named by ``[gateway] plugins_dir`` and are loaded by
`gateway.discovery`.  Both declare the same objects, usually with the two
helpers here, which import the implementation only when it is used::

    from gateway.plugins import ProviderPlugin
    acme = ProviderPlugin("acme", "ACME SMS API", "mypackage.acme:AcmeProvider")
"""

from __future__ import annotations

import importlib

from twisted.plugin import IPlugin
from zope.interface import implementer

from gateway.interfaces import IChannelPlugin, IProviderPlugin

__all__ = ["ProviderPlugin", "ChannelPlugin", "load_object"]


def load_object(path: str):
    """``"package.module:name"`` → the object, imported now."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@implementer(IPlugin, IProviderPlugin)
class ProviderPlugin:
    """Declares provider type *type*, built by ``factory(name, options, sink, reactor)``."""

    def __init__(self, type: str, description: str, factory: str):
        self.type = type
        self.description = description
        self.factory = factory

    def provider(self, name, options, sink, reactor):
        return load_object(self.factory)(name, options, sink, reactor)

    def __repr__(self):
        return f"<ProviderPlugin {self.type!r} → {self.factory}>"


@implementer(IPlugin, IChannelPlugin)
class ChannelPlugin:
    """Declares channel *name*, whose `IChannel` is ``factory()``."""

    def __init__(self, name: str, factory: str):
        self.name = name
        self.factory = factory

    def channel(self):
        return load_object(self.factory)()

    def __repr__(self):
        return f"<ChannelPlugin {self.name!r} → {self.factory}>"
