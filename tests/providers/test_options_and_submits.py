"""Connector options (precise errors) and how messages become submit_sm PDUs."""

from __future__ import annotations

import pytest
from twisted.internet import task

from gateway.model import Message
from gateway.providers.smpp_options import KEYS, OptionError, parse_options
from gateway.providers.smpp_submit import SubmitBuilder
from gateway.smpp.constants import DataCoding, EsmClass
from gateway.smpp.split import parse_udh
from gateway.smpp.text import decode_text

BASE = {"host": "smsc.example", "system_id": "esme"}


def options(**changes):
    return parse_options({**BASE, **{k: str(v) for k, v in changes.items()}})


def test_defaults():
    o = options()
    assert (o.port, o.bind, o.window, o.throughput, o.split, o.data_coding) == (2775, "transceiver", 10, 0, "udh", "auto")
    assert o.interface_version == 0x34 and not o.tls and o.tls_verify


@pytest.mark.parametrize("key, value, words", [
    ("bind", "sender", "one of transmitter, receiver, transceiver"),
    ("port", "70000", "between 1 and 65535"),
    ("window", "0", "between 1 and 10000"),
    ("window", "ten", "whole number"),
    ("throughput", "-1", "at least 0"),
    ("tls", "maybe", "yes or no"),
    ("split", "chunks", "udh, udh16, sar, payload"),
    ("password", "much-too-long", "at most 8"),
    ("interface_version", "4.0", "3.4, 5.0"),
    ("source_ton", "7x", "number"),
    ("temporary_errors", "0x58 fast", "number"),
    ("tls_ca", "/etc/ca.pem", "only with tls = yes"),
    ("reconnect_max", "0.5", "at least reconnect_initial"),
])
def test_bad_values_name_the_key_and_what_is_allowed(key, value, words):
    with pytest.raises(OptionError) as error:
        options(**{key: value})
    assert error.value.key == key and words in str(error.value)
    assert isinstance(error.value, ValueError)


def test_missing_required_keys_and_unknown_keys():
    with pytest.raises(OptionError, match="host = \\(missing\\): this key is required"):
        parse_options({"system_id": "x"})
    with pytest.raises(OptionError) as error:
        parse_options({**BASE, "windwo": "5"})
    assert error.value.key == "windwo" and "known keys" in str(error.value)


def test_every_key_is_documented():
    assert all(len(spec) == 3 and spec[2] for spec in KEYS.values())


def test_pair_bind_means_two_connections():
    assert [m.value for m in options(bind="transmitter+receiver").bind_modes] == ["transmitter", "receiver"]


def build(text="hello", source="Shop", destination="+79001234567", **opts):
    builder = SubmitBuilder(options(**opts), task.Clock())
    return builder.build(Message(id="m", account="a", destination=destination, source=source, text=text))


def test_alphanumeric_sender_is_ton_5_and_international_number_ton_1():
    [pdu] = build()
    p = pdu.params
    assert (p["source_addr_ton"], p["source_addr_npi"], p["source_addr"]) == (5, 0, "Shop")
    assert (p["dest_addr_ton"], p["dest_addr_npi"], p["destination_addr"]) == (1, 1, "79001234567")
    assert p["registered_delivery"] == 1 and p["data_coding"] == DataCoding.DEFAULT


def test_numeric_senders_and_configured_ton_npi():
    [pdu] = build(source="+79990001122")
    assert (pdu.params["source_addr_ton"], pdu.params["source_addr"]) == (1, "79990001122")
    [pdu] = build(source="1234", source_ton="3", source_npi="0", dest_ton="0")
    assert (pdu.params["source_addr_ton"], pdu.params["source_addr_npi"], pdu.params["dest_addr_ton"]) == (3, 0, 0)
    [pdu] = build(source="", default_source="Brand")
    assert pdu.params["source_addr"] == "Brand"


def test_cheapest_coding_gsm_else_ucs2_and_forced_codings():
    assert build("plain [GSM] €")[0].params["data_coding"] == DataCoding.DEFAULT
    assert build("привет")[0].params["data_coding"] == DataCoding.UCS2
    assert build("plain", data_coding="ucs2")[0].params["data_coding"] == DataCoding.UCS2
    assert build("café â", data_coding="auto_latin1")[0].params["data_coding"] == DataCoding.LATIN_1
    assert build("café â")[0].params["data_coding"] == DataCoding.UCS2
    assert build("café", data_coding="latin1")[0].params["data_coding"] == DataCoding.LATIN_1
    assert build("привет", data_coding="latin1")[0].params["data_coding"] == DataCoding.UCS2  # fallback


def test_smsc_reading_data_coding_0_as_latin1():
    [pdu] = build("café", smsc_alphabet="latin1")
    assert pdu.params["data_coding"] == 0 and pdu.params["short_message"] == "café".encode("latin-1")


def test_long_text_split_with_udh_sar_or_payload():
    text = "a" * 200
    udh = build(text)
    assert len(udh) == 2 and all(p.params["esm_class"] & EsmClass.UDHI for p in udh)
    header, rest = parse_udh(udh[0].params["short_message"])
    assert header.concat.total == 2 and header.concat.seqnum == 1 and rest == b"a" * 153
    sar = build(text, split="sar")
    assert [p.tlvs["sar_segment_seqnum"] for p in sar] == [1, 2] and sar[0].params["esm_class"] == 0
    [payload] = build(text, split="payload")
    assert payload.params["short_message"] == b"" and payload.tlvs["message_payload"] == b"a" * 200


def test_parts_of_different_messages_have_different_references():
    builder = SubmitBuilder(options(), task.Clock())
    refs = set()
    for n in range(3):
        parts = builder.build(Message(id=str(n), account="a", destination="1", text="b" * 200))
        refs.add(parse_udh(parts[0].params["short_message"])[0].concat.reference)
    assert len(refs) == 3


def test_binary_message_keeps_its_coding_and_is_split_by_octets():
    builder = SubmitBuilder(options(), task.Clock())
    raw = bytes(range(256)) + bytes(44)
    parts = builder.build(Message(id="b", account="a", destination="1", raw=raw, data_coding=4))
    assert len(parts) == 3 and {p.params["data_coding"] for p in parts} == {4}
    joined = b"".join(parse_udh(p.params["short_message"])[1] for p in parts)
    assert joined == raw


def test_validity_and_protocol_id_are_passed_on():
    builder = SubmitBuilder(options(), task.Clock())
    m = Message(id="v", account="a", destination="1", text="x", validity=1_750_000_000_000,
                extra={"protocol_id": 0x40})
    [pdu] = builder.build(m)
    assert pdu.params["validity_period"] == "250615150640000+" and pdu.params["protocol_id"] == 0x40
    assert decode_text(pdu.params["short_message"], 0) == "x"


def test_the_smpp_provider_plugin_builds_a_named_service():
    import twisted.plugins
    from twisted.application import service
    from twisted.plugin import getPlugins

    from gateway.interfaces import IProvider, IProviderPlugin

    [plugin] = [p for p in getPlugins(IProviderPlugin, twisted.plugins) if p.type == "smpp"]
    provider = plugin.provider("up", {"type": "smpp", **BASE}, None, None)
    assert IProvider.providedBy(provider) and service.IService.providedBy(provider)
    provider.setName("provider:up")  # what the engine does
    provider.setServiceParent(service.MultiService())
    assert provider.name == "up" and provider.service_name == "provider:up"


def test_the_smpp_presets_in_etc_are_valid():
    import configparser
    from pathlib import Path

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(Path(__file__).resolve().parents[2] / "etc" / "providers" / "smpp.ini", encoding="utf-8")
    sections = [s for s in parser.sections() if s.startswith("provider:")]
    assert len(sections) == 2
    for section in sections:
        assert parse_options(dict(parser[section])).host == "smpp.m.smsc.ru"
