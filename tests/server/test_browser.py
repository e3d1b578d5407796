"""The team server driven in Debian's chromium, headless, through Playwright: one walk through what
a team does (sign in, create a product with its profile, upload a corpus image and watch the scan's
stages, read the verdicts in English and Chinese, record a VEX decision and find it in the next
scan's CSAF, compare two versions).  Screenshots go to tests/server/screens/ (not committed) for a
person to look at.

Skips with the reason when chromium or Playwright is missing (`make` installs both)."""
from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.clitool import cli

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SCREENS = Path(__file__).parent / "screens"
PW = "browser-test-password"
ALL_STAGES = ["unpack", "inventory", "identify", "vulns", "sbom", "checks", "assess", "report", "evidence"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    pytest.importorskip("playwright.sync_api", reason="Playwright is a test dependency (pyproject [test])")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (the Makefile's APT_PACKAGES has it)")
    import uvicorn

    from firmpass.server.app import Settings, create_app
    from firmpass.server.auth import add_user

    root = tmp_path_factory.mktemp("server")
    fixtures = Path(__file__).parents[1] / "fixtures"
    db = root / "vulns.db"
    r = cli("db", "import", str(fixtures / "vulns"), "--db", str(db), timeout=600)
    assert r.returncode == 0, r.stderr
    app = create_app(Settings(data=root / "data", vulns_db=str(db), secure_cookies=False))
    with app.state.srv.Session() as s:
        add_user(s, "lead@maker.example", PW, "Maker Ltd", "analyst")
        s.commit()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    th.join(10)


def _wait_scan(page, name: str) -> None:
    page.wait_for_selector("#progress[data-finished='1']", timeout=240_000)
    assert page.locator("#scan-error").is_hidden(), page.locator("#scan-error").inner_text()
    stages = page.locator("#stages tr").evaluate_all("rows => rows.map(r => [r.dataset.stage, r.className])")
    assert [s for s, _ in stages] == ALL_STAGES and all(c == "stage-ok" for _, c in stages), stages
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def _csaf(page, base: str, scan_id: int) -> dict:
    r = page.request.get(f"{base}/scans/{scan_id}/download/csaf")
    assert r.ok, r.status
    return json.loads(r.body())


def _status_of(csaf: dict, cve: str) -> dict:
    for v in csaf["vulnerabilities"]:
        if v.get("cve") == cve:
            return {k: v2 for k, v2 in v["product_status"].items() if v2}
    raise AssertionError(f"{cve} not in the CSAF")


def test_team_walkthrough_in_chromium(live_server, corpus):
    from playwright.sync_api import sync_playwright

    base, app = live_server
    if SCREENS.exists():
        shutil.rmtree(SCREENS)
    SCREENS.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(30_000)
        # sign in
        page.goto(f"{base}/")
        assert page.url.endswith("/login")
        page.fill("input[name=email]", "lead@maker.example")
        page.fill("input[name=password]", PW)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/")
        # create a product with its profile (the questions of `profile init`)
        page.click("a[id^=new-product-]")
        page.fill("input[name='q.product.name']", "Doorbell Cam")
        page.fill("input[name='q.product.model']", "DC-200")
        page.fill("input[name='q.manufacturer.name']", "Maker Ltd")
        page.select_option("select[name='q.product.consumer']", "y")
        page.uncheck("input[name='q.markets.us']")
        page.fill("input[name='q.vulnerability_disclosure.contact_email']", "psirt@maker.example")
        page.screenshot(path=str(SCREENS / "01-profile-form.png"))
        page.click("#profile-submit")
        page.wait_for_url("**/products/*")
        with app.state.srv.Session() as s:
            from firmpass.server.db import Product

            prof = s.query(Product).one().profile
        assert prof["product"] == {"name": "Doorbell Cam", "model": "DC-200", "consumer": True}
        assert prof["markets"] == ["eu", "uk", "cn"]
        product_url = page.url
        # upload a corpus image and watch the stages go by
        page.fill("#upload-form input[name=label]", "1.0")
        page.set_input_files("#upload-form input[name=file]", str(corpus / "firmware.bin"))
        page.click("#upload-form button")
        page.wait_for_url("**/scans/1")
        # live: a stage shows as running while the scan is under way (unpacking this image takes seconds)
        page.wait_for_selector("#stages tr.stage-running", timeout=60_000)
        page.screenshot(path=str(SCREENS / "02a-scan-running.png"))
        _wait_scan(page, "02-scan-progress")
        # the verdicts, English then Chinese
        page.click("#open-results")
        page.wait_for_selector("#verdicts")
        assert page.locator("#verdicts .badge", has_text="not met").count() > 0
        page.screenshot(path=str(SCREENS / "03-verdicts-en.png"))
        page.click("#lang-switch")
        page.wait_for_selector("#verdicts")
        assert page.locator("#verdicts .badge", has_text="不符合").count() > 0
        assert page.locator("#tab-verdicts").inner_text() == "判定"
        page.screenshot(path=str(SCREENS / "04-verdicts-zh.png"))
        page.click("#lang-switch")
        # first scan's CSAF: CVE-2023-38545 (curl) is known_affected
        csaf1 = _csaf(page, base, 1)
        assert "known_affected" in _status_of(csaf1, "CVE-2023-38545")
        # record a VEX decision on it
        page.click("#tab-vulns")
        row = page.locator("tr[data-vuln='CVE-2023-38545']").first
        row.locator("select[name=status]").select_option("not_affected")
        row.locator("select[name=justification]").select_option("code_not_reachable")
        row.locator("input[name=note]").fill("the SOCKS5 proxy is never configured")
        row.locator("button").click()
        page.wait_for_selector("tr[data-vuln='CVE-2023-38545'] >> text=lead@maker.example")
        page.screenshot(path=str(SCREENS / "05-vex-recorded.png"), full_page=False)
        # the next scan carries it into its VEX and CSAF
        page.click("#rescan")
        page.wait_for_url("**/scans/2")
        _wait_scan(page, "06-rescan")
        # the decision was on the curl component; libcurl, with the same CVE, stays affected
        st = _status_of(_csaf(page, base, 2), "CVE-2023-38545")
        assert [p for p in st["known_not_affected"] if "-curl-" in p] and not [p for p in st.get("known_affected", []) if "-curl-" in p], st
        assert [p for p in st["known_affected"] if "libcurl" in p], st
        # a second version, then the comparison
        page.goto(product_url)
        page.fill("#upload-form input[name=label]", "2.0")
        page.set_input_files("#upload-form input[name=file]", str(corpus / "rootfs-dpkg.sqfs"))
        page.click("#upload-form button")
        page.wait_for_url("**/scans/3")
        _wait_scan(page, "07-second-version")
        page.goto(product_url)
        page.select_option("#compare-form select[name=a]", label="1.0")
        page.select_option("#compare-form select[name=b]", label="2.0")
        page.click("#compare-form button")
        page.wait_for_selector("#compare-result")
        # 2.0 is the root filesystem alone: the boot findings of 1.0's image are gone, packages appear
        assert page.locator("#cmp-ff li", has_text="BOOT-001").count() == 1
        assert page.locator("#cmp-ca li").count() > 10
        page.screenshot(path=str(SCREENS / "08-compare.png"), full_page=True)
        # the portfolio matrix shows the product's readiness per target market
        page.goto(f"{base}/")
        assert page.locator("table.matrix td.cell-gaps, table.matrix td.cell-ok").count() == 3
        page.screenshot(path=str(SCREENS / "09-portfolio.png"), full_page=True)
        # post-market: watch the shipped versions against the store; the dashboard shows each one's counts
        page.goto(f"{base}/postmarket")
        page.click("button[id^=watch-]")
        page.wait_for_url(f"{base}/postmarket")
        assert page.locator("text=checked").count() == 2  # versions 1.0 and 2.0
        page.screenshot(path=str(SCREENS / "10-postmarket.png"), full_page=True)
        browser.close()
