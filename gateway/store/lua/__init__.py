"""Lua scripts run inside Redis (loaded by `gateway.store.scripting`)."""

__all__: list[str] = []
