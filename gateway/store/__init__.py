"""
The Redis store: key names (`keys`), the accept path (`accept`, `multipart`),
per-provider queues (`queues`), receipts and MO (`tracker`), the per-account
outbox of reports (`outbox`), accounts (`accounts`), and the embedded
redis-server and connection (`embedded`, `connection`).
"""

__all__ = ["keys", "accept", "multipart", "queues", "tracker", "outbox", "accounts",
           "messages", "scripting", "connection", "embedded"]
