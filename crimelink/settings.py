"""The one settings object. Every value comes from the environment (prefix ``CRIMELINK_``) or ``.env``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """crimelink configuration; see the README's configuration table for each field."""

    model_config = SettingsConfigDict(env_prefix="CRIMELINK_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".crimelink"), description="Working area: broker, embedded ClickHouse, Faust state.")

    # Kafka
    kafka_bootstrap: str = Field(
        "", description="host:port of an existing broker; empty means the local broker the CLI starts."
    )
    topic_prefix: str = Field("crimelink.", description="Prefix of every topic crimelink declares.")
    topic_partitions: int = Field(4, ge=1, description="Partitions for topics crimelink creates.")
    app_id: str = Field("crimelink", description="Faust application id (consumer group and table prefix).")

    # ClickHouse
    clickhouse_dsn: str = Field(
        "", description="chdb:///path (embedded, default under home) or http(s)://user@host:port/db."
    )
    clickhouse_database: str = Field("crimelink", description="Database that holds crimelink's tables.")
    clickhouse_password: SecretStr | None = Field(None, description="Password for an http(s) DSN.")
    retention_days: int = Field(730, ge=1, description="TTL of incident and outcome rows, in days.")

    # Crime-number gate
    pending_deadline_seconds: float = Field(
        14 * 86400, gt=0, description="How long an incident may await a valid crime number before it expires."
    )
    expired_retention_days: int = Field(
        365, ge=1, description="How long the gate remembers an expired incident (so a late update cannot make it "
                               "referable) and a released one (so a resend or replay of it is not held again).",
    )
    expiry_check_seconds: float = Field(30.0, gt=0, description="How often the gate looks for incidents past their deadline.")

    # Correlation and alerts
    correlation_window_days: float = Field(28, gt=0, description="How far back an incident is linked to earlier ones.")
    alert_min_forces: int = Field(3, ge=1, description="Forces a series must span (within the window) to alert.")
    alert_min_regions: int = Field(2, ge=1, description="Regions a series must span (within the window) to alert.")
    alert_webhooks: list[str] = Field(
        default_factory=list, description="URLs that receive each alert as JSON (POST, retried); JSON list or comma-separated."
    )
    webhook_attempts: int = Field(5, ge=1, description="Delivery attempts per alert and webhook.")

    # Sink batching
    sink_batch_size: int = Field(
        5000, ge=1, description="Most records the sink reads before it inserts (one insert per table) and commits; under "
                                "load larger batches mean fewer inserts, which is what keeps the sink up.",
    )
    sink_flush_seconds: float = Field(0.5, gt=0, description="Longest wait before a partial batch is written.")

    # Worker performance
    fetch_max_wait_ms: int = Field(
        20, ge=1, le=30_000,
        description="Longest the broker may hold a fetch that finds no new data (Faust's own is 1,500 ms, which stalls "
                    "a busy worker while its idle partitions are polled).",
    )
    batch_size: int = Field(500, ge=1, description="Most raw records the normaliser takes at once (each batch goes on to "
                                                   "the gate as one envelope per partition).")
    batch_seconds: float = Field(0.05, gt=0, description="Longest wait for a batch to fill before handling what came.")
    gc_young_threshold: int = Field(
        50_000, ge=700, description="Allocations between young garbage collections in the worker (Python's default: 700)."
    )
    gc_freeze_seconds: float = Field(
        5.0, ge=0, description="How often the worker leaves what survived out of later garbage collections "
                               "(crimelink.runtime.freeze_survivors), so none walks the whole heap; 0: never.",
    )
    intake_processes: int = Field(
        1, ge=0, le=8, description="Intake workers the worker starts beside it (Faust workers of their own that "
                                   "normalise the raw topics and run the crime-number gate), freeing its one Python "
                                   "thread for correlation and the sink (0: the worker does both).",
    )
    intake_instance: str | None = Field(
        None, description="This intake worker's static membership of its consumer group (Kafka's group.instance.id): a "
                          "replacement with the same id takes over as it joins, not after the session timeout. The "
                          "worker sets one per intake worker it starts; unique per process across every machine.",
    )
    worker_role: Literal["worker", "intake"] = Field(
        "worker", description="'intake': this worker only normalises and gates (group <app id>-intake). The worker "
                              "sets it for the intake workers it starts; set it by hand to run more on other machines.",
    )
    sent_envelopes_mib: int = Field(
        32, ge=0, description="Envelopes this worker sent that its own gate and correlator may take back without parsing, "
                              "per hop, in MiB of JSON (0: always parse; a worker whose gate partitions are elsewhere "
                              "gains nothing from them).",
    )

    # Worker web server (query API, dashboard)
    web_host: str = Field("127.0.0.1", description="Interface the worker's web server binds to.")
    web_port: int = Field(6066, ge=0, le=65535, description="Port of the worker's web server.")

    # Reference data
    stores_file: Path | None = Field(None, description="Store registry CSV; default is the bundled registry.")

    @field_validator("alert_webhooks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_topic_safe(cls, value: str) -> str:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not set(value) <= allowed:
            raise ValueError("topic_prefix may hold only letters, digits, '.', '_' and '-'")
        return value

    @property
    def broker_state_file(self) -> Path:
        """Where ``crimelink broker start`` records the local broker's address."""
        return self.home / "kafka" / "broker.json"

    @property
    def effective_kafka_bootstrap(self) -> str:
        """The configured broker, else the local broker started by the CLI, else localhost:9092."""
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        try:
            return str(json.loads(self.broker_state_file.read_text())["bootstrap"])
        except (FileNotFoundError, KeyError, ValueError):
            return "127.0.0.1:9092"

    @property
    def effective_clickhouse_dsn(self) -> str:
        """The configured DSN, or the embedded store under ``home``."""
        return self.clickhouse_dsn or f"chdb://{(self.home / 'clickhouse').resolve()}"

    @property
    def is_embedded_store(self) -> bool:
        return self.effective_clickhouse_dsn.startswith("chdb:")

    @property
    def web_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once; everything else asks here."""
    return Settings()
