"""The secured local broker (``crimelink broker start --secure``): who gets in and what they may do.

The pipeline itself runs on this broker in the ``both_brokers`` tests (test_pipeline, test_crime_number_gate,
test_restart_under_load); these check the door: no login, a wrong login and a login without ACLs get nothing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from crimelink.cli.broker import IDLE_USER, SERVICE_USER, LocalBroker
from crimelink.errors import BrokerError
from crimelink.settings import KafkaSettings, Settings
from crimelink.streams.kafka_auth import Broker, client_options
from crimelink.streams.kafka_io import Publisher, declare_topics, read_topic
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _login(broker: LocalBroker, user: str, **changes: object) -> KafkaSettings:
    return KafkaSettings(**{**broker.client(user), **changes})


def test_the_service_login_declares_writes_and_reads(secure_broker: LocalBroker) -> None:
    topic = f"sec-{uuid.uuid4().hex[:8]}"
    service = _login(secure_broker, SERVICE_USER)
    assert declare_topics(service, [topic], 1) == [topic]
    with Publisher(service) as publisher:
        publisher.send(topic, b"held").get(timeout=20)
    assert [value for _, value in read_topic(service, topic, expect=1, timeout=20)] == [b"held"]


def _lets_in(login: Broker) -> bool:
    """Whether an admin client gets as far as listing topics (given 4 s, not the 30 s the CLI waits)."""
    try:
        admin = KafkaAdminClient(**client_options(login), bootstrap_timeout_ms=4000, request_timeout_ms=4000)
    except KafkaError:
        return False
    try:
        admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        admin.close()


def test_a_client_without_a_login_cannot_even_connect(secure_broker: LocalBroker) -> None:
    assert _lets_in(_login(secure_broker, SERVICE_USER))  # the same check lets the real login in
    assert not _lets_in(secure_broker.bootstrap)  # PLAINTEXT to the SASL_SSL port


def test_a_wrong_password_is_refused(secure_broker: LocalBroker) -> None:
    assert not _lets_in(_login(secure_broker, SERVICE_USER, password="not-the-password"))


def test_a_broker_certificate_from_another_ca_is_refused(secure_broker: LocalBroker) -> None:
    """TLS verifies the broker: a client trusting only another CA (here the system's, which never signed the local
    CA) refuses to talk, so a password is never sent to an impostor."""
    assert not _lets_in(_login(secure_broker, SERVICE_USER, ca_file=None))


def test_a_login_without_acls_can_neither_create_write_nor_read(secure_broker: LocalBroker) -> None:
    topic = f"sec-{uuid.uuid4().hex[:8]}"
    declare_topics(_login(secure_broker, SERVICE_USER), [topic], 1)
    with Publisher(_login(secure_broker, SERVICE_USER)) as publisher:
        publisher.send(topic, b"secret").get(timeout=20)
    idle = _login(secure_broker, IDLE_USER)
    with pytest.raises(BrokerError, match="TopicAuthorizationFailed"):
        declare_topics(idle, [f"{topic}-new"], 1)
    with Publisher(idle) as publisher, pytest.raises(KafkaError):
        publisher.send(topic, b"forged").get(timeout=20)
    assert list(read_topic(idle, topic, expect=1, timeout=4)) == []
    assert [value for _, value in read_topic(_login(secure_broker, SERVICE_USER), topic, expect=2, timeout=4)] \
        == [b"secret"]  # the forged record never landed


def test_broker_start_secure_records_the_service_login_privately(tmp_path: Path) -> None:
    """The CLI: ``broker start --secure`` writes its address and the service login where every later command (and
    the settings) finds it, in a home only its owner can read; ``broker stop`` stops it."""
    home = tmp_path / "home"
    env = {**os.environ, "CRIMELINK_HOME": str(home)}
    env.pop("CRIMELINK_KAFKA_BOOTSTRAP", None)
    dist = REPO / ".crimelink" / "kafka" / "dist"
    (home / "kafka").mkdir(parents=True, mode=0o700)  # home itself is made 0755 here: the CLI tightens it
    (home / "kafka" / "dist").symlink_to(dist)
    cli = [sys.executable, "-m", "crimelink.cli"]
    started = subprocess.run([*cli, "broker", "start", "--secure"], env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    try:
        assert started.returncode == 0, started.stderr
        assert "SASL_SSL" in started.stdout
        recorded = json.loads((home / "kafka" / "broker.json").read_text())
        assert recorded["client"]["security_protocol"] == "SASL_SSL"
        assert recorded["client"]["username"] == SERVICE_USER
        settings = Settings(home=home)
        assert settings.effective_kafka.uses_sasl and settings.effective_kafka.password is not None
        topic = f"sec-{uuid.uuid4().hex[:8]}"
        assert declare_topics(settings.effective_kafka, [topic], 1) == [topic]
        for path in [home, *home.rglob("*")]:
            if path.is_symlink() or dist in path.parents:
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, f"{path} is {oct(mode)}: readable by others"
    finally:
        stopped = subprocess.run([*cli, "broker", "stop"], env=env, capture_output=True, text=True, timeout=60,
                                 check=False)
    assert stopped.returncode == 0, stopped.stderr
