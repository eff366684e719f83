"""
The web console in a real headless browser (Debian's chromium + chromedriver,
driven by selenium) against a real gateway process: sign in, watch the
dashboard, send a test message through the demo upstream, find it in the
archive with its delivery receipt, open its state history.  Screenshots go to
``artifacts/`` (git-ignored).

Needs ``apt-get install chromium chromium-driver`` and the ``selenium`` package;
skipped with the reason when either is missing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.process import REPO, GatewayProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = REPO / "artifacts"
TOKEN = "console-test-token"

selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"),
]


@pytest.fixture
def gateway(datadir):
    config = datadir / "smsgw.ini"
    config.write_text(f"""
[gateway]
node = console-node
datadir = {datadir / 'var'}
[smpp]
listen = tcp:0:interface=127.0.0.1
[http]
listen = tcp:0:interface=127.0.0.1
[admin]
token = {TOKEN}
[account:demo]
password = demo
throughput = 0
dedup_window = 0
[provider:demo]
type = null
receipt_delay = 1
[route:demo]
channel = *
providers = demo
""")
    process = GatewayProcess("--config", str(config))
    try:
        yield f"http://127.0.0.1:{process.port_of('http')}"
    finally:
        code = process.terminate()
    assert code == 0 and "Traceback" not in process.output, process.output


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="smsgw-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 f"--user-data-dir={profile}", "--window-size=1400,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_sign_in_send_a_test_message_and_find_it_delivered_in_the_archive(gateway, browser):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    find = lambda element_id: browser.find_element(By.ID, element_id)   # noqa: E731
    browser.get(gateway + "/console/")

    # a wrong token is refused with a message, the right one gets in
    wait.until(EC.visibility_of_element_located((By.ID, "login-token"))).send_keys("wrong")
    find("login-button").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "login-error"), "Sign-in failed"))
    find("login-token").clear()
    find("login-token").send_keys(TOKEN)
    find("login-button").click()
    wait.until(EC.visibility_of_element_located((By.ID, "app")))
    wait.until(EC.text_to_be_present_in_element((By.ID, "connectors"), "demo"))
    assert "console-node" in find("node-name").text

    # send a test message through the demo upstream
    find("nav-send").click()
    Select(wait.until(EC.visibility_of_element_located((By.ID, "send-account")))).select_by_visible_text("demo")
    find("send-to").send_keys("+7 900 555 12 34")
    text = find("send-text")
    text.clear()
    text.send_keys("Hello from the console\n~~~\nticket 7")
    find("send-button").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "send-result"), "Accepted as"))
    message_id = re.search(r"Accepted as (\S+)", find("send-result").text).group(1)

    # the dashboard counted it
    find("nav-dashboard").click()
    wait.until(lambda d: "1 accepted" in find("totals").text)
    wait.until(EC.text_to_be_present_in_element((By.ID, "queues"), "demo"))
    shot(browser, "dashboard")

    # find it in the archive by number; wait for its receipt (the demo upstream delivers after 1 s)
    find("nav-archive").click()
    wait.until(EC.visibility_of_element_located((By.ID, "archive-number"))).send_keys("79005551234")

    def delivered_row(driver):
        rows = driver.find_elements(By.CSS_SELECTOR, f'#archive-results tr[data-key="{message_id}"]')
        if rows and "DELIVERED" in rows[0].text:
            return rows[0]
        find("archive-search").click()   # search again: the table is redrawn with the current state
        return False

    polling = WebDriverWait(browser, 20, poll_frequency=0.3, ignored_exceptions=[StaleElementReferenceException])
    row = polling.until(delivered_row)
    assert "Hello from the console" in row.text and "console-node" in row.text
    shot(browser, "archive")
    row.click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "detail-state"), "DELIVERED"))
    history = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#detail-history li")]
    assert [h.split(" — ")[0] for h in history] == ["ACCEPTED", "ENROUTE", "DELIVERED"]
    assert "ticket 7" in find("detail-fields").text and "DELIVRD" in find("detail-fields").text
    path = shot(browser, "message")
    assert path.stat().st_size > 10_000

    # accounts are listed and can be edited
    find("nav-accounts").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "accounts"), "demo"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]
              and "401" not in e["message"]]
    assert errors == [], errors
