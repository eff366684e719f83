"""smsgw: a self-hosted SMS and messaging gateway on Twisted."""

__version__ = "0.1.0"
__all__ = ["__version__"]
