"""Configuration: typed defaults, and one precise line for every kind of mistake."""

from decimal import Decimal
from pathlib import Path

import pytest

from gateway.config import ConfigError, load


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "smsgw.ini"
    path.write_text(text)
    return str(path)


def error_of(tmp_path, text) -> str:
    path = config_file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(info.value).replace(path, "FILE")


def test_defaults_listen_on_loopback_only():
    config = load(None)
    assert config.defaults_only
    assert config.smpp["listen"] == ["tcp:2775:interface=127.0.0.1"]
    assert config.http["listen"] == ["tcp:8080:interface=127.0.0.1"]
    assert config.redis == {"url": "", "fsync": "everysec", "timeout": 5.0}
    assert config.smpp["bind_timeout"] == 10 and config.smpp["response_timeout"] == 60
    assert config.smpp["inactivity_timeout"] == 120


def test_account_route_and_provider_sections_are_typed(tmp_path):
    config = load(config_file(tmp_path, """
[account:shop]
password = secret
api_keys = k1, k2
throughput = 50
allowed_ips = 10.0.0.0/8 192.0.2.7
tariff = 7:1.50, 380:2
balance = 100.5
quiet_hours = 22:00-08:00
[provider:smsc1]
type = smpp
host = smsc.example.net
window = 50
[route:default]
providers = smsc1
"""))
    shop = config.accounts["shop"]
    assert shop["api_keys"] == ["k1", "k2"]
    assert shop["throughput"] == 50 and shop["enabled"] is True
    assert shop["allowed_ips"] == ["10.0.0.0/8", "192.0.2.7/32"]
    assert shop["tariff"] == {"7": Decimal("1.50"), "380": Decimal("2")}
    assert shop["balance"] == Decimal("100.5")
    assert shop["dedup_window"] == 60
    assert config.providers["smsc1"] == {"type": "smpp", "host": "smsc.example.net", "window": "50"}
    assert config.routes["default"] == {"account": "*", "channel": "sms", "prefix": "", "providers": ["smsc1"]}


@pytest.mark.parametrize("text, message", [
    ("[smpp]\nwindow = lots\n",
     "FILE: [smpp] window = 'lots': expected a whole number"),
    ("[smpp]\nwindow = 0\n",
     "FILE: [smpp] window = '0': expected a whole number between 1 and 10000"),
    ("[smpp]\nwindw = 10\n",
     "FILE: [smpp] windw = '10': unknown key; known keys: listen, bind_timeout, response_timeout, "
     "inactivity_timeout, window, max_pdu_size, max_binds, failed_bind_limit, failed_bind_delay, "
     "unbind_timeout, report_poll, report_retry, max_pending, system_id, failed_bind_account_limit"),
    ("[smtp]\nhost = x\n",
     "FILE: [smtp]: unknown section; known sections: gateway, redis, smpp, http, admin, archive, simulator, "
     "sync, account:NAME, provider:NAME, route:NAME"),
    ("[redis]\nfsync = never\n",
     "FILE: [redis] fsync = 'never': expected one of: everysec, always"),
    ("[redis]\nurl = mysql://db\n",
     "FILE: [redis] url = 'mysql://db': expected empty (embedded redis-server), redis://host:port/db, "
     "unix:///path/redis.sock or sentinel://host:port,host:port/master"),
    ("[account:shop]\nenabled = maybe\n",
     "FILE: [account:shop] enabled = 'maybe': expected yes or no"),
    ("[account:shop]\nallowed_ips = 10.0.0.300\n",
     "FILE: [account:shop] allowed_ips = '10.0.0.300': expected IP addresses or networks, e.g. 10.0.0.0/8, 192.0.2.7"),
    ("[account:shop]\ntariff = seven:1\n",
     "FILE: [account:shop] tariff = 'seven:1': expected prefix:price pairs, e.g. 7:1.50, 380:2"),
    ("[account:shop]\nquiet_hours = 22-8\n",
     "FILE: [account:shop] quiet_hours = '22-8': expected HH:MM-HH:MM, e.g. 22:00-08:00, or empty"),
    ("[provider:up]\nhost = x\n",
     "FILE: [provider:up] type = None: this key is required"),
    ("[route:r]\nprefix = 7\n",
     "FILE: [route:r] providers = None: this key is required"),
    ("[route:r]\nproviders = nowhere\n",
     "FILE: [route:r] providers = 'nowhere': no [provider:nowhere] section; defined providers: none"),
    ("[account:bad name]\n",
     "FILE: [account:bad name]: the name after ':' must be 1-64 letters, digits, '_', '.' or '-'"),
    ("[http]\nlisten = carrier-pigeon:80\n",
     "FILE: [http] listen = 'carrier-pigeon:80': expected tcp:…, tcp6:…, ssl:… or unix:… endpoint strings"),
    ("[smpp]\nlisten = tcp:notaport\n",
     "FILE: [smpp] listen = 'tcp:notaport': expected Twisted endpoint strings like tcp:2775:interface=127.0.0.1 "
     "(invalid literal for int() with base 10: 'notaport')"),
    ("window = 5\n",
     "FILE: [-]: not a valid INI file: File contains no section headers. file: 'FILE', line: 1 'window = 5\\n'"),
])
def test_bad_value_gives_one_line_naming_file_section_key_value_and_allowed(tmp_path, text, message):
    error = error_of(tmp_path, text)
    assert "\n" not in error
    assert error == message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(str(tmp_path / "nope.ini"))
    assert str(info.value) == f"{tmp_path / 'nope.ini'}: [-]: cannot read the file: No such file or directory"


def test_tls_listener_with_missing_key_file_is_an_error(tmp_path):
    error = error_of(tmp_path, "[smpp]\nlisten = ssl:3443:privateKey=/nonexistent/key.pem\n")
    assert error.startswith("FILE: [smpp] listen = 'ssl:3443:privateKey=/nonexistent/key.pem': expected Twisted endpoint")
    assert "No such file" in error or "nonexistent" in error


def test_sample_config_loads_and_documents_every_key():
    sample = Path(__file__).resolve().parent.parent / "etc" / "smsgw.ini"
    config = load(str(sample))
    assert config.accounts["demo"]["password"] == "demo"
    text = sample.read_text()
    from gateway.config import PREFIXED, SCHEMA

    for section, keys in list(SCHEMA.items()) + list(PREFIXED.items()):
        for key in keys:
            assert f"\n{key} =" in text or f"\n#{key} =" in text, f"[{section}] {key} is not in etc/smsgw.ini"
