"""The dashboard in headless Chromium (Debian's chromium package) against real pipeline data, with a screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.integration.test_correlation import _group_incident, _send

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=10000", "--window-size=1400,2000"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed (apt-get install chromium)")
def test_dashboard_renders_pipeline_data(start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    _send(worker, [_group_incident(1, "kent", 0), _group_incident(2, "kent", 10, crime_reference=None),
                   _group_incident(3, "essex", 24), _group_incident(4, "sussex", 40)])
    wait_until(lambda: worker.scalar("SELECT count() FROM alerts") >= 1, timeout=60, message="an alert")
    alert_id = worker.scalar("SELECT any(alert_id) FROM alerts")
    url = worker.process.web_url + "/"
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([CHROMIUM, *FLAGS, *profile, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert f'href="/alerts/{alert_id}/evidence"' in dom  # the alert list links to its evidence package
    assert 'id="daily-chart"' in dom and "<rect" in dom  # incidents over time, drawn
    assert 'class="force hot"' in dom and ">kent" in dom  # the force grid marks the forces of the alert
    assert 'id="total-incidents">4<' in dom

    screenshot = tmp_path / "dashboard.png"
    subprocess.run([CHROMIUM, *FLAGS, *profile, f"--screenshot={screenshot}", url], capture_output=True,
                   timeout=120, check=True)
    assert screenshot.stat().st_size > 20_000
    keep = Path(__file__).resolve().parents[2] / ".crimelink" / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, keep / "dashboard.png")

    evidence = subprocess.run([CHROMIUM, *FLAGS, *profile, "--dump-dom", f"{worker.process.web_url}/alerts/{alert_id}/evidence"],
                              capture_output=True, text=True, timeout=120, check=True).stdout
    assert "KX19TRV" in evidence and "Suggested lead force" in evidence
