"""HLR lookups: offline from numbering data, and through a vendor's web API (local server); results as receipts."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import reactor
from zope.interface.verify import verifyObject

from gateway.interfaces import IHlrLookup, IProvider
from gateway.model import Outcome, State
from gateway.providers.hlr.answer import INVALID_NUMBER, NOT_REACHABLE, HlrAnswer
from gateway.providers.hlr.numbering import NumberingLookup
from gateway.providers.hlr.provider import from_options
from gateway.providers.hlr.web import HttpLookup, HttpLookupOptions
from gateway.providers.options import Options, ProviderOptionError
from gateway.providers.vendor import WRONG_CHANNEL
from tests.channels.fakes import FakeVendor, serve
from tests.channels.support import RecordingSink, bounded, message


@pytest.mark.parametrize("msisdn, state, fields", [
    ("79261234567", State.DELIVERED, {"cn": "Russia", "net": "MegaFon", "mcc": "250", "mnc": "02"}),
    ("380501234567", State.DELIVERED, {"cn": "Ukraine", "mcc": "255", "mnc": "01"}),
    ("12025550123", State.DELIVERED, {"cn": "United States", "mcc": "310", "mnc": ""}),
    ("7926123", State.UNDELIVERABLE, {"cn": "", "mcc": ""}),
    ("999", State.UNDELIVERABLE, {}),
])
def test_numbering_lookup(msisdn, state, fields):
    answer = NumberingLookup().answer(msisdn)
    assert answer.state == state
    assert answer.error == (0 if state == State.DELIVERED else INVALID_NUMBER)
    assert {k: answer.fields()[k] for k in fields} == fields
    assert answer.fields()["imsi"] == "" and answer.fields()["msc"] == ""


@pytest_twisted.ensureDeferred
async def test_offline_provider_reports_the_hlr_fields_with_the_receipt():
    sink = RecordingSink()
    hlr = from_options("hlr1", {"type": "hlr"}, sink, reactor)
    assert verifyObject(IProvider, hlr) and verifyObject(IHlrLookup, hlr.lookup)
    result = await hlr.send(message("79031234567", "", channel="hlr", msg_id="h1"))
    assert (result.outcome, result.upstream_ids) == (Outcome.SENT, ("h1",))
    provider, upstream_id, state, error, extra = (await sink.when(1))[0]
    assert (provider, upstream_id, state, error) == ("hlr1", "h1", State.DELIVERED, 0)
    assert extra == {"imsi": "", "msc": "", "mcc": "250", "mnc": "99", "cn": "Russia", "net": "Beeline",
                     "rcn": "", "rnet": ""}
    invalid = await hlr.send(message("7903", "", channel="hlr", msg_id="h2"))
    assert invalid.outcome == Outcome.SENT
    assert (await sink.when(2))[1][2:4] == (State.UNDELIVERABLE, INVALID_NUMBER)


@pytest_twisted.ensureDeferred
async def test_hlr_provider_refuses_other_channels():
    result = await from_options("hlr1", {}, RecordingSink(), reactor).send(message(channel="sms"))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, WRONG_CHANNEL)


@pytest_twisted.async_yield_fixture
async def vendor():
    api = FakeVendor()
    api.url, port = await serve(api)
    yield api
    await port.stopListening()


VENDOR_OPTIONS = {"type": "hlr", "lookup": "http", "method": "get", "token": "k", "status_json": "status",
                  "reachable": "CONNECTED", "error_json": "error_code", "imsi_json": "imsi", "msc_json": "msc",
                  "mcc_json": "mcc", "mnc_json": "mnc", "cn_json": "country", "net_json": "network",
                  "rcn_json": "roaming.country", "rnet_json": "roaming.network"}


@pytest_twisted.ensureDeferred
async def test_vendor_lookup_maps_the_answer(vendor):
    def answer(body):
        if body["msisdn"] == "79001234567":
            return 200, {"status": "CONNECTED", "imsi": "250201234567890", "msc": "79000000001", "mcc": "250",
                         "mnc": "20", "country": "Russia", "network": "Tele2",
                         "roaming": {"country": "Türkiye", "network": "Turkcell"}}
        return 200, {"status": "ABSENT", "error_code": 27, "country": "Russia"}

    vendor.replies["/lookup"] = answer
    sink = RecordingSink()
    hlr = from_options("hlr2", dict(VENDOR_OPTIONS, url=vendor.url + "/lookup?msisdn=%phone%"), sink, reactor)
    assert (await bounded(hlr.send(message("+79001234567", "", channel="hlr", msg_id="a")))).outcome == Outcome.SENT
    assert vendor.requests[-1]["headers"]["authorization"] == "Bearer k"
    _, _, state, error, extra = (await sink.when(1))[0]
    assert (state, error) == (State.DELIVERED, 0)
    assert extra["imsi"] == "250201234567890" and extra["rcn"] == "Türkiye" and extra["rnet"] == "Turkcell"
    await bounded(hlr.send(message("79005550000", "", channel="hlr", msg_id="b")))
    _, _, state, error, extra = (await sink.when(2))[1]
    assert (state, error, extra["cn"]) == (State.UNDELIVERABLE, 27, "Russia")


@pytest_twisted.ensureDeferred
async def test_vendor_outage_is_retried_later(vendor):
    vendor.replies["/lookup"] = (503, {})
    hlr = from_options("hlr2", dict(VENDOR_OPTIONS, url=vendor.url + "/lookup"), RecordingSink(), reactor)
    assert (await bounded(hlr.send(message(channel="hlr")))).outcome == Outcome.TEMPORARY


def test_vendor_answer_without_status_is_not_reachable():
    lookup = HttpLookup(HttpLookupOptions.parse(Options("x", {"url": "https://h/"}, ("url",))), reactor)
    answer = lookup.read({"imsi": "1"})
    assert (answer.state, answer.error) == (State.UNDELIVERABLE, NOT_REACHABLE)
    assert isinstance(answer, HlrAnswer)


@pytest.mark.parametrize("options, key", [
    ({"lookup": "dns"}, "lookup"),
    ({"lookup": "http"}, "url"),
    ({"lookup": "numbering", "url": "https://x"}, "url"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ProviderOptionError) as e:
        from_options("h", options, RecordingSink(), reactor)
    assert e.value.key == key
