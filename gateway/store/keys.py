"""
Every Redis key and pub/sub channel name smsgw uses, in one place.

Each name is defined twice, side by side: as a Python function for the code
that talks to Redis directly, and as a Lua function in `LUA` (prepended to
every script) for the scripts that build keys from ids they read.  Keep the two
columns in step; ``tests/store/test_keys.py`` checks they agree.

All keys start with ``smsgw:``.  Account and provider names are used verbatim.

Messages
  ``smsgw:msg:{id}``            hash: the message.  Fields: ``d`` packed static
                                fields (`Message.static_blob`), ``t`` text,
                                ``s`` state, ``h`` history (``state@ms`` words),
                                ``p`` provider, ``ri`` index in the route, ``rt``
                                route (comma separated), ``n`` attempts, ``e``
                                error code, ``u`` upstream ids (space separated),
                                ``dn`` delivered parts (until all are), ``x``
                                validity (ms), ``r`` registered_delivery, ``a``
                                account,
                                ``pr`` priority, ``o`` owner while in flight
                                (written by earlier versions only: the owner is
                                in the queue's ``inflight`` hash),
                                ``dl`` 1 while dead-lettered, ``ad`` archive day
                                (archived messages), ``ao`` origin (records pulled
                                from other nodes), ``c`` comment (multipart),
                                ``rx`` receipt extra fields.  ``x``, ``r``, ``pr``
                                and ``rt`` are left out when at their default (no
                                validity, no receipt, priority 0, the route is the
                                provider alone)
  ``smsgw:node:seq``            counter: one number per process start (ids, owners)
  ``smsgw:up:{provider}:{uid}`` string with TTL: upstream id → our id
  ``smsgw:up:unmatched``        list (capped): receipts for unknown upstream ids

Accepting
  ``smsgw:tp:{account}:{sec}``  counter (expires): accepted this second
  ``smsgw:dd:{account}:{sha1}`` flag (expires): same text to same number seen
  ``smsgw:bal:{account}``       integer: balance in millionths (absent: unlimited)
  ``smsgw:mp:{account}:{sha1}`` hash: parts of a multipart message being assembled
  ``smsgw:mp:pending``          zset: multipart hash key → deadline ms

Queues (per provider)
  ``smsgw:q:{p}:ready``         zset: id → score (priority, then FIFO)
  ``smsgw:q:{p}:delayed``       zset: id → due ms
  ``smsgw:q:{p}:inflight``      hash: id → owner holding it
  ``smsgw:q:{p}:wake``          channel: published when messages become ready
  ``smsgw:providers``           set: provider names that have queues
  ``smsgw:leases``              zset: owner → lease expiry ms
  ``smsgw:dead``                zset: dead-lettered id → ms

Outbox (per account): reports (DLR, MO) waiting for the client
  ``smsgw:ob:{a}:ready``        zset: report id → created ms
  ``smsgw:ob:{a}:taken``        zset: report id → lease expiry ms
  ``smsgw:ob:{a}:items``        hash: report id → packed report
  ``smsgw:ob:{a}:undelivered``  list: packed reports kept past retention
  ``smsgw:ob:{a}:wake``         channel: published when a report is added
  ``smsgw:ob:accounts``         set: accounts with outbox entries
  ``smsgw:ob:seq``              counter: report ids
  ``smsgw:mo:number:{number}``  string: account that receives MO to this number
  ``smsgw:mo:orphans``          list: MO that no account claimed

Accounts
  ``smsgw:accounts``            set: account names
  ``smsgw:acct:{name}``         hash: account field → JSON value
  ``smsgw:apikey:{sha256}``     string: API key digest → account name

HTTP side (templates, smsc.ru-compatible request ids, callback signing)
  ``smsgw:tpl:{account}``       hash: template name → JSON {body, engine}
  ``smsgw:sc:{account}:{id}``   hash (expires): phone → message id of one send.php request
  ``smsgw:cb:secret``           string: master secret the callback signing secrets derive from

Channel providers (gateway/providers/telegram)
  ``smsgw:tg:{bot}:chat:{phone}``  string: the chat id of ``{phone}`` (digits, no '+') with
                                bot ``{bot}`` (its username, no '@'), set when the subscriber
                                shared their contact with the bot
  ``smsgw:tg:{bot}:phone:{chat}``  string: the phone linked to chat ``{chat}`` (for ``/stop``)
  ``smsgw:tg:{bot}:offset``     string: the next getUpdates offset of bot ``{bot}``

SMPP server
  ``smsgw:binds:{account}``     hash: ``{node}/{n}`` → JSON of a live bind (mode, peer,
                                since, flags, expires ms), refreshed while it lives
  ``smsgw:binds:{account}:kick`` channel: a bind id whose node must unbind it (replaced
                                by a newer bind of the login on another node)

Brute-force protection (gateway/store/throttle.py; shared by every node)
  ``smsgw:fail:{scope}:{key}``  counter (expires): failures of ``{key}`` (an address, a
                                system_id, a login name) in ``{scope}`` (``bind_ip``,
                                ``bind_account``, ``login_ip``, ``login_name``, ``admin_ip``)
  ``smsgw:block:{scope}:{key}`` string with TTL: the key is refused on every node until it
                                expires; the value is the failure count that blocked it

Archive (gateway/archive; written by the message scripts themselves, see common.lua)
  ``smsgw:ar:{day}``            zset (score 0, by member = by time): every archived message
                                of UTC day ``{day}`` (days since the epoch); a member is a
                                message id, or ``{id}@{origin}`` for a record pulled from
                                another node (its hash is ``smsgw:msg:{id}@{origin}``, with
                                ``ad`` its day and ``ao`` its origin)
  ``smsgw:ar:{day}:{f}:{v}``    zset: the same, for one value of a field: ``a`` account,
                                ``d`` MO only (MT is the rest), ``o`` origin (pulled records
                                only: a local member has no '@').  State and channel have no
                                index (a search checks them on the messages of a narrower
                                one).  Earlier versions also wrote ``n`` (one key per number:
                                searches still read them) and the first one ``s`` (current
                                state) and ``c`` (channel); retention removes their entries
  ``smsgw:ar:{day}:numbers``    zset (score 0, by member): the day's messages by number
                                (source and destination, no '+'), one member
                                ``{len}:{number}:{member}`` per number of a message, ``len``
                                being the number's length in bytes (so that one number's
                                entries are exactly those starting with its prefix, and lie
                                together in time order); one key a day, so that a batch
                                files all its numbers with one ZADD
  ``smsgw:ar:days``             zset: day → day, the days that have archived messages
  ``smsgw:ar:changes``          zset: local message id → sequence of its last change (the
                                feed other nodes pull from)
  ``smsgw:ar:seq``              counter: change sequence numbers
  ``smsgw:sync:{node}``         hash: pull state of a remote node (cursor, last run, counts)
  ``smsgw:sync:{node}:lock``    string with TTL: a pull of that node in progress
"""

from __future__ import annotations

__all__ = [
    "PREFIX", "LUA", "NODE_SEQ", "PROVIDERS", "LEASES", "DEAD", "OUTBOX_ACCOUNTS",
    "OUTBOX_SEQ", "ACCOUNTS", "MULTIPART_PENDING", "UNMATCHED_RECEIPTS", "MO_ORPHANS",
    "message", "upstream", "throughput", "dedup", "balance", "multipart",
    "ready", "delayed", "inflight", "queue_wake", "outbox_ready", "outbox_taken",
    "outbox_items", "outbox_undelivered", "outbox_wake", "mo_number", "account", "api_key",
    "binds", "binds_kick",
]

PREFIX = "smsgw:"

NODE_SEQ = PREFIX + "node:seq"
PROVIDERS = PREFIX + "providers"
LEASES = PREFIX + "leases"
DEAD = PREFIX + "dead"
OUTBOX_ACCOUNTS = PREFIX + "ob:accounts"
OUTBOX_SEQ = PREFIX + "ob:seq"
ACCOUNTS = PREFIX + "accounts"
MULTIPART_PENDING = PREFIX + "mp:pending"
UNMATCHED_RECEIPTS = PREFIX + "up:unmatched"
MO_ORPHANS = PREFIX + "mo:orphans"


def message(msg_id: str) -> str:
    return f"{PREFIX}msg:{msg_id}"


def upstream(provider: str, upstream_id: str) -> str:
    return f"{PREFIX}up:{provider}:{upstream_id}"


def throughput(account: str, second: int) -> str:
    return f"{PREFIX}tp:{account}:{second}"


def dedup(account: str, digest: str) -> str:
    return f"{PREFIX}dd:{account}:{digest}"


def balance(account: str) -> str:
    return f"{PREFIX}bal:{account}"


def multipart(account: str, digest: str) -> str:
    return f"{PREFIX}mp:{account}:{digest}"


def ready(provider: str) -> str:
    return f"{PREFIX}q:{provider}:ready"


def delayed(provider: str) -> str:
    return f"{PREFIX}q:{provider}:delayed"


def inflight(provider: str) -> str:
    return f"{PREFIX}q:{provider}:inflight"


def queue_wake(provider: str) -> str:
    return f"{PREFIX}q:{provider}:wake"


def outbox_ready(account_name: str) -> str:
    return f"{PREFIX}ob:{account_name}:ready"


def outbox_taken(account_name: str) -> str:
    return f"{PREFIX}ob:{account_name}:taken"


def outbox_items(account_name: str) -> str:
    return f"{PREFIX}ob:{account_name}:items"


def outbox_undelivered(account_name: str) -> str:
    return f"{PREFIX}ob:{account_name}:undelivered"


def outbox_wake(account_name: str) -> str:
    return f"{PREFIX}ob:{account_name}:wake"


def mo_number(number: str) -> str:
    return f"{PREFIX}mo:number:{number}"


def account(name: str) -> str:
    return f"{PREFIX}acct:{name}"


def api_key(digest: str) -> str:
    return f"{PREFIX}apikey:{digest}"


def binds(account_name: str) -> str:
    return f"{PREFIX}binds:{account_name}"


def binds_kick(account_name: str) -> str:
    return f"{PREFIX}binds:{account_name}:kick"


#: The same names for Lua scripts: ``K.message(id)`` etc.  Prepended to every script.
LUA = f"""
local K = {{}}
K.NODE_SEQ = '{NODE_SEQ}'
K.PROVIDERS = '{PROVIDERS}'
K.LEASES = '{LEASES}'
K.DEAD = '{DEAD}'
K.OUTBOX_ACCOUNTS = '{OUTBOX_ACCOUNTS}'
K.OUTBOX_SEQ = '{OUTBOX_SEQ}'
K.MULTIPART_PENDING = '{MULTIPART_PENDING}'
K.UNMATCHED_RECEIPTS = '{UNMATCHED_RECEIPTS}'
K.MO_ORPHANS = '{MO_ORPHANS}'
function K.message(id) return '{PREFIX}msg:' .. id end
function K.upstream(p, uid) return '{PREFIX}up:' .. p .. ':' .. uid end
function K.throughput(a, sec) return '{PREFIX}tp:' .. a .. ':' .. sec end
function K.dedup(a, digest) return '{PREFIX}dd:' .. a .. ':' .. digest end
function K.balance(a) return '{PREFIX}bal:' .. a end
function K.multipart(a, digest) return '{PREFIX}mp:' .. a .. ':' .. digest end
function K.ready(p) return '{PREFIX}q:' .. p .. ':ready' end
function K.delayed(p) return '{PREFIX}q:' .. p .. ':delayed' end
function K.inflight(p) return '{PREFIX}q:' .. p .. ':inflight' end
function K.queue_wake(p) return '{PREFIX}q:' .. p .. ':wake' end
function K.outbox_ready(a) return '{PREFIX}ob:' .. a .. ':ready' end
function K.outbox_taken(a) return '{PREFIX}ob:' .. a .. ':taken' end
function K.outbox_items(a) return '{PREFIX}ob:' .. a .. ':items' end
function K.outbox_undelivered(a) return '{PREFIX}ob:' .. a .. ':undelivered' end
function K.outbox_wake(a) return '{PREFIX}ob:' .. a .. ':wake' end
function K.mo_number(n) return '{PREFIX}mo:number:' .. n end
function K.account(name) return '{PREFIX}acct:' .. name end
function K.api_key(digest) return '{PREFIX}apikey:' .. digest end
function K.binds(a) return '{PREFIX}binds:' .. a end
function K.binds_kick(a) return '{PREFIX}binds:' .. a .. ':kick' end
K.ACCOUNTS = '{ACCOUNTS}'
"""


# -- HTTP side: templates, smsc.ru-compatible request ids ---------------------

__all__ += ["templates", "smsc_request", "smsc_request_seq", "CALLBACK_SECRET"]

CALLBACK_SECRET = PREFIX + "cb:secret"


def templates(account_name: str) -> str:
    return f"{PREFIX}tpl:{account_name}"


def smsc_request(account_name: str, request_id: str) -> str:
    return f"{PREFIX}sc:{account_name}:{request_id}"


def smsc_request_seq(account_name: str) -> str:
    """The last request id numbered for the account (send.php without ``id``)."""
    return f"{PREFIX}scseq:{account_name}"


LUA += f"""
function K.smsc_request(a, r) return '{PREFIX}sc:' .. a .. ':' .. r end
function K.smsc_request_seq(a) return '{PREFIX}scseq:' .. a end
"""


# -- Archive: per-day indexes of every message, the change feed, node sync ----

__all__ += ["ARCHIVE_DAYS", "ARCHIVE_CHANGES", "ARCHIVE_SEQ", "archive_all", "archive_by",
            "archive_numbers", "archive_number_entry", "sync_state", "sync_lock"]

ARCHIVE_DAYS = PREFIX + "ar:days"
ARCHIVE_CHANGES = PREFIX + "ar:changes"
ARCHIVE_SEQ = PREFIX + "ar:seq"


def archive_all(day: int) -> str:
    return f"{PREFIX}ar:{day}"


def archive_by(day: int, field: str, value) -> str:
    return f"{PREFIX}ar:{day}:{field}:{value}"


def archive_numbers(day: int) -> str:
    return f"{PREFIX}ar:{day}:numbers"


def archive_number_entry(number: str, member: str) -> str:
    """The member of `archive_numbers` that files archive ``member`` under ``number``."""
    return f"{len(number.encode())}:{number}:{member}"


def sync_state(node: str) -> str:
    return f"{PREFIX}sync:{node}"


def sync_lock(node: str) -> str:
    return f"{PREFIX}sync:{node}:lock"


LUA += f"""
K.ARCHIVE_DAYS = '{ARCHIVE_DAYS}'
K.ARCHIVE_CHANGES = '{ARCHIVE_CHANGES}'
K.ARCHIVE_SEQ = '{ARCHIVE_SEQ}'
function K.archive_all(day) return '{PREFIX}ar:' .. day end
function K.archive_by(day, f, v) return '{PREFIX}ar:' .. day .. ':' .. f .. ':' .. v end
function K.archive_numbers(day) return '{PREFIX}ar:' .. day .. ':numbers' end
function K.archive_number_entry(n, member) return string.format('%d', #n) .. ':' .. n .. ':' .. member end
function K.sync_state(n) return '{PREFIX}sync:' .. n end
function K.sync_lock(n) return '{PREFIX}sync:' .. n .. ':lock' end
"""


# -- channel providers: Telegram bot phone links ---------------------------------

__all__ += ["telegram_chat", "telegram_phone", "telegram_offset"]


def telegram_chat(bot: str, phone: str) -> str:
    return f"{PREFIX}tg:{bot}:chat:{phone}"


def telegram_phone(bot: str, chat_id) -> str:
    return f"{PREFIX}tg:{bot}:phone:{chat_id}"


def telegram_offset(bot: str) -> str:
    return f"{PREFIX}tg:{bot}:offset"


# -- brute-force protection: failure counts and blocks shared by every node -------

__all__ += ["failures", "failures_block"]


def failures(scope: str, key: str) -> str:
    return f"{PREFIX}fail:{scope}:{key}"


def failures_block(scope: str, key: str) -> str:
    return f"{PREFIX}block:{scope}:{key}"


LUA += f"""
function K.failures(s, k) return '{PREFIX}fail:' .. s .. ':' .. k end
function K.failures_block(s, k) return '{PREFIX}block:' .. s .. ':' .. k end
"""
