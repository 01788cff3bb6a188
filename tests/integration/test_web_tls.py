"""The web server with TLS, and the refusal to serve the network in clear."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

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


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_the_web_server_serves_https_when_given_a_certificate(start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)
    worker = start_worker(CRIMELINK_WEB_TLS_CERT=str(certificate), CRIMELINK_WEB_TLS_KEY=str(key))
    context = ssl.create_default_context(cafile=str(certificate))
    request = urllib.request.Request(f"https://localhost:{worker.web_port}/api/whoami",
                                     headers={"Authorization": f"Bearer {worker.tokens['analyst']}"})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        assert json.loads(response.read())["name"] == "analyst"
    with pytest.raises(OSError):  # no plain HTTP on the same port
        urllib.request.urlopen(f"http://localhost:{worker.web_port}/healthz", timeout=5)
    form = urllib.request.urlopen(f"https://localhost:{worker.web_port}/login", context=context, timeout=10)
    assert "Secure" in form.headers["Set-Cookie"]
