"""
Built-in upstream providers (`gateway.interfaces.IProvider` implementations).

``null``: a provider that sends nowhere and reports every message delivered,
for tests and benchmarks.
"""

__all__ = ["null"]
