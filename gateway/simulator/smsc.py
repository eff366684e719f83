"""
The simulated SMSC: what happens to the messages its sessions receive.

`SMSC` holds everything the connections share: message ids, the outcome rules,
throughput buckets per system_id, receipts waiting for their time (one heap,
one timer), receipts held for a system_id with no receiver bound, counters,
and the last messages received (long ones rejoined).  `SMSCSession` only
decodes, asks `SMSC.submit`, and sends what it is given.

It is meant to be quick: per submit a rule lookup, a counter, a heap push and
one response; receipts are built when they are due.
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from twisted.internet import defer, task

from gateway.logs import Logger
from gateway.model import State
from gateway.providers.pacing import TokenBucket
from gateway.simulator.config import SimulatorConfig
from gateway.smpp.constants import CommandId, CommandStatus, EsmClass, RegisteredDelivery
from gateway.smpp.pdu import PDU
from gateway.smpp.reassembly import Reassembler
from gateway.smpp.receipt import Receipt, network_error_code, receipt_deliver_sm
from gateway.smpp.split import SplitMode, message_part, split_message
from gateway.smpp.text import TextError, decode_text

__all__ = ["SMSC", "NoReceiver", "Received"]

_RETRY = 1.0  # seconds before a receipt the ESME did not take is offered again


class NoReceiver(Exception):
    """No receiver or transceiver is bound (for that system_id) to take an MO message."""


@dataclass
class Received:
    """A message the simulator accepted (all parts, for a long one)."""

    source: str
    destination: str
    text: str
    message_ids: list = field(default_factory=list)
    data_coding: int = 0


@dataclass(order=True)
class _Due:
    due: float
    seq: int
    system_id: str = field(compare=False)
    message_id: str = field(compare=False)
    source: str = field(compare=False)
    destination: str = field(compare=False)
    state: State = field(compare=False)
    error: int = field(compare=False)
    submitted: float = field(compare=False)
    text: str = field(compare=False)


class SMSC:
    """Shared state of the simulator; see the module docstring."""

    log = Logger()

    def __init__(self, config: SimulatorConfig, clock, rng: random.Random | None = None):
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random(config.seed)
        self._ids = itertools.count(config.id_start or int(clock.seconds() * 1000))
        self._seq = itertools.count()
        self._mo_refs = itertools.count(1)
        self._buckets: dict[str, TokenBucket] = {}
        self._heap: list[_Due] = []
        self._timer = None
        self._held: dict[str, deque] = {}
        self._receivers: dict[str, list] = {}
        self.sessions: list = []
        self.received: deque[Received] = deque(maxlen=config.keep_messages)
        self._parts = Reassembler(600.0, clock=clock, on_expired=lambda key, parts: None)
        self.counters: Counter = Counter()
        self.by_destination: Counter = Counter()
        self.receipts_by_state: Counter = Counter()

    # -- binds

    def authenticate(self, system_id: str, password: str) -> int:
        """The bind_resp status for these credentials."""
        c = self.config
        if not c.system_id:
            return CommandStatus.ESME_ROK
        if system_id != c.system_id:
            return CommandStatus.ESME_RINVSYSID
        if not hmac.compare_digest(password.encode(), c.password.encode()):
            return CommandStatus.ESME_RINVPASWD
        return CommandStatus.ESME_ROK

    def session_bound(self, session) -> None:
        self.counters["binds"] += 1
        self.sessions.append(session)
        if session.mode.receives:
            self._receivers.setdefault(session.system_id, []).append(session)
            if session.system_id in self._held:  # after the bind_resp has gone out
                self.clock.callLater(0, self._release_held, session.system_id)

    def _release_held(self, system_id: str) -> None:
        for due in self._held.pop(system_id, ()):
            self._send_receipt(due)

    def session_lost(self, session) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
        receivers = self._receivers.get(session.system_id, [])
        if session in receivers:
            receivers.remove(session)

    def _receiver(self, system_id: str | None):
        """A bound receiving session (round robin), for ``system_id`` or any."""
        if system_id is None:
            pool = [s for group in self._receivers.values() for s in group]
        else:
            pool = self._receivers.get(system_id, [])
        pool = [s for s in pool if s.connected]
        if not pool:
            return None
        session = pool[0]
        if len(pool) > 1 and system_id is not None:
            self._receivers[system_id] = pool[1:] + pool[:1]
        return session

    # -- submits

    def submit(self, session, pdu: PDU):
        """Answer a submit_sm / data_sm: a response PDU, a Deferred of one, or None (dropped)."""
        c = self.config
        self.counters["submits"] += 1
        if c.throughput and not self._bucket(session.system_id).take():
            self.counters["throttled"] += 1
            return pdu.resp(CommandStatus.ESME_RTHROTTLED)
        if c.window and session.unanswered >= c.window:
            self.counters["queue_full"] += 1
            return pdu.resp(CommandStatus.ESME_RMSGQFUL)
        params = pdu.params
        destination = params.get("destination_addr", "")
        rule = c.rule_for(destination) if c.outcomes else None
        if rule is not None and rule.outcome == "reject":
            self.counters["rejected"] += 1
            return pdu.resp(rule.code)
        message_id = self._next_id()
        self.counters["accepted"] += 1
        self.by_destination[destination] += 1
        text = self._record(params, pdu.tlvs, message_id)
        self._maybe_receipt(session, params, rule, message_id, text)
        if c.disconnect_probability and self.rng.random() < c.disconnect_probability:
            self.counters["disconnects"] += 1
            session.close("simulated disconnect")  # accepted, never answered: the ESME sends it again
            return None
        response = pdu.resp(message_id=message_id)
        if c.response_delay:
            session.unanswered += 1
            return task.deferLater(self.clock, c.response_delay, self._answered, session, response)
        return response

    @staticmethod
    def _answered(session, response: PDU) -> PDU:
        session.unanswered -= 1
        return response

    def _bucket(self, system_id: str) -> TokenBucket:
        bucket = self._buckets.get(system_id)
        if bucket is None:
            bucket = self._buckets[system_id] = TokenBucket(self.config.throughput, self.clock)
        return bucket

    def _next_id(self) -> str:
        n = next(self._ids)
        return format(n, "x") if self.config.message_id == "hex" else str(n)

    def _record(self, params, tlvs, message_id: str) -> str:
        """Keep the message (long ones once complete); the first 20 characters of this part."""
        coding = params.get("data_coding", 0)
        try:
            part = message_part(params, tlvs)
        except TextError:
            return ""
        text = _decode(part.payload, coding)
        source, destination = params.get("source_addr", ""), params.get("destination_addr", "")
        if part.concat is None:
            self.received.append(Received(source, destination, text, [message_id], coding))
            return text[:20]
        c = part.concat
        parts = self._parts.add((source, destination, c.reference, c.total), c.total, c.seqnum,
                                (part.payload, message_id))
        if parts is not None:
            self.counters["long_messages"] += 1
            whole = _decode(b"".join(p for p, _ in parts), coding)
            self.received.append(Received(source, destination, whole, [i for _, i in parts], coding))
        return text[:20]

    # -- receipts

    def _maybe_receipt(self, session, params, rule, message_id: str, text: str) -> None:
        state = State.DELIVERED if rule is None else rule.state
        wanted = params.get("registered_delivery", 0) & RegisteredDelivery.RECEIPT_MASK
        if state is None or not wanted:
            return
        if (wanted == RegisteredDelivery.RECEIPT_ON_FAILURE and state == State.DELIVERED
                or wanted == RegisteredDelivery.RECEIPT_ON_SUCCESS and state != State.DELIVERED):
            return
        now = self.clock.seconds()
        due = _Due(now + self.config.dlr_delay, next(self._seq), session.system_id, message_id,
                   params.get("source_addr", ""), params.get("destination_addr", ""), state,
                   rule.code if rule is not None else 0, now, text)
        heapq.heappush(self._heap, due)
        self._arm()

    def _arm(self) -> None:
        if self._heap and (self._timer is None or not self._timer.active()):
            delay = max(0.0, self._heap[0].due - self.clock.seconds())
            self._timer = self.clock.callLater(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        while self._heap and self._heap[0].due <= now:
            self._send_receipt(heapq.heappop(self._heap))
        self._arm()

    def _send_receipt(self, due: _Due) -> None:
        session = self._receiver(due.system_id)
        if session is None:
            held = self._held.setdefault(due.system_id, deque())
            if len(held) >= self.config.max_pending_receipts:
                held.popleft()
                self.counters["receipts_dropped"] += 1
            held.append(due)
            return
        d = session.sendRequest(self.receipt_pdu(due))
        d.addCallbacks(self._receipt_taken, self._receipt_refused, (due,), None, (due,))

    def _receipt_taken(self, _, due: _Due) -> None:
        self.counters["receipts_sent"] += 1
        self.receipts_by_state[due.state.stat] += 1

    def _receipt_refused(self, failure, due: _Due) -> None:
        self.counters["receipts_retried"] += 1
        due.due, due.seq = self.clock.seconds() + _RETRY, next(self._seq)
        heapq.heappush(self._heap, due)
        self._arm()

    def receipt_pdu(self, due: _Due) -> PDU:
        """The deliver_sm (or data_sm) carrying the receipt of ``due``."""
        c = self.config
        text_id = _spell(due.message_id, c)
        receipt = Receipt(id=text_id, stat=due.state.stat, err=f"{min(due.error, 999):03d}",
                          submit_date=_utc(due.submitted), done_date=_utc(self.clock.seconds()),
                          text=due.text)
        if c.receipt_pdu == "data_sm":
            pdu = _receipt_data_sm(receipt, due)
        else:
            pdu = receipt_deliver_sm(receipt, source_addr=due.destination, destination_addr=due.source,
                                     network_error=due.error)
        if c.receipt_tlvs:
            pdu.tlvs["receipted_message_id"] = due.message_id
        else:
            pdu.tlvs = {k: v for k, v in pdu.tlvs.items() if k == "message_payload"}
        return pdu

    # -- MO

    def inject_mo(self, source: str, destination: str, text: str, system_id: str | None = None) -> defer.Deferred:
        """Send an incoming message to a bound receiver; fires with the number of parts."""
        session = self._receiver(system_id)
        if session is None:
            return defer.fail(NoReceiver(f"no receiver bound{'' if system_id is None else ' as ' + system_id}"))
        segments = split_message(text, None, SplitMode.UDH8, reference=next(self._mo_refs))
        ds = []
        for segment in segments:
            params = {"source_addr_ton": 1, "source_addr_npi": 1, "source_addr": source.lstrip("+"),
                      "dest_addr_ton": 0, "dest_addr_npi": 1, "destination_addr": destination,
                      "esm_class": segment.esm_class, "data_coding": segment.data_coding,
                      "short_message": segment.short_message}
            ds.append(session.sendRequest(PDU(CommandId.deliver_sm, params=params, tlvs=dict(segment.tlvs))))
        d = defer.gatherResults(ds, consumeErrors=True)
        d.addCallback(self._mo_taken, len(segments))
        return d

    def _mo_taken(self, _, parts: int) -> int:
        self.counters["mo_sent"] += 1
        return parts

    # -- inspection

    def stats(self, destinations: bool = True) -> dict:
        """Counters as plain data (GET /stats)."""
        out = {key: self.counters.get(key, 0) for key in _COUNTERS}
        out["bound"] = len(self.sessions)
        out["receipts_waiting"] = len(self._heap)
        out["receipts_held"] = sum(len(h) for h in self._held.values())
        out["receipts_by_state"] = dict(self.receipts_by_state)
        if destinations:
            out["by_destination"] = dict(self.by_destination)
        return out

    def reset(self) -> None:
        """Zero the counters and forget received messages (between benchmark rounds)."""
        self.counters.clear()
        self.by_destination.clear()
        self.receipts_by_state.clear()
        self.received.clear()


_COUNTERS = ("submits", "accepted", "rejected", "throttled", "queue_full", "disconnects", "binds",
             "long_messages", "receipts_sent", "receipts_retried", "receipts_dropped", "mo_sent")


def _decode(payload: bytes, coding: int) -> str:
    try:
        return decode_text(payload, coding)
    except TextError:
        return ""


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


def _spell(message_id: str, config: SimulatorConfig) -> str:
    """The id as the receipt text writes it (some SMSCs switch between hex and decimal)."""
    if config.receipt_text_id == "same":
        return message_id
    n = int(message_id, 16) if config.message_id == "hex" else int(message_id)
    return str(n) if config.receipt_text_id == "decimal" else format(n, "x")


def _receipt_data_sm(receipt: Receipt, due: _Due) -> PDU:
    params = {"service_type": "", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": due.destination,
              "dest_addr_ton": 0, "dest_addr_npi": 0, "destination_addr": due.source,
              "esm_class": EsmClass.TYPE_DELIVERY_RECEIPT, "registered_delivery": 0, "data_coding": 0}
    tlvs = {"message_payload": receipt.format().encode("ascii", "replace"),
            "message_state": int(receipt.message_state),
            "network_error_code": network_error_code(due.error)}
    return PDU(CommandId.data_sm, params=params, tlvs=tlvs)
