"""
The archive: every MT and MO message with its state history, kept in Redis and
searchable by period, direction, number, account, state, channel and origin
node; exported as CSV or JSON lines; trimmed after ``[archive] retention_days``.

The indexes are written by the store's own Lua scripts in the same run as the
message (``gateway/store/lua/common.lua``), so an acknowledged message is never
missing from the archive.  `query` searches them, `export` streams them to an
HTTP response, `retention` deletes what is past its time, `records` turns
messages into the JSON/CSV rows every reader of the archive sees.
"""

__all__ = ["records", "query", "export", "retention"]
