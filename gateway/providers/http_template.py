"""
The data side of the HTTP-template provider: its ``[provider:NAME]`` options
(validated, with an error naming the key), the request a message becomes,
how a response is judged, and how an inbound DLR maps to a `State`.

A template is a parameter string (``login=me&phones=%sms%&mes=%text%``) or,
for ``method = json``, a JSON document whose strings may hold placeholders.
Placeholders: ``%sms%`` (the number; ``+`` kept only with
``strip_plus = no``), ``%text%``, ``%sender%``, ``%id%`` (our message id),
``%login%``, ``%password%``, ``%secret%``, ``%md5%``.  Literal parts of a
parameter template are URL-decoded first, so ``phone=%2B%sms%`` sends
``+7900…`` as the preset of SemySMS writes it.

MD5 signature: ``md5 = <template>`` makes ``%md5%`` the hex MD5 of that
template filled in (``md5 = %text%%sms%%secret%``); or ``md5_param = sign``
appends ``sign=`` MD5 of the other parameter values in template order
followed by ``secret``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlencode, urlsplit

from gateway.model import State

__all__ = ["HttpOptions", "ProviderOptionError", "parse_options", "build_request", "judge",
           "json_path", "dlr_state", "OutgoingRequest", "Verdict"]

PLACEHOLDER = re.compile(r"%(sms|text|sender|id|login|password|secret|md5)%")
METHODS = ("get", "post", "json")
# smsc.ru-style numeric statuses and the receipt words of DLR texts, the default DLR map.
DEFAULT_DLR_MAP = {"-1": State.ACCEPTED, "0": State.ENROUTE, "1": State.DELIVERED, "2": State.DELIVERED,
                   "3": State.EXPIRED, "20": State.UNDELIVERABLE, "22": State.UNDELIVERABLE,
                   "23": State.REJECTED, "24": State.REJECTED, "25": State.UNDELIVERABLE,
                   "delivered": State.DELIVERED, "undelivered": State.UNDELIVERABLE,
                   "sent": State.ENROUTE, "failed": State.UNDELIVERABLE, "expired": State.EXPIRED,
                   "rejected": State.REJECTED}


class ProviderOptionError(ValueError):
    """A bad ``[provider:NAME]`` option: ``key`` and what is wrong with its ``value``."""

    def __init__(self, provider: str, key: str, value, problem: str):
        self.provider, self.key, self.value, self.problem = provider, key, value, problem
        super().__init__(f"[provider:{provider}] {key} = {value!r}: {problem}")


@dataclass(frozen=True)
class HttpOptions:
    """The validated options of one HTTP-template provider."""

    url: str
    method: str = "post"
    params: str = ""
    charset: str = "utf-8"
    strip_plus: bool = True
    login: str = ""
    password: str = ""
    secret: str = ""
    sender: str = ""
    md5: str = ""
    md5_param: str = ""
    basic_user: str = ""
    basic_password: str = ""
    headers: tuple = ()
    success_status: frozenset = frozenset()
    success_regex: re.Pattern | None = None
    success_json: tuple = ()
    id_regex: re.Pattern | None = None
    id_json: str = ""
    retries: int = 2
    retry_delay: float = 1.0
    timeout: float = 30.0
    concurrency: int = 10
    dlr_id: str = "id"
    dlr_status: str = "status"
    dlr_error: str = ""
    dlr_map: dict = field(default_factory=lambda: dict(DEFAULT_DLR_MAP))
    dlr_token: str = ""


_KNOWN = set(HttpOptions.__dataclass_fields__) | {"type"}


def parse_options(provider: str, options: dict) -> HttpOptions:
    """Validate the string options of ``[provider:NAME] type = http``; raises `ProviderOptionError`."""
    def bad(key, problem):
        return ProviderOptionError(provider, key, options.get(key), problem)

    for key in options:
        if key not in _KNOWN:
            raise bad(key, "unknown key; known keys: " + ", ".join(sorted(_KNOWN - {"type"})))
    get = lambda key, default="": str(options.get(key, default)).strip()  # noqa: E731
    url = get("url")
    if not re.match(r"^https?://[^\s/]+", url):
        raise bad("url", "expected an http:// or https:// URL")
    method = get("method", "post").lower()
    if method not in METHODS:
        raise bad("method", "expected get, post (form) or json (POST with a JSON body)")
    values = dict(url=url, method=method, params=str(options.get("params", "")).strip())
    _check_params(values["params"], method, bad)
    for key in ("login", "password", "secret", "sender", "md5", "md5_param", "basic_user",
                "basic_password", "id_json", "dlr_error", "dlr_token"):
        values[key] = get(key)
    values["dlr_id"], values["dlr_status"] = get("dlr_id", "id"), get("dlr_status", "status")
    if bool(values["basic_user"]) != bool(values["basic_password"]):
        raise bad("basic_user" if not values["basic_user"] else "basic_password",
                  "basic auth needs both basic_user and basic_password")
    values["charset"] = _charset(get("charset", "utf-8"), bad)
    values["strip_plus"] = _boolean(get("strip_plus", "yes"), "strip_plus", bad)
    values["headers"] = _headers(str(options.get("headers", "")), bad)
    values["success_status"] = _statuses(get("success_status"), bad)
    values["success_regex"] = _regex(get("success_regex"), "success_regex", bad)
    values["id_regex"] = _regex(get("id_regex"), "id_regex", bad)
    if values["id_regex"] is not None and values["id_regex"].groups < 1:
        raise bad("id_regex", "needs a group: the upstream id is group 1")
    values["success_json"] = _success_json(get("success_json"))
    values["retries"] = _number(get("retries", "2"), "retries", bad, int, 0, 10)
    values["retry_delay"] = _number(get("retry_delay", "1"), "retry_delay", bad, float, 0, 300)
    values["timeout"] = _number(get("timeout", "30"), "timeout", bad, float, 0.1, 600)
    values["concurrency"] = _number(get("concurrency", "10"), "concurrency", bad, int, 1, 10000)
    values["dlr_map"] = _dlr_map(get("dlr_map"), bad)
    return HttpOptions(**values)


def _check_params(params: str, method: str, bad) -> None:
    if method == "json" and params:
        try:
            json.loads(params)
        except json.JSONDecodeError as e:
            raise bad("params", f"method json needs a JSON template: {e}") from None
    elif params and any("=" not in pair for pair in params.split("&") if pair):
        raise bad("params", "expected name=value pairs joined by &, e.g. phones=%sms%&mes=%text%")


def _charset(value, bad) -> str:
    try:
        "".encode(value)
    except LookupError:
        raise bad("charset", "unknown character set") from None
    return value


def _boolean(value: str, key: str, bad) -> bool:
    if value.lower() in ("yes", "true", "on", "1"):
        return True
    if value.lower() in ("no", "false", "off", "0"):
        return False
    raise bad(key, "expected yes or no")


def _headers(value: str, bad) -> tuple:
    headers = []
    for line in value.splitlines():
        if not line.strip():
            continue
        name, sep, content = line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9\-]+", name.strip()):
            raise bad("headers", "expected one 'Name: value' per line")
        headers.append((name.strip(), content.strip()))
    return tuple(headers)


def _statuses(value: str, bad) -> frozenset:
    if not value:
        return frozenset()
    try:
        codes = frozenset(int(v) for v in re.split(r"[,\s]+", value) if v)
    except ValueError:
        raise bad("success_status", "expected HTTP status codes, e.g. 200, 201") from None
    if not all(100 <= c <= 599 for c in codes):
        raise bad("success_status", "expected HTTP status codes between 100 and 599")
    return codes


def _regex(value: str, key: str, bad):
    if not value:
        return None
    try:
        return re.compile(value)
    except re.error as e:
        raise bad(key, f"not a regular expression: {e}") from None


def _success_json(value: str) -> tuple:
    """``path`` (must be truthy) or ``path=value`` (must equal, compared as text)."""
    if not value:
        return ()
    path, sep, expected = value.partition("=")
    return (path.strip(), expected.strip() if sep else None)


def _number(value: str, key: str, bad, kind, low, high):
    try:
        number = kind(value)
    except ValueError:
        raise bad(key, f"expected a number from {low} to {high}") from None
    if not low <= number <= high:
        raise bad(key, f"expected a number from {low} to {high}")
    return number


def _dlr_map(value: str, bad) -> dict:
    """``DELIVERED=1,delivered; UNDELIVERABLE=20,failed`` → {"1": DELIVERED, …} on top of the defaults."""
    mapping = dict(DEFAULT_DLR_MAP)
    for group in value.split(";"):
        if not group.strip():
            continue
        name, sep, words = group.partition("=")
        state = State.__members__.get(name.strip().upper())
        if not sep or state is None:
            raise bad("dlr_map", "expected STATE=value,value; … with states " + ", ".join(State.__members__))
        for word in words.split(","):
            if word.strip():
                mapping[word.strip().lower()] = state
    return mapping


# -- requests ------------------------------------------------------------------


@dataclass
class OutgoingRequest:
    """One upstream HTTP request: method, URL, body, headers (all ready to send)."""

    method: str
    url: str
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # the placeholder values (for paths in judge)


def placeholder_values(options: HttpOptions, message) -> dict:
    number = message.destination.lstrip("+")
    return {"sms": number if options.strip_plus else "+" + number, "text": message.text,
            "sender": message.source or options.sender, "id": message.id, "login": options.login,
            "password": options.password, "secret": options.secret, "md5": ""}


def fill(template: str, values: dict, literal=lambda s: s) -> str:
    """``template`` with placeholders replaced; ``literal`` transforms the text between them."""
    out, last = [], 0
    for match in PLACEHOLDER.finditer(template):
        out.append(literal(template[last:match.start()]))
        out.append(values[match.group(1)])
        last = match.end()
    out.append(literal(template[last:]))
    return "".join(out)


def build_request(options: HttpOptions, message) -> OutgoingRequest:
    """The request for one message, signature and auth included."""
    values = placeholder_values(options, message)
    if options.md5:
        values["md5"] = hashlib.md5(fill(options.md5, values).encode(options.charset)).hexdigest()
    headers = {name: fill(value, values) for name, value in options.headers}
    if options.method == "json":
        body = json.dumps(_fill_json(json.loads(options.params or "{}"), values), ensure_ascii=False)
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return OutgoingRequest("POST", _url(options, values), body.encode("utf-8"), headers, values)
    pairs = [(unquote(name), fill(value, values, unquote))
             for name, _, value in (pair.partition("=") for pair in options.params.split("&") if pair)]
    if options.md5_param:
        signed = "".join(value for _, value in pairs) + options.secret
        pairs.append((options.md5_param, hashlib.md5(signed.encode(options.charset)).hexdigest()))
    query = urlencode(pairs, encoding=options.charset)
    url = _url(options, values)
    if options.method == "get":
        joiner = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
        return OutgoingRequest("GET", url + (joiner + query if query else ""), None, headers, values)
    headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return OutgoingRequest("POST", url, query.encode("ascii"), headers, values)


def _url(options: HttpOptions, values: dict) -> str:
    """The URL, placeholders in it (``…/send/%id%``) percent-encoded."""
    return fill(options.url, {k: quote(v, safe="") for k, v in values.items()})


def _fill_json(node, values):
    if isinstance(node, str):
        return fill(node, values)
    if isinstance(node, list):
        return [_fill_json(item, values) for item in node]
    if isinstance(node, dict):
        return {fill(k, values): _fill_json(v, values) for k, v in node.items()}
    return node


# -- responses -----------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """How an upstream answered: ``ok`` with ``upstream_id``, else ``temporary`` or not, and why."""

    ok: bool
    upstream_id: str = ""
    temporary: bool = False
    reason: str = ""


def json_path(document, path: str):
    """``a.b.0.c`` in a parsed JSON document; None when any step is missing."""
    node = document
    for step in path.split("."):
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and step.lstrip("-").isdigit() and -len(node) <= int(step) < len(node):
            node = node[int(step)]
        else:
            return None
        if node is None:
            return None
    return node


def judge(options: HttpOptions, status: int, body: str, values: dict) -> Verdict:
    """Apply the success rules (status, regex, JSON path) and extract the upstream id."""
    if status >= 500 or status in (408, 429):
        return Verdict(False, temporary=True, reason=f"HTTP {status}")
    wanted = options.success_status or range(200, 300)
    if status not in wanted:
        return Verdict(False, reason=f"HTTP {status}: {body[:200]}")
    if options.success_regex is not None and not options.success_regex.search(body):
        return Verdict(False, reason=f"response does not match success_regex: {body[:200]}")
    document = None
    if options.success_json or options.id_json:
        try:
            document = json.loads(body)
        except json.JSONDecodeError:
            return Verdict(False, reason=f"response is not JSON: {body[:200]}")
    if options.success_json:
        path, expected = options.success_json
        found = json_path(document, fill(path, values))
        if expected is None and not found or expected is not None and str(found) != expected:
            return Verdict(False, reason=f"{path} is {found!r}: {body[:200]}")
    return Verdict(True, _upstream_id(options, body, document, values) or values["id"])


def _upstream_id(options: HttpOptions, body: str, document, values: dict) -> str:
    if options.id_regex is not None:
        match = options.id_regex.search(body)
        return match.group(1) if match else ""
    if options.id_json:
        found = json_path(document, fill(options.id_json, values))
        return "" if found is None or isinstance(found, (dict, list)) else str(found)
    return ""


# -- inbound DLRs --------------------------------------------------------------


def dlr_state(options: HttpOptions, value) -> State | None:
    """The `State` for an upstream status value (``dlr_map``, then receipt words); None if unknown."""
    text = str(value).strip()
    state = options.dlr_map.get(text.lower())
    if state is not None:
        return state
    state = State.from_stat(text) if text else State.UNKNOWN
    return None if state == State.UNKNOWN and text.upper() != "UNKNOWN" else state
