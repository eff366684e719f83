"""
The simulator's settings: the ``[simulator]`` section (or ``--set`` options of
``twistd smsc-sim``), validated into a `SimulatorConfig`.

Values may be strings (from an INI file) or already typed (the gateway's
config loader parses ``enabled``, ``listen`` and ``dlr_delay`` itself).

Outcome rules (``outcomes``), separated by ``;`` or new lines, first match
wins, anything unmatched is delivered::

    outcomes = 7999 undeliverable; 7000 reject 0x0B; /^7111\\d+$/ expire; 7222 nodlr; * deliver

A pattern is ``*``, a destination prefix (a leading ``+`` is ignored) or a
``/regular expression/`` searched in the destination.  Outcomes:

``deliver``               accepted; receipt DELIVRD
``undeliverable [err]``   accepted; receipt UNDELIV with error ``err`` (default 1)
``expire``                accepted; receipt EXPIRED
``rejected [err]``        accepted; receipt REJECTD
``nodlr``                 accepted; no receipt ever
``reject [status]``       submit_sm_resp with ``status`` (default 0x45 ESME_RSUBMITFAIL)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.model import State
from gateway.smpp.constants import CommandStatus

__all__ = ["SimulatorConfig", "SimulatorOptionError", "Rule", "parse_simulator_options",
           "parse_outcomes", "KEYS"]


class SimulatorOptionError(ValueError):
    """A bad simulator setting: ``key``, ``value`` and what is allowed."""

    def __init__(self, key: str, value, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"[simulator] {key} = {value!r}: {allowed}")


@dataclass(frozen=True)
class Rule:
    """One outcome rule: destinations it matches and what happens to their messages."""

    pattern: str
    outcome: str  # deliver | undeliverable | expire | rejected | nodlr | reject
    code: int = 0  # receipt error, or submit_sm_resp status for reject
    regex: re.Pattern | None = None

    def matches(self, destination: str) -> bool:
        if self.regex is not None:
            return self.regex.search(destination) is not None
        return self.pattern == "*" or destination.lstrip("+").startswith(self.pattern)

    @property
    def state(self) -> State | None:
        """The receipt state, None when no receipt is sent."""
        return _STATES.get(self.outcome)


_STATES = {"deliver": State.DELIVERED, "undeliverable": State.UNDELIVERABLE,
           "expire": State.EXPIRED, "rejected": State.REJECTED}
_DEFAULT_CODES = {"undeliverable": 1, "rejected": 1, "reject": CommandStatus.ESME_RSUBMITFAIL}
_OUTCOMES = ("deliver", "undeliverable", "expire", "rejected", "nodlr", "reject")


def parse_outcomes(value: str) -> tuple[Rule, ...]:
    """The ``outcomes`` rules; `SimulatorOptionError` names the bad rule."""
    rules = []
    for text in re.split(r"[;\n]", value):
        text = text.strip()
        if text:
            rules.append(_rule(text))
    return tuple(rules)


def _rule(text: str) -> Rule:
    if text.startswith("/"):
        end = text.rfind("/")
        if end == 0:
            raise SimulatorOptionError("outcomes", text, "a regular expression ends with /")
        pattern, rest = text[1:end], text[end + 1:].split()
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise SimulatorOptionError("outcomes", text, f"bad regular expression: {e}") from None
    else:
        words = text.split()
        pattern, rest, regex = words[0].lstrip("+"), words[1:], None
        if pattern != "*" and not pattern.isalnum():
            raise SimulatorOptionError("outcomes", text, "a pattern is *, a prefix or /regex/")
    if not rest or rest[0].lower() not in _OUTCOMES or len(rest) > 2:
        raise SimulatorOptionError("outcomes", text, "PATTERN OUTCOME [CODE]; outcomes: " + ", ".join(_OUTCOMES))
    outcome = rest[0].lower()
    code = _DEFAULT_CODES.get(outcome, 0)
    if len(rest) == 2:
        try:
            code = int(rest[1], 0)
        except ValueError:
            raise SimulatorOptionError("outcomes", text, "the code is a number (0x… for hex)") from None
    return Rule(pattern, outcome, code, regex)


def _seconds(key, value):
    return _number(key, value, float, 0.0)


def _count(key, value):
    return _number(key, value, int, 0)


def _number(key, value, kind, minimum, maximum=None):
    try:
        number = kind(value, 0) if kind is int and isinstance(value, str) else kind(value)
    except (TypeError, ValueError):
        raise SimulatorOptionError(key, value, "a number") from None
    if number < minimum or (maximum is not None and number > maximum):
        raise SimulatorOptionError(key, value, f"a number from {minimum}" + (f" to {maximum}" if maximum is not None else ""))
    return number


def _probability(key, value):
    return _number(key, value, float, 0.0, 1.0)


def _yes_no(key, value):
    if isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered in ("yes", "true", "on", "1"):
        return True
    if lowered in ("no", "false", "off", "0"):
        return False
    raise SimulatorOptionError(key, value, "yes or no")


def _choice(*allowed):
    def parse(key, value):
        if str(value).lower() not in allowed:
            raise SimulatorOptionError(key, value, "one of " + ", ".join(allowed))
        return str(value).lower()
    return parse


def _endpoints(key, value):
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return tuple(str(value).split())


def _text(key, value):
    return str(value)


def _outcomes(key, value):
    return parse_outcomes(str(value))


def _seed(key, value):
    return None if str(value).strip() == "" else _count(key, value)


#: key → (parser, default, meaning)
KEYS = {
    "enabled": (_yes_no, "no", "run the simulator inside the gateway"),
    "listen": (_endpoints, "tcp:0:interface=127.0.0.1", "SMPP endpoints (space separated)"),
    "http_listen": (_endpoints, "", "HTTP endpoints for POST /mo and GET /stats (empty: none)"),
    "system_id": (_text, "", "the only system_id accepted (empty: any)"),
    "password": (_text, "", "its password (checked only with system_id)"),
    "dlr_delay": (_seconds, "0.2", "seconds from submit to receipt"),
    "outcomes": (_outcomes, "", "outcome rules, see the module docstring"),
    "throughput": (_seconds, "0", "submits per second per system_id, beyond: ESME_RTHROTTLED (0: no cap)"),
    "window": (_count, "0", "unanswered submits per connection, beyond: ESME_RMSGQFUL (0: no cap)"),
    "response_delay": (_seconds, "0", "seconds before a submit_sm_resp"),
    "disconnect_probability": (_probability, "0", "chance per submit of dropping the connection"),
    "seed": (_seed, "", "seed of the random generator (empty: random)"),
    "message_id": (_choice("hex", "decimal"), "hex", "how message ids are written"),
    "id_start": (_count, "0", "first message id (0: from the clock)"),
    "receipt_text_id": (_choice("same", "decimal", "hex"), "same", "id in the receipt text"),
    "receipt_tlvs": (_yes_no, "yes", "receipted_message_id/message_state/network_error_code TLVs"),
    "receipt_pdu": (_choice("deliver_sm", "data_sm"), "deliver_sm", "PDU that carries receipts"),
    "bind_timeout": (_seconds, "10", "seconds to wait for a bind"),
    "inactivity_timeout": (_seconds, "120", "seconds without traffic before closing"),
    "deliver_window": (_count, "100", "deliver_sm awaiting a response per connection"),
    "keep_messages": (_count, "1000", "recently received messages kept for inspection"),
    "max_pending_receipts": (_count, "100000", "receipts held while no receiver is bound"),
}


@dataclass(frozen=True)
class SimulatorConfig:
    """Validated simulator settings (see `KEYS`)."""

    enabled: bool = False
    listen: tuple = ("tcp:0:interface=127.0.0.1",)
    http_listen: tuple = ()
    system_id: str = ""
    password: str = ""
    dlr_delay: float = 0.2
    outcomes: tuple = ()
    throughput: float = 0.0
    window: int = 0
    response_delay: float = 0.0
    disconnect_probability: float = 0.0
    seed: int | None = None
    message_id: str = "hex"
    id_start: int = 0
    receipt_text_id: str = "same"
    receipt_tlvs: bool = True
    receipt_pdu: str = "deliver_sm"
    bind_timeout: float = 10.0
    inactivity_timeout: float = 120.0
    deliver_window: int = 100
    keep_messages: int = 1000
    max_pending_receipts: int = 100_000

    def rule_for(self, destination: str) -> Rule | None:
        for rule in self.outcomes:
            if rule.matches(destination):
                return rule
        return None


def parse_simulator_options(options: dict | None = None) -> SimulatorConfig:
    """Validate ``options`` (the ``[simulator]`` section); unknown keys are an error."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(KEYS))
    if unknown:
        raise SimulatorOptionError(unknown[0], options[unknown[0]], "unknown key; known keys: " + ", ".join(KEYS))
    values = {}
    for key, (parse, default, _) in KEYS.items():
        value = options.get(key, default)
        values[key] = parse(key, value.strip() if isinstance(value, str) else value)
    return SimulatorConfig(**values)
