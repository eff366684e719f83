"""Phone number normalisation and message templates (no network)."""

from __future__ import annotations

import pytest

from gateway.http.sending import sms_parts
from gateway.http.smsc.params import parse_time, parse_valid, transliterate
from gateway.numbers import InvalidNumber, normalize, split_list
from gateway.templates import BadVariable, Template, TemplateError, TemplateSyntaxError, UnknownVariable


@pytest.mark.parametrize("raw, region, expected", [
    ("+79001234567", "RU", "79001234567"), ("79001234567", "RU", "79001234567"),
    ("89001234567", "RU", "79001234567"), ("8 (900) 123-45-67", "RU", "79001234567"),
    ("9001234567", "RU", "79001234567"), ("00447911123456", "RU", "447911123456"),
    ("447911123456", "RU", "447911123456"), ("+1 650 253 0000", "RU", "16502530000"),
    ("07911 123456", "GB", "447911123456"), ("+390612345678", "", "390612345678"),
])
def test_numbers_are_normalised_to_e164_digits(raw, region, expected):
    assert normalize(raw, region) == expected


@pytest.mark.parametrize("raw", ["12345", "", "+7 900", "phone", "+999123456789", "89001234567x"])
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(InvalidNumber):
        normalize(raw, "RU")


def test_number_lists_split_on_commas_and_semicolons():
    assert split_list("+79001234567, 79001234568;89001234569;") == ["+79001234567", "79001234568", "89001234569"]


def test_printf_template_with_billing_style_fields():
    t = Template("debt", "Dear %(name)s, pay %(sum)5.2f (%(days)d days) 100%%")
    assert t.variables == ["days", "name", "sum"]
    assert t.render({"name": "Ann", "sum": "7.5", "days": "3"}) == "Dear Ann, pay  7.50 (3 days) 100%"
    with pytest.raises(UnknownVariable) as missing:
        t.render({"name": "Ann", "sum": 1})
    assert missing.value.variable == "days"
    with pytest.raises(BadVariable):
        t.render({"name": "Ann", "sum": "lots", "days": 1})
    with pytest.raises(TemplateSyntaxError):
        Template("x", "positional %s").compile()


def test_jinja_template_is_sandboxed_and_strict():
    t = Template("j", "{{ user.login }}: {{ total|round(1) }}", "jinja")
    assert t.render({"user": {"login": "u1"}, "total": 2.25}) == "u1: 2.2"
    with pytest.raises(UnknownVariable) as missing:
        t.render({"total": 1})
    assert missing.value.variable == "user"
    with pytest.raises(TemplateError):
        Template("e", "{{ x.__class__.__mro__[1].__subclasses__() }}", "jinja").render({"x": 1})
    with pytest.raises(TemplateSyntaxError):
        Template("s", "{% if %}", "jinja").compile()
    with pytest.raises(TemplateError):
        Template("bad name!", "x")


def test_sms_parts_gsm_and_ucs2():
    assert [sms_parts("a" * 160), sms_parts("a" * 161), sms_parts("€" * 80), sms_parts("ж" * 70),
            sms_parts("ж" * 71), sms_parts("ж" * 134), sms_parts("ж" * 135)] == [1, 2, 1, 1, 2, 2, 3]


def test_smsc_time_valid_and_translit():
    from datetime import datetime, timezone

    now = datetime(2025, 6, 15, 12, 0, tzinfo=timezone.utc)  # 15:00 in Moscow
    assert parse_time("1506251800", 0, now) == int(datetime(2025, 6, 15, 15, 0, tzinfo=timezone.utc).timestamp() * 1000)
    assert parse_time("+10", 0, now) == int(now.timestamp() * 1000) + 600_000
    assert parse_time("01750000000", 0, now) == 1_750_000_000_000
    assert parse_time("9-12", 0, now) == int(datetime(2025, 6, 16, 6, 0, tzinfo=timezone.utc).timestamp() * 1000)
    assert parse_time("", 0, now) == 0
    assert parse_valid("01:30") == 5400 and parse_valid("2") == 7200
    assert transliterate("Щука Ёж") == "Schuka Yozh"


def test_fast_validity_agrees_with_phonenumbers():
    import random

    import phonenumbers

    from gateway.numbers import _international

    rng = random.Random(2024)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    for _ in range(20_000):
        digits = f"{rng.choice(codes)}{rng.randrange(10 ** 5, 10 ** 12)}"
        try:
            parsed = phonenumbers.parse("+" + digits, None)
            expected = (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
                        if phonenumbers.is_valid_number(parsed) else None)
        except phonenumbers.NumberParseException:
            expected = None
        assert _international(digits) == expected, digits
