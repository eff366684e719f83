"""
The smsc.ru-compatible HTTP API: ``/sys/send.php``, ``/sys/status.php`` and
``/sys/balance.php`` with smsc.ru's parameters, response formats (``fmt``
0 text, 1 numbers, 2 XML, 3 JSON) and error numbers, so an existing client,
billing system or ERP integration works by changing only the host.  What is
not implemented is listed in README.md, section "smsc.ru-compatible API".
"""

__all__ = ["params", "formats", "resources"]
