"""Kafka logins: the settings refuse half a login, and every client library gets the same one."""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import pytest
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import ValidationError

from crimelink.settings import KafkaSettings, Settings
from crimelink.streams.kafka_auth import address, client_options, faust_credentials
from crimelink.streams.topics import TopicNames

REPO = Path(__file__).resolve().parents[2]
SASL = {"bootstrap": "broker.example:9093", "security_protocol": "SASL_SSL", "username": "crimelink",
        "password": "s3cret"}


def test_a_bare_address_means_plaintext() -> None:
    assert client_options("127.0.0.1:9092") == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}
    assert faust_credentials("127.0.0.1:9092") is None


def test_sasl_ssl_gives_the_login_and_a_verifying_tls_context() -> None:
    options = client_options(KafkaSettings(**SASL, sasl_mechanism="SCRAM-SHA-256"))
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) \
        == ("SCRAM-SHA-256", "crimelink", "s3cret")
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_faust_gets_the_same_login() -> None:
    credentials = faust_credentials(KafkaSettings(**SASL))
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    assert (credentials.username, credentials.password) == ("crimelink", "s3cret")


@pytest.mark.parametrize(("fields", "message"), [
    ({"security_protocol": "SASL_SSL", "username": "crimelink"}, "needs CRIMELINK_KAFKA_USERNAME and"),
    ({"security_protocol": "SASL_PLAINTEXT", "password": "x"}, "needs CRIMELINK_KAFKA_USERNAME and"),
    ({"security_protocol": "SSL", "cert_file": "client.pem"}, "go together"),
    ({"ca_file": "ca.pem"}, "does not use TLS"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "username": "u", "password": "p"}, "sasl_mechanism"),
])
def test_half_a_login_is_refused_with_what_is_missing(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaSettings(**fields)


def test_the_password_is_a_secret_and_never_printed() -> None:
    kafka = KafkaSettings(**SASL)
    assert "s3cret" not in repr(kafka) and "s3cret" not in str(kafka.model_dump())


def test_the_local_secured_broker_s_login_is_found_from_its_record(tmp_path: Path) -> None:
    state = tmp_path / "kafka" / "broker.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"bootstrap": "127.0.0.1:4242", "client": {
        "bootstrap": "127.0.0.1:4242", "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "username": "crimelink", "password": "pw", "ca_file": str(tmp_path / "ca.pem")}}))
    kafka = Settings(home=tmp_path).effective_kafka
    assert address(kafka) == "127.0.0.1:4242" and kafka.uses_sasl and kafka.username == "crimelink"
    assert kafka.password is not None and kafka.password.get_secret_value() == "pw"
    assert kafka.ca_file == tmp_path / "ca.pem"
    configured = Settings(home=tmp_path, kafka=KafkaSettings(bootstrap="elsewhere:9092"))
    assert configured.effective_kafka.bootstrap == "elsewhere:9092" and not configured.effective_kafka.uses_sasl


def test_a_demo_running_from_this_working_area_is_the_broker_client_commands_find(tmp_path: Path) -> None:
    """Issue 23: `crimelink ingest` and `crime-number` run beside `make demo` tried localhost:9092."""
    demo = tmp_path / "demo"
    (demo / "kafka").mkdir(parents=True)
    (demo / "kafka" / "broker.json").write_text(json.dumps({"bootstrap": "127.0.0.1:5151", "demo": True, "client": {
        "bootstrap": "127.0.0.1:5151", "security_protocol": "PLAINTEXT"}}))
    assert Settings(home=tmp_path).effective_kafka.bootstrap == "127.0.0.1:9092"  # no demo running: the default
    (tmp_path / "worker.json").write_text(json.dumps({"web_url": "http://127.0.0.1:6066", "home": str(demo)}))
    assert Settings(home=tmp_path).effective_kafka.bootstrap == "127.0.0.1:5151"
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "broker.json").write_text(json.dumps({"bootstrap": "127.0.0.1:6161"}))
    assert Settings(home=tmp_path).effective_kafka.bootstrap == "127.0.0.1:6161"  # a broker of its own comes first


def test_no_kafka_client_in_the_project_is_built_without_the_login() -> None:
    """A client given only ``bootstrap_servers=`` would talk PLAINTEXT to a secured broker and fail there only."""
    built_bare = re.compile(r"bootstrap_servers\s*=")
    offenders = [f"{path.relative_to(REPO)}:{number}"
                 for folder in ("crimelink", "streams", "sinks", "bench")
                 for path in sorted((REPO / folder).rglob("*.py")) if path.name != "kafka_auth.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if built_bare.search(line)]
    assert offenders == []


def test_a_refused_login_setting_is_one_clear_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from crimelink.errors import ConfigurationError
    from crimelink.settings import get_settings

    monkeypatch.setenv("CRIMELINK_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="SASL_SSL needs CRIMELINK_KAFKA_USERNAME"):
            get_settings()
    finally:
        get_settings.cache_clear()



def test_a_login_handed_to_a_child_process_reads_back_the_same(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    login = KafkaSettings(**SASL, sasl_mechanism="SCRAM-SHA-256", ca_file=tmp_path / "ca.pem")
    environment = login.login_environment()
    assert environment["CRIMELINK_KAFKA_PASSWORD"] == "s3cret" and "CRIMELINK_KAFKA_CERT_FILE" not in environment
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    read = KafkaSettings()
    assert (read.bootstrap, read.security_protocol, read.sasl_mechanism, read.username, read.ca_file) \
        == (login.bootstrap, "SASL_SSL", "SCRAM-SHA-256", "crimelink", tmp_path / "ca.pem")
    assert read.password is not None and read.password.get_secret_value() == "s3cret"


def test_a_local_cluster_s_replication_comes_with_its_address_and_the_environment_s_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "kafka" / "broker.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"bootstrap": "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "brokers": 3, "client": {
        "bootstrap": "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "security_protocol": "PLAINTEXT",
        "replication_factor": 3, "min_insync_replicas": 2}}))
    settings = Settings(home=tmp_path)
    assert (settings.effective_kafka.replication_factor, settings.effective_kafka.min_insync_replicas) == (3, 2)
    names = TopicNames(settings)
    assert names.replication == 3 and names.configs(names.checked) == {"min.insync.replicas": "2"}
    assert names.configs(names.audit)["min.insync.replicas"] == "2"  # with what the topic keeps for its purpose
    monkeypatch.setenv("CRIMELINK_KAFKA_MIN_INSYNC_REPLICAS", "1")
    overridden = Settings(home=tmp_path).effective_kafka
    assert (overridden.replication_factor, overridden.min_insync_replicas) == (3, 1)


def test_more_copies_in_sync_than_copies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="MIN_INSYNC_REPLICAS=3 is more than"):
        KafkaSettings(replication_factor=2, min_insync_replicas=3)
    assert TopicNames(Settings(home=tmp_path)).durability == {}  # one copy: the broker's default, nothing to say
