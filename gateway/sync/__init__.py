"""
Node sync: a gateway pulls the archives of other smsgw nodes (``[sync] nodes``:
URL and API key each) into its own, tagged with the node they came from, so
one central node can show every message sent and received anywhere (seed 000,
the "SMS server" that collects the archives of sender workstations).

`feed` is the serving side (``GET /sync/v1/changes``: a node's change feed),
`client` fetches it, `puller` keeps a cursor per remote node and pulls every
``[sync] interval`` seconds, on ``smsgw sync`` and on the admin API's request.
Pulling twice adds nothing: records are stored under their origin and id.
"""

__all__ = ["nodes", "feed", "client", "puller"]
