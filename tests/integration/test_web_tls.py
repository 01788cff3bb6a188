"""The web server with TLS, and the refusal to serve the network in clear."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import httpx
import pytest

from crimelink.errors import ConfigurationError
from crimelink.settings import WebSettings
from crimelink.streams.web import check_listen_address

pytestmark = pytest.mark.integration


def test_non_loopback_without_tls_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigurationError, match="not a loopback address, without TLS"):
        check_listen_address(WebSettings(host="0.0.0.0"))
    with pytest.raises(ConfigurationError, match="both"):
        check_listen_address(WebSettings(tls_cert=Path("/x.pem")))
    check_listen_address(WebSettings(host="0.0.0.0", allow_insecure=True))
    check_listen_address(WebSettings(host="127.0.0.1"))
    check_listen_address(WebSettings(host="::1"))


def test_the_worker_will_not_start_on_a_public_address_in_clear(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CRIMELINK_HOME": str(tmp_path), "CRIMELINK_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "CRIMELINK_WEB_HOST": "0.0.0.0", "CRIMELINK_TOPIC_PREFIX": "tls-refused.", "CRIMELINK_INTAKE_PROCESSES": "0"}
    ran = subprocess.run([sys.executable, "-m", "crimelink.cli", "worker"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode != 0 and "without TLS" in ran.stderr, ran.stderr[-2000:]


def test_the_web_server_serves_https_and_the_gateway_trusts_it_through_its_ca(  # type: ignore[no-untyped-def]
        start_worker, start_gateway, tmp_path: Path) -> None:
    """With certificates from `crimelink certificates`, as deploy/compose.yaml uses them: the worker serves HTTPS only,
    and a gateway told the CA (CRIMELINK_GATEWAY_WORKER_CA_FILE) reads a retailer's backlog from it."""
    made = subprocess.run([sys.executable, "-m", "crimelink.cli", "certificates", str(tmp_path / "tls"), "--host",
                           "localhost"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    ca, certificate, key = (tmp_path / "tls" / name for name in ("ca.crt", "web.crt", "web.key"))
    worker = start_worker(CRIMELINK_WEB_TLS_CERT=str(certificate), CRIMELINK_WEB_TLS_KEY=str(key))
    context = ssl.create_default_context(cafile=str(ca))
    request = urllib.request.Request(f"https://localhost:{worker.web_port}/api/whoami",
                                     headers={"Authorization": f"Bearer {worker.tokens['analyst']}"})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        assert json.loads(response.read())["name"] == "analyst"
    with pytest.raises(OSError):  # no plain HTTP on the same port
        urllib.request.urlopen(f"http://localhost:{worker.web_port}/healthz", timeout=5)
    form = urllib.request.urlopen(f"https://localhost:{worker.web_port}/login", context=context, timeout=10)
    assert "Secure" in form.headers["Set-Cookie"]

    worker_url = f"https://localhost:{worker.web_port}"
    trusting = start_gateway(worker, CRIMELINK_GATEWAY_WORKER_URL=worker_url, CRIMELINK_GATEWAY_WORKER_CA_FILE=str(ca))
    untold = start_gateway(worker, CRIMELINK_GATEWAY_WORKER_URL=worker_url)
    answers = {name: httpx.get(f"{gateway.url}/v1/backlog", headers=gateway.headers("quikmart"), timeout=30)
               for name, gateway in (("trusting", trusting), ("untold", untold))}
    assert answers["trusting"].status_code == 200, answers["trusting"].text
    assert answers["trusting"].json()["retailer"] == "quikmart"
    assert answers["untold"].status_code == 503  # the worker's certificate is not one the system's CAs signed
