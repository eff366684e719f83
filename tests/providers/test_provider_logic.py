"""The connector's sending logic on a task.Clock: capacity, throttling pauses, outcomes, partial retries."""

from __future__ import annotations

import pytest
from twisted.internet import task
from twisted.internet.error import ConnectionLost
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from gateway.model import Outcome
from gateway.providers.pacing import Pacer, RateMeter, TokenBucket
from gateway.providers.smpp import SMPPProvider
from gateway.smpp.client import _SessionFactory
from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import Framer
from tests.providers.support import RecordingSink, message

LONG = "x" * 400  # 3 parts


class Harness:
    """A connector whose transmitter is bound over a StringTransport, driven by a Clock."""

    def __init__(self, **options):
        self.clock = task.Clock()
        section = {"host": "smsc.invalid", "system_id": "esme", "throttle_pause": "1", **options}
        self.provider = SMPPProvider("up", section, RecordingSink(), clock=self.clock)
        link = self.provider.transmitter
        self.session = _SessionFactory(link).buildProtocol(None)
        self.transport = StringTransport()
        self.session.makeConnection(self.transport)
        link._bind(self.session)
        [bind] = self.written()
        self.session.dataReceived(encode(bind.resp(system_id="SMSC")))

    def written(self):
        data = self.transport.value()
        self.transport.clear()
        return Framer().feed(data)

    def answer(self, pdu, status=0, message_id=None):
        resp = pdu.resp(status) if status else pdu.resp(message_id=message_id or f"id{pdu.sequence_number}")
        self.session.dataReceived(encode(resp))


def test_capacity_is_the_free_window_capped_by_tokens():
    h = Harness(window="5", throughput="2")
    p = h.provider
    assert p.capacity() == 4  # 2 tokens now + a second's worth that may wait in the pacer
    ds = [p.send(message(n)) for n in range(4)]
    assert len(h.written()) == 2 and p.capacity() == 0  # two sent, two waiting for tokens
    h.clock.advance(0.5)
    assert len(h.written()) == 1
    h.clock.advance(0.5)
    submits = h.written()
    assert len(submits) == 1 and not any(d.called for d in ds)


def test_throttled_submit_pauses_the_bucket_and_is_temporary():
    h = Harness(window="10", throttle_pause="1", throttle_pause_max="4")
    p = h.provider
    d = p.send(message(1))
    [submit] = h.written()
    h.answer(submit, CommandStatus.ESME_RTHROTTLED)
    result = d.result
    assert result.outcome is Outcome.TEMPORARY and result.error_code == CommandStatus.ESME_RTHROTTLED
    assert p.capacity() == 0 and p.status()["throughput"]["paused"]
    h.clock.advance(1.01)
    assert p.capacity() > 0
    d = p.send(message(2))
    h.answer(h.written()[0], CommandStatus.ESME_RTHROTTLED)  # again: the pause doubles
    h.clock.advance(1.5)
    assert p.capacity() == 0
    h.clock.advance(0.6)
    d = p.send(message(3))
    h.answer(h.written()[0])
    assert d.result.outcome is Outcome.SENT
    d = p.send(message(4))
    h.answer(h.written()[0], CommandStatus.ESME_RMSGQFUL)  # after a success: back to the first pause
    h.clock.advance(1.01)
    assert p.capacity() > 0


def test_other_error_status_is_permanent_with_its_code():
    h = Harness()
    d = h.provider.send(message(1))
    h.answer(h.written()[0], CommandStatus.ESME_RINVDSTADR)
    assert d.result.outcome is Outcome.PERMANENT and d.result.error_code == CommandStatus.ESME_RINVDSTADR


def test_configured_temporary_error_is_retried_later():
    h = Harness(temporary_errors="0x08")
    d = h.provider.send(message(1))
    h.answer(h.written()[0], CommandStatus.ESME_RSYSERR)
    assert d.result.outcome is Outcome.TEMPORARY and not h.provider.bucket.paused


def test_connection_lost_with_submits_in_flight_is_temporary():
    h = Harness()
    ds = [h.provider.send(message(n)) for n in range(3)]
    h.session.connectionLost(Failure(ConnectionLost()))
    assert {d.result.outcome for d in ds} == {Outcome.TEMPORARY}
    assert h.provider.capacity() == 0
    assert h.provider.send(message(4)).result.outcome is Outcome.TEMPORARY


def test_long_message_gets_one_id_per_part():
    h = Harness()
    d = h.provider.send(message(1, text=LONG))
    parts = h.written()
    assert len(parts) == 3 and {p.params["registered_delivery"] for p in parts} == {1}
    for n, part in enumerate(parts):
        h.answer(part, message_id=f"p{n}")
    assert d.result.upstream_ids == ("p0", "p1", "p2")


def test_partly_sent_long_message_sends_only_the_failed_part_again():
    h = Harness()
    d = h.provider.send(message(1, text=LONG))
    first, second, third = h.written()
    h.answer(first, message_id="a")
    h.answer(second, CommandStatus.ESME_RTHROTTLED)
    h.answer(third, message_id="c")
    assert not d.called
    h.clock.advance(1.01)  # the pause, then one token
    h.clock.advance(0.01)
    [again] = h.written()
    assert again.params["short_message"] == second.params["short_message"]
    h.answer(again, message_id="b")
    assert d.result.upstream_ids == ("a", "b", "c")


def test_untransmittable_text_is_refused_permanently():
    h = Harness(data_coding="latin1")
    d = h.provider.send(message(1, text="\ud800"))  # a lone surrogate: no encoding carries it
    assert d.result.outcome is Outcome.PERMANENT


def test_receiver_only_connector_has_no_capacity_and_refuses_to_send():
    p = SMPPProvider("rx", {"host": "h", "system_id": "x", "bind": "receiver"}, RecordingSink(), clock=task.Clock())
    assert p.capacity() == 0
    assert p.send(message(1)).result.outcome is Outcome.PERMANENT


# -- pacing parts


def test_token_bucket_refills_at_the_rate_up_to_the_burst():
    clock = task.Clock()
    bucket = TokenBucket(10, clock, burst=5)
    assert bucket.available() == 5 and bucket.take(5) and not bucket.take()
    assert bucket.delay() == pytest.approx(0.1)
    clock.advance(0.35)
    assert bucket.available() == 3
    clock.advance(10)
    assert bucket.available() == 5


def test_paused_bucket_gives_nothing_then_starts_empty():
    clock = task.Clock()
    bucket = TokenBucket(10, clock)
    bucket.pause(2)
    clock.advance(1.9)
    assert bucket.available() == 0 and bucket.paused
    clock.advance(0.2)
    assert bucket.available() == 1


def test_unlimited_bucket_still_pauses():
    clock = task.Clock()
    bucket = TokenBucket(0, clock)
    assert bucket.take(1000)
    bucket.pause(1)
    assert bucket.available() == 0
    clock.advance(1)
    assert bucket.available() > 1000


def test_pacer_runs_in_order_as_tokens_come_and_fails_the_rest_on_stop():
    clock = task.Clock()
    pacer = Pacer(TokenBucket(2, clock, burst=1), clock)
    ran = []
    ds = [pacer.run(lambda n=n: ran.append(n)) for n in range(4)]
    assert ran == [0] and pacer.queued == 3
    clock.advance(0.5)
    assert ran == [0, 1]
    pacer.fail_all(RuntimeError("stopping"))
    assert ran == [0, 1] and ds[3].result.check(RuntimeError)
    for d in ds[2:]:
        d.addErrback(lambda f: None)


def test_rate_meter_counts_the_last_ten_seconds():
    clock = task.Clock()
    meter = RateMeter(clock)
    meter.count(50)
    clock.advance(5)
    meter.count(50)
    assert meter.rate() == 10.0
    clock.advance(6)
    assert meter.rate() == 5.0


def test_enquire_link_and_window_come_from_the_options():
    h = Harness(enquire_link="15", window="3")
    assert h.session.window == 3
    h.clock.advance(15)
    [ping] = h.written()
    assert ping.command_id == CommandId.enquire_link
