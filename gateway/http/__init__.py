"""HTTP: the health page, the JSON and smsc.ru-compatible APIs, inbound DLRs, outgoing callbacks.

``site`` builds the resource tree, ``wiring`` puts the APIs and the callback
worker into a running gateway, ``context`` holds the store objects they use.
"""

__all__ = ["site", "wiring", "context", "auth", "errors", "responses", "sending", "signing",
           "callbacks", "dlr", "smsc", "api"]
