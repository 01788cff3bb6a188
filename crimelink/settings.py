"""The one settings object, grouped by concern. Every value comes from the environment or ``.env``.

Each group is its own ``BaseSettings`` (as quix-streams does for connection settings). Each field names the
environment variable it is documented under (``CRIMELINK_...``, the names from before the settings were grouped), and
also answers to ``CRIMELINK_<GROUP>_<FIELD>`` (its group's prefix and its name), never to a variable outside the
``CRIMELINK_`` namespace. Only the command line (``crimelink.cli``) calls :func:`get_settings`; everything below it
is handed the settings it needs.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from crimelink.errors import ConfigurationError

__all__ = ["Settings", "KafkaSettings", "IntakeSettings", "ClickHouseSettings", "GateSettings", "LinkageSettings", "SinkSettings",
           "WebSettings", "QuerySettings", "AccessSettings", "ClientSettings", "WorkerSettings", "GatewaySettings",
           "get_settings", "RETAILER_ID"]

RETAILER_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
"""A retailer's id: a lower-case slug, safe in a topic name, a Kafka principal and an ACL prefix."""


def _var(name: str, default: Any = ..., description: str = "", **constraints: Any) -> Any:
    """A field read from the environment variable ``CRIMELINK_<name>`` (constructors take the field's own name)."""
    return Field(default, validation_alias=f"CRIMELINK_{name}", description=description, **constraints)


def _group(prefix: str) -> SettingsConfigDict:
    # populate_by_name: constructors take field names; pydantic-settings then also reads env_prefix + field name,
    # which is why every group has a prefix of its own.
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", populate_by_name=True)


class _Group(BaseSettings):
    model_config = _group("CRIMELINK_")


class KafkaSettings(_Group):
    """The broker, the topics crimelink declares, and the consumer groups' names."""

    model_config = _group("CRIMELINK_KAFKA_")

    bootstrap: str = _var("KAFKA_BOOTSTRAP", "", "host:port of an existing broker; empty means the local broker the "
                                                 "CLI starts.")
    topic_prefix: str = _var("TOPIC_PREFIX", "crimelink.", "Prefix of every topic crimelink declares.")
    raw_retention_hours: int = _var("RAW_TOPIC_RETENTION_HOURS", 72,
                                    "Hours the topics retailers write (raw records, crime-number updates) keep them: "
                                    "long enough to replay a worker outage, no longer.", ge=1)
    topic_partitions: int = _var("TOPIC_PARTITIONS", 4, "Partitions for topics crimelink creates.", ge=1)
    replication_factor: int = _var(
        "KAFKA_REPLICATION_FACTOR", 1,
        "Copies of each topic crimelink or Faust creates (changelogs included): 3 on a cluster of three or more "
        "brokers, so that one broker lost loses nothing. 'crimelink broker start --brokers 3' records 3 for the "
        "other commands.", ge=1)
    min_insync_replicas: int = _var(
        "KAFKA_MIN_INSYNC_REPLICAS", 1,
        "Copies a write must reach before the broker confirms it (every producer waits for all in-sync replicas): "
        "2 with 3 copies, so a confirmed write survives one broker lost and writes go on while one is down.", ge=1)
    retailer_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="CRIMELINK_KAFKA_RETAILER_CHANNELS",
        description="Retailers that write to Kafka with their own login, comma-separated: each gets topics of its own "
                    "(<prefix>retailer.<id>.raw.<format>, <prefix>retailer.<id>.crime-number-updates), and what "
                    "arrives there is taken as that retailer's, whatever the record says. Empty: retailers submit "
                    "through the gateway.",
    )
    app_id: str = _var("APP_ID", "crimelink", "Faust application id (consumer group and table prefix).")
    fetch_max_wait_ms: int = _var(
        "FETCH_MAX_WAIT_MS", 20,
        "Longest the broker may hold a fetch that finds no new data (Faust's own is 1,500 ms, which stalls a busy "
        "worker while its idle partitions are polled).", ge=1, le=30_000,
    )

    session_timeout_seconds: float = _var(
        "KAFKA_SESSION_TIMEOUT_SECONDS", 60.0,
        "How long the broker waits for a worker that stopped heartbeating before it gives the worker's partitions to "
        "another: the pause when a worker's machine is lost and a worker elsewhere takes over (a worker restarted on "
        "the same machine takes its place at once, whatever this says). Faust's default; lower it for a faster "
        "takeover, at the risk of a busy worker being thought lost (at most 90: Faust's request timeout).", ge=10,
        le=90)

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = _var(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT",
        "How every client the project runs talks to the broker. SASL_SSL (TLS and a SCRAM login) for anything but a "
        "broker on this machine.")
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = _var(
        "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "SASL mechanism for SASL_PLAINTEXT and SASL_SSL.")
    username: str = _var("KAFKA_USERNAME", "", "SASL user name (the principal the broker's ACLs name).")
    password: SecretStr | None = _var("KAFKA_PASSWORD", None, "SASL password.")
    ca_file: Path | None = _var("KAFKA_CA_FILE", None, "PEM file of the CA that signed the broker's certificate; "
                                                      "empty trusts the system's CAs.")
    cert_file: Path | None = _var("KAFKA_CERT_FILE", None, "PEM client certificate, for brokers that ask for one.")
    key_file: Path | None = _var("KAFKA_KEY_FILE", None, "PEM private key of the client certificate.")

    _LOGIN: ClassVar[tuple[str, ...]] = ("bootstrap", "security_protocol", "sasl_mechanism", "username", "password",
                                         "ca_file", "cert_file", "key_file", "replication_factor", "min_insync_replicas")

    def with_login(self, login: dict[str, Any]) -> KafkaSettings:
        """These settings with another address and login (fields as ``crimelink broker start`` records them), checked
        as the environment's would be."""
        return KafkaSettings(**{**self.model_dump(), **login})

    def login_environment(self) -> dict[str, str]:
        """The ``CRIMELINK_KAFKA_*`` variables that give a child process this address, login and replication."""
        values = {name: getattr(self, name) for name in self._LOGIN}
        return {f"CRIMELINK_KAFKA_{name.upper()}": value.get_secret_value() if isinstance(value, SecretStr) else str(value)
                for name, value in values.items() if value not in (None, "")}

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _credentials_are_complete(self) -> KafkaSettings:
        if self.uses_sasl and not (self.username and self.password and self.password.get_secret_value()):
            raise ValueError(f"CRIMELINK_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                             "CRIMELINK_KAFKA_USERNAME and CRIMELINK_KAFKA_PASSWORD")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("CRIMELINK_KAFKA_CERT_FILE and CRIMELINK_KAFKA_KEY_FILE go together")
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(f"CRIMELINK_KAFKA_MIN_INSYNC_REPLICAS={self.min_insync_replicas} is more than "
                             f"CRIMELINK_KAFKA_REPLICATION_FACTOR={self.replication_factor}: no write could succeed")
        if (self.ca_file or self.cert_file) and not self.uses_tls:
            raise ValueError(f"CA or client certificate files are set, but CRIMELINK_KAFKA_SECURITY_PROTOCOL="
                             f"{self.security_protocol} does not use TLS (SSL or SASL_SSL)")
        return self

    @field_validator("retailer_channels", mode="before")
    @classmethod
    def _channels(cls, value: object) -> object:
        return [name.strip() for name in value.split(",") if name.strip()] if isinstance(value, str) else value

    @field_validator("retailer_channels")
    @classmethod
    def _channels_are_retailer_ids(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not RETAILER_ID.fullmatch(name)]
        if bad:
            raise ValueError(f"retailer ids are lower-case letters, digits and '-' (a topic name and an ACL prefix "
                             f"are made of them): {', '.join(map(repr, bad))}")
        return sorted(set(value))

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_topic_safe(cls, value: str) -> str:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not set(value) <= allowed:
            raise ValueError("topic_prefix may hold only letters, digits, '.', '_' and '-'")
        return value


class ClickHouseSettings(_Group):
    """Where results are stored: the embedded chDB engine by default, or a server."""

    model_config = _group("CRIMELINK_CLICKHOUSE_")

    dsn: str = _var("CLICKHOUSE_DSN", "", "chdb:///path (embedded, default under home) or http(s)://user@host:port/db.")
    database: str = _var("CLICKHOUSE_DATABASE", "crimelink", "Database that holds crimelink's tables.")
    password: SecretStr | None = _var("CLICKHOUSE_PASSWORD", None, "Password for an http(s) DSN.")
    pseudonym_key: SecretStr | None = _var(
        "PSEUDONYM_KEY", None, "Secret key of the registrations' and descriptions' pseudonyms in the analysts' tables "
        "(HMAC-SHA256; at least 16 characters); unset, one made on first start in <home>/pseudonym.key. A new key "
        "makes new pseudonyms.", min_length=16)
    retention_days: int = _var("RETENTION_DAYS", 730, "Days incidents, their links and series are kept.", ge=1)
    dead_letter_retention_days: int = _var(
        "DEAD_LETTER_RETENTION_DAYS", 30, "Days dead letters (with the original payload) and set-aside rows are kept, "
        "in ClickHouse and on the dead-letter topic.", ge=1)
    feedback_retention_days: int = _var("FEEDBACK_RETENTION_DAYS", 365, "Days retailer feedback rows are kept.", ge=1)
    alert_retention_days: int = _var("ALERT_RETENTION_DAYS", 6 * 365 + 2,
                                     "Days alerts and their evidence packages (what was disclosed) are kept.", ge=1)

    def retention(self, audit_days: int) -> dict[str, int]:
        """Days kept by purpose (``crimelink.sinks.tables.base.RetentionPurpose``); the access log's is AccessSettings'."""
        return {"incidents": self.retention_days, "dead_letters": self.dead_letter_retention_days,
                "feedback": self.feedback_retention_days, "alerts": self.alert_retention_days, "audit": audit_days}


class IntakeSettings(_Group):
    """What a record must keep to become an incident, besides its feed format's own rules."""

    model_config = _group("CRIMELINK_INTAKE_")

    earliest_event_date: date = _var("EARLIEST_EVENT_DATE", date(2000, 1, 1), "An incident dated before this is "
                                                                            "refused (a wrong year).")
    max_event_ahead_hours: float = _var("MAX_EVENT_AHEAD_HOURS", 24.0, "An incident dated more than this after the "
                                                                      "record was received is refused (a wrong date or "
                                                                      "time zone).", gt=0)


class GateSettings(_Group):
    """The crime-number gate: how long an incident may wait for its crime number."""

    model_config = _group("CRIMELINK_GATE_")

    pending_deadline_seconds: float = _var(
        "PENDING_DEADLINE_SECONDS", 14 * 86400, "How long an incident may await a valid crime number before it expires.",
        gt=0,
    )
    expired_retention_days: int = _var(
        "EXPIRED_RETENTION_DAYS", 365, "How long the gate remembers an expired incident (so a late update cannot make "
                                       "it referable) and a released one (so a resend or replay of it is not held "
                                       "again).", ge=1,
    )
    early_update_seconds: float = _var(
        "EARLY_UPDATE_SECONDS", 86400.0, "How long a crime-number update that arrives before its incident waits for it "
                                         "(then it is answered 'no such incident').", gt=0,
    )
    expiry_check_seconds: float = _var("EXPIRY_CHECK_SECONDS", 30.0, "How often the gate looks for incidents past "
                                                                     "their deadline.", gt=0)


class LinkageSettings(_Group):
    """Correlation and alerting thresholds."""

    model_config = _group("CRIMELINK_LINKAGE_")

    window_days: float = _var("CORRELATION_WINDOW_DAYS", 28, "How far back an incident is linked to earlier ones.",
                              gt=0)
    alert_min_forces: int = _var("ALERT_MIN_FORCES", 3, "Forces a series must span (within the window) to alert.",
                                 ge=1)
    alert_min_regions: int = _var("ALERT_MIN_REGIONS", 2, "Regions a series must span (within the window) to alert.",
                                  ge=1)


class SinkSettings(_Group):
    """The ClickHouse sink's batching, and the alert webhooks it calls once an alert is stored."""

    model_config = _group("CRIMELINK_SINK_")

    batch_size: int = _var(
        "SINK_BATCH_SIZE", 5000, "Most records the sink reads before it inserts (one insert per table) and commits; "
                                 "under load larger batches mean fewer inserts, which is what keeps the sink up.", ge=1,
    )
    flush_seconds: float = _var("SINK_FLUSH_SECONDS", 0.5, "Longest wait before a partial batch is written.", gt=0)
    alert_webhooks: Annotated[list[str], NoDecode] = Field(  # NoDecode: the validator below reads both forms
        default_factory=list, validation_alias="CRIMELINK_ALERT_WEBHOOKS",
        description="URLs that receive each alert as JSON (POST, retried); JSON list or comma-separated.",
    )
    webhook_attempts: int = _var("WEBHOOK_ATTEMPTS", 5, "Delivery attempts per alert and webhook.", ge=1)

    @field_validator("alert_webhooks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [url.strip() for url in value.split(",") if url.strip()]
        return value


class _Listening:
    """What a server's settings share (the worker's web server, the gateway): ``host``, ``port``, ``tls_cert``,
    ``tls_key`` and ``allow_insecure``, its variables named ``CRIMELINK_<variables>_...``."""

    variables: ClassVar[str]
    server: ClassVar[str]
    serving: ClassVar[str]
    """What would cross the network in clear without TLS."""

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # type: ignore[attr-defined]
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"  # type: ignore[attr-defined]

    def check_listen_address(self) -> None:
        """Refuse to serve tokens and personal data in clear text to the network."""
        import ipaddress

        host: str = self.host  # type: ignore[attr-defined]
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        prefix = f"CRIMELINK_{self.variables}"
        if (self.tls_cert is None) != (self.tls_key is None):  # type: ignore[attr-defined]
            raise ConfigurationError(f"set both {prefix}_TLS_CERT and {prefix}_TLS_KEY, or neither")
        if not loopback and not self.tls and not self.allow_insecure:  # type: ignore[attr-defined]
            raise ConfigurationError(
                f"the {self.server} would listen on {host}, which is not a loopback address, without TLS: "
                f"{self.serving} would cross the network in clear. Set {prefix}_TLS_CERT and {prefix}_TLS_KEY, or "
                f"{prefix}_ALLOW_INSECURE=true if something else terminates TLS")


class WebSettings(_Listening, _Group):
    """The worker's web server (query API, dashboard): where it listens, TLS, and whom the browser may reach it as."""

    model_config = _group("CRIMELINK_WEB_")
    variables: ClassVar[str] = "WEB"
    server: ClassVar[str] = "web server"
    serving: ClassVar[str] = "tokens, session cookies and personal data"

    host: str = _var("WEB_HOST", "127.0.0.1", "Interface the worker's web server binds to. Anything but a loopback "
                                              "address needs TLS (or CRIMELINK_WEB_ALLOW_INSECURE).")
    port: int = _var("WEB_PORT", 6066, "Port of the worker's web server.", ge=0, le=65535)
    tls_cert: Path | None = _var("WEB_TLS_CERT", None, "PEM certificate (chain) of the web server; with "
                                                       "CRIMELINK_WEB_TLS_KEY it serves HTTPS only.")
    tls_key: Path | None = _var("WEB_TLS_KEY", None, "PEM private key of CRIMELINK_WEB_TLS_CERT.")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="CRIMELINK_WEB_ALLOWED_HOSTS",
        description="Host names the web server answers to (Host header, so a rebound DNS name is refused), comma-"
                    "separated; the bind address, localhost, 127.0.0.1 and ::1 always are.",
    )
    allow_insecure: bool = _var("WEB_ALLOW_INSECURE", False, "Listen on a non-loopback address without TLS (tokens "
                                                            "and cookies then cross the network in clear).")
    session_hours: float = _var("WEB_SESSION_HOURS", 8.0, "How long a browser login lasts without activity.", gt=0)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        return [host.strip() for host in value.split(",") if host.strip()] if isinstance(value, str) else value


class QuerySettings(_Group):
    """Limits on analysts' free SQL, set on their own connection where no query can raise them."""

    model_config = _group("CRIMELINK_QUERY_")

    max_seconds: float = _var("QUERY_MAX_SECONDS", 30.0, "Longest an analyst query may run (max_execution_time).",
                              gt=0)
    max_memory_mib: int = _var("QUERY_MAX_MEMORY_MIB", 1024, "Most memory one analyst query may use.", ge=16)
    max_result_rows: int = _var("QUERY_MAX_RESULT_ROWS", 100_000, "Most rows an analyst query may return.", ge=1)
    max_result_mib: int = _var("QUERY_MAX_RESULT_MIB", 64, "Most bytes an analyst query may return, in MiB.", ge=1)
    max_rows_to_read: int = _var("QUERY_MAX_ROWS_TO_READ", 2_000_000_000, "Most rows an analyst query may read.",
                                 ge=1)
    max_sql_kib: int = _var("QUERY_MAX_SQL_KIB", 64, "Longest query text accepted, in KiB.", ge=1, le=256)


class AccessSettings(_Group):
    """Who may use crimelink, and the access log (Data Protection Act 2018 s.62)."""

    model_config = _group("CRIMELINK_ACCESS_")

    users_file: Path | None = _var("USERS_FILE", None, "Users, roles and hashed tokens; default users.json under "
                                                       "CRIMELINK_HOME (written by 'crimelink users').")
    audit_retention_days: int = _var("AUDIT_RETENTION_DAYS", 6 * 365 + 2, "How long access-log rows are kept (six "
                                                                         "years by default).", ge=1)


class ClientSettings(_Group):
    """What the client commands (query, backlog, audit, alerts) send to the worker."""

    model_config = _group("CRIMELINK_CLIENT_")

    token: SecretStr | None = _var("TOKEN", None, "Bearer token of the client commands ('crimelink users add' "
                                                  "prints one).")
    justification: str = _var("JUSTIFICATION", "", "Why you consult personal data (sent as X-Justification when "
                                                   "--why is not given).")


class GatewaySettings(_Listening, _Group):
    """The retailer gateway (``crimelink gateway``): where it listens, how much each retailer may send, and how long
    a resend is recognised."""

    model_config = _group("CRIMELINK_GATEWAY_")
    variables: ClassVar[str] = "GATEWAY"
    server: ClassVar[str] = "gateway"
    serving: ClassVar[str] = "retailers' tokens and their records"

    host: str = _var("GATEWAY_HOST", "127.0.0.1", "Interface the gateway binds to. Anything but a loopback address "
                                                  "needs TLS (or CRIMELINK_GATEWAY_ALLOW_INSECURE).")
    port: int = _var("GATEWAY_PORT", 6070, "Port of the gateway.", ge=0, le=65535)
    tls_cert: Path | None = _var("GATEWAY_TLS_CERT", None, "PEM certificate (chain) of the gateway; with "
                                                           "CRIMELINK_GATEWAY_TLS_KEY it serves HTTPS only.")
    tls_key: Path | None = _var("GATEWAY_TLS_KEY", None, "PEM private key of CRIMELINK_GATEWAY_TLS_CERT.")
    allow_insecure: bool = _var("GATEWAY_ALLOW_INSECURE", False, "Listen on a non-loopback address without TLS "
                                                                "(retailers' tokens then cross the network in clear).")
    worker_url: str = _var("GATEWAY_WORKER_URL", "", "The worker's web address, where the gateway reads incident "
                                                     "status and backlogs as the calling retailer; default the "
                                                     "worker's own (CRIMELINK_WEB_HOST and _PORT).")
    worker_ca_file: Path | None = _var("GATEWAY_WORKER_CA_FILE", None, "PEM file of the CA that signed the worker's "
                                                                      "certificate (an https worker URL); empty trusts "
                                                                      "the system's CAs.")
    max_batch_records: int = _var("GATEWAY_MAX_BATCH_RECORDS", 500, "Most records in one request.", ge=1, le=10_000)
    max_body_mib: float = _var("GATEWAY_MAX_BODY_MIB", 8.0, "Largest request body, in MiB (each record is also held "
                                                            "to the 1,000,000-byte record limit).", gt=0, le=256)
    rate_per_second: float = _var("GATEWAY_RATE_PER_SECOND", 200.0, "Records per second each retailer may send, on "
                                                                    "average, to one gateway process.", gt=0)
    rate_burst: int = _var("GATEWAY_RATE_BURST", 2000, "Records a retailer may send at once above its rate (at least "
                                                       "one full batch).", ge=1)
    resend_days: float = _var("GATEWAY_RESEND_DAYS", 2.0, "How long the gateway recognises a resent record or "
                                                          "idempotency key and gives the first answer again.", gt=0)
    reply_seconds: float = _var("GATEWAY_REPLY_SECONDS", 15.0, "Longest the gateway waits for the broker before it "
                                                               "answers 503 (nothing is then reported accepted).", gt=0)

    @model_validator(mode="after")
    def _burst_holds_a_batch(self) -> GatewaySettings:
        if self.rate_burst < self.max_batch_records:
            raise ValueError(f"CRIMELINK_GATEWAY_RATE_BURST ({self.rate_burst}) must be at least "
                             f"CRIMELINK_GATEWAY_MAX_BATCH_RECORDS ({self.max_batch_records}), or a full batch could "
                             "never be sent")
        return self


class WorkerSettings(_Group):
    """How the worker spends its one Python thread: batching, garbage collection, intake workers, envelope reuse."""

    model_config = _group("CRIMELINK_WORKER_")

    batch_size: int = _var("BATCH_SIZE", 500, "Most raw records the normaliser takes at once (each batch goes on to "
                                              "the gate as one envelope per partition).", ge=1)
    batch_seconds: float = _var("BATCH_SECONDS", 0.05, "Longest wait for a batch to fill before handling what came.",
                                gt=0)
    gc_young_threshold: int = _var(
        "GC_YOUNG_THRESHOLD", 50_000, "Allocations between young garbage collections in the worker (Python's default: "
                                      "700).", ge=700,
    )
    gc_freeze_seconds: float = _var(
        "GC_FREEZE_SECONDS", 5.0, "How often the worker leaves what survived out of later garbage collections "
                                  "(crimelink.streams.engine.garbage.freeze_survivors), so none walks the whole heap; "
                                  "0: never.", ge=0,
    )
    intake_processes: int = _var(
        "INTAKE_PROCESSES", 1, "Intake workers the worker starts beside it (Faust workers of their own that normalise "
                               "the raw topics and run the crime-number gate), freeing its one Python thread for "
                               "correlation and the sink (0: the worker does both).", ge=0, le=8,
    )
    intake_instance: str | None = _var(
        "INTAKE_INSTANCE", None, "This intake worker's static membership of its consumer group (Kafka's "
                                 "group.instance.id): a replacement with the same id takes over as it joins, not after "
                                 "the session timeout. The worker sets one per intake worker it starts; unique per "
                                 "process across every machine.",
    )
    role: Literal["worker", "intake"] = _var(
        "WORKER_ROLE", "worker", "'intake': this worker only normalises and gates (group <app id>-intake). The worker "
                                 "sets it for the intake workers it starts; set it by hand to run more on other "
                                 "machines.",
    )
    table_standby_replicas: int = _var(
        "TABLE_STANDBY_REPLICAS", 0, "Standby copies each worker keeps of other workers' partitions of the gate's and "
                                     "the correlator's tables (Faust's table_standby_replicas, whose own default is 1). "
                                     "0: with the in-memory store a taker-over reads a partition's changelog from the "
                                     "start whatever it kept, so standby copies shorten no takeover and cost reads, CPU "
                                     "and memory (docs/operations.md).", ge=0, le=3,
    )
    shutdown_seconds: float = _var(
        "SHUTDOWN_SECONDS", 30.0, "Longest a worker or intake worker takes to stop once told to (SIGTERM, Ctrl-C); "
                                  "then it exits outright, and what it had not committed is read again.", gt=0,
    )
    sent_envelopes_mib: int = _var(
        "SENT_ENVELOPES_MIB", 32, "Envelopes this worker sent that its own gate and correlator may take back without "
                                  "parsing, per hop, in MiB of JSON (0: always parse; a worker whose gate partitions "
                                  "are elsewhere gains nothing from them).", ge=0,
    )


class Settings(_Group):
    """crimelink configuration; docs/configuration.md lists every variable (``crimelink settings`` prints them)."""

    home: Path = _var("HOME", Path(".crimelink"), "Working area: broker, embedded ClickHouse, Faust state.")
    stores_file: Path | None = _var("STORES_FILE", None, "Store registry CSV; default is the bundled registry.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    linkage: LinkageSettings = Field(default_factory=LinkageSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    client: ClientSettings = Field(default_factory=ClientSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)

    @property
    def broker_state_file(self) -> Path:
        """Where ``crimelink broker start`` records the local broker's address."""
        return self.home / "kafka" / "broker.json"

    @property
    def pseudonym_key_file(self) -> Path:
        """Where the pseudonyms' key is made and kept when ``CRIMELINK_PSEUDONYM_KEY`` is unset."""
        return self.home / "pseudonym.key"

    @property
    def users_file(self) -> Path:
        """Where users, roles and token hashes are kept."""
        return self.access.users_file or self.home / "users.json"

    @property
    def effective_kafka(self) -> KafkaSettings:
        """The configured broker; with no bootstrap set, the local broker the CLI started (its address, the service
        login it recorded when started ``--secure``, the replication of a cluster started ``--brokers 3``), or the one
        of a demo running from this working area, else localhost:9092."""
        if self.kafka.bootstrap:
            return self.kafka
        for state in filter(None, (self.broker_state_file, self._demo_broker_state_file())):
            try:
                recorded = json.loads(state.read_text())
                client = {name: value for name, value in (recorded.get("client") or {}).items()
                          if name not in self.kafka.model_fields_set}  # what the environment says wins
                return self.kafka.with_login({**client, "bootstrap": str(recorded["bootstrap"])})
            except (FileNotFoundError, KeyError, ValueError, TypeError):
                continue
        return self.kafka.model_copy(update={"bootstrap": "127.0.0.1:9092"})

    def _demo_broker_state_file(self) -> Path | None:
        """The broker record of the demo that runs from this working area (it names its own in ``worker.json``)."""
        try:
            return Path(json.loads((self.home / "worker.json").read_text())["home"]) / "kafka" / "broker.json"
        except (FileNotFoundError, KeyError, ValueError, TypeError):
            return None

    @property
    def effective_kafka_bootstrap(self) -> str:
        return self.effective_kafka.bootstrap

    @property
    def effective_clickhouse_dsn(self) -> str:
        """The configured DSN, or the embedded store under ``home``."""
        return self.clickhouse.dsn or f"chdb://{(self.home / 'clickhouse').resolve()}"

    @property
    def is_embedded_store(self) -> bool:
        return self.effective_clickhouse_dsn.startswith("chdb:")

    @property
    def intake_only(self) -> bool:
        """This process is an intake worker (normalise and gate only)."""
        return self.worker.role == "intake"

    def replace(self, **groups: dict[str, Any]) -> Settings:
        """A copy with some fields of some groups changed: ``settings.replace(web={"port": 8080})``."""
        changed = {name: getattr(self, name).model_copy(update=fields) for name, fields in groups.items()}
        return self.model_copy(update=changed)


def variables(settings: BaseSettings) -> list[tuple[str, str, str]]:
    """Every environment variable with its value in ``settings`` (secrets masked) and what it does, group by group."""
    rows: list[tuple[str, str, str]] = []
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, BaseSettings):
            rows.extend(variables(value))
            continue
        shown = "**********" if isinstance(value, SecretStr) else json.dumps(value) if isinstance(value, list) else value
        rows.append((str(info.validation_alias), "" if shown is None else str(shown), info.description or ""))
    return rows


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once. Only the command line asks here; it hands the settings down. A value the settings
    refuse is a :class:`ConfigurationError` naming each variable and what is wrong with it."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, problem['loc'])) or 'settings'}: {problem['msg']}"
                             for problem in error.errors())
        raise ConfigurationError(f"the CRIMELINK_ settings are not usable: {problems}") from None
