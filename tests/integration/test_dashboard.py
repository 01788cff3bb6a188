"""The dashboard in headless Chromium (Debian's chromium package, driven by Playwright) against real pipeline data:
log in, read the figures, open an alert's evidence package after saying why, log out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.integration.test_correlation import _group_incident, _send

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed (apt-get install chromium)")
def test_dashboard_after_login_renders_pipeline_data(start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    worker = start_worker()
    _send(worker, [_group_incident(1, "kent", 0), _group_incident(2, "kent", 10, crime_reference=None),
                   _group_incident(3, "essex", 24), _group_incident(4, "sussex", 40)])
    wait_until(lambda: worker.scalar("SELECT count() FROM alerts") >= 1, timeout=60, message="an alert")
    alert_id = worker.scalar("SELECT any(alert_id) FROM alerts")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(worker.process.web_url + "/")
        assert "/login" in page.url  # not signed in: the login page, nothing else
        page.fill("input[name=name]", "analyst")
        page.fill("input[name=secret]", "not the token")
        page.click("button")
        expect(page.locator(".err")).to_contain_text("wrong name, password or token")
        page.fill("input[name=name]", "analyst")
        page.fill("input[name=secret]", worker.tokens["analyst"])
        page.click("button")
        expect(page.locator("#total-incidents")).to_have_text("4", timeout=15_000)
        expect(page.locator(f'a[href="/alerts/{alert_id}/evidence"]')).to_be_visible()
        assert page.locator("#daily-chart rect").count() > 0  # incidents over time, drawn
        expect(page.locator(".force.hot", has_text="kent")).to_be_visible()  # the force grid marks the alert's forces
        screenshot = tmp_path / "dashboard.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 20_000
        keep = Path(__file__).resolve().parents[2] / ".crimelink" / "screenshots"
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, keep / "dashboard.png")

        page.click(f'a[href="/alerts/{alert_id}/evidence"]')
        page.fill("input[name=why]", "Op Falcon: razor thefts across Kent, Essex and Sussex")
        page.click("form[method=get] button")
        expect(page.locator("body")).to_contain_text("KX19TRV")
        expect(page.locator("body")).to_contain_text("Suggested lead force")
        page.goto(worker.process.web_url + "/")
        page.click("text=Log out")
        assert "/login" in page.url
        browser.close()
    rows = worker.query("SELECT 1")  # the analyst's own token still works; the browser session is gone
    assert rows.rows == [(1,)]
