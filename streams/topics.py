"""Every topic crimelink uses, in one place: the names (``TopicNames``, importable without Faust: the CLI, producers
and tests use it) and the Faust topics the agents consume (:func:`faust_topics`).

Raw topics come from the registered feed adapters. Agents write through ``crimelink.streams.engine.checkpoint`` by
name. Payloads are bytes on the wire (JSON written and read by the pydantic models in ``crimelink.schemas``), so agents
can parse and serialise a whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crimelink.intake.feeds import adapters
from crimelink.settings import Settings

if TYPE_CHECKING:
    from faust import TopicT

__all__ = ["TopicNames", "RetailerChannel", "FaustTopics", "faust_topics", "received_at", "AUDIT_TOPIC_RETENTION_DAYS"]

AUDIT_TOPIC_RETENTION_DAYS = 90


@dataclass(frozen=True)
class RetailerChannel:
    """The topics one retailer writes with its own Kafka login, all under one prefix: a broker with ACLs gives the
    retailer's principal WRITE on that prefix and nothing else (``crimelink.streams.kafka_io.grant_retailer_channel``),
    so what is read from them is the retailer's whatever a record claims."""

    retailer: str
    prefix: str  # <topic prefix>retailer.<id>.
    raw: dict[str, str]  # feed format -> topic
    crime_number_updates: str

    @staticmethod
    def prefix_of(topic_prefix: str, retailer: str) -> str:
        return f"{topic_prefix}retailer.{retailer}."

    @classmethod
    def of(cls, topic_prefix: str, retailer: str, formats: list[str]) -> RetailerChannel:
        prefix = cls.prefix_of(topic_prefix, retailer)
        return cls(retailer, prefix, {name: f"{prefix}raw.{name}" for name in formats},
                   f"{prefix}crime-number-updates")


class TopicNames:
    """Topic names derived from settings."""

    def __init__(self, settings: Settings) -> None:
        prefix = settings.kafka.topic_prefix
        formats = sorted(adapters())
        self.raw: dict[str, str] = {name: f"{prefix}raw.{name}" for name in formats}  # written by crimelink's own login
        self.channels: dict[str, RetailerChannel] = {  # written by each retailer's own login
            retailer: RetailerChannel.of(prefix, retailer, formats) for retailer in settings.kafka.retailer_channels}
        self._topic_prefix = prefix
        self._feeds = {topic: name for name, topic in self.raw.items()} | {  # raw topic -> feed format, read per record
            topic: name for channel in self.channels.values() for name, topic in channel.raw.items()}
        self._owners = {topic: channel.retailer for channel in self.channels.values()  # channel topic -> its retailer
                        for topic in (*channel.raw.values(), channel.crime_number_updates)}
        self.normalised = f"{prefix}incidents.normalised"
        self.checked = f"{prefix}incidents.checked"
        self.dead_letters = f"{prefix}deadletter"
        self.crime_number_updates = f"{prefix}crime-number-updates"  # retailers publish here
        self.gate_commands = f"{prefix}gate.commands"  # internal: updates and expiries, keyed by incident
        self.feedback = f"{prefix}feedback"  # per-retailer outcomes, keyed by retailer
        self.correlation_in = f"{prefix}correlation.in"  # one partition: correlation sees every incident
        self.links = f"{prefix}links"
        self.series = f"{prefix}series"
        self.alerts = f"{prefix}alerts"
        self.audit = f"{prefix}audit"  # the access log (crimelink.streams.audit), on its way to ClickHouse
        self.gateway_answers = f"{prefix}gateway.answers"  # the retailer gateway's answers (crimelink.gateway.answers)
        self._answers_ms = int(settings.gateway.resend_days * 86_400_000)
        self._raw_ms = settings.kafka.raw_retention_hours * 3_600_000
        self._dead_letters_ms = settings.clickhouse.dead_letter_retention_days * 86_400_000
        kafka = settings.effective_kafka  # a local cluster's replication is recorded with its address
        self.replication = kafka.replication_factor  # copies of every topic crimelink or Faust creates
        self._min_insync = kafka.min_insync_replicas

    def channel(self, retailer: str) -> RetailerChannel:
        """A retailer's channel, configured or not (what its ACLs and a retailer's own client name)."""
        return self.channels.get(retailer) or RetailerChannel.of(self._topic_prefix, retailer, sorted(self.raw))

    def raw_topics(self) -> list[str]:
        """Every topic feed records arrive on: crimelink's own, then each retailer channel's."""
        return [*self.raw.values(), *(topic for channel in self.channels.values() for topic in channel.raw.values())]

    def update_topics(self) -> list[str]:
        """Every topic crime-number updates arrive on."""
        return [self.crime_number_updates, *(channel.crime_number_updates for channel in self.channels.values())]

    def feed_of(self, topic: str) -> str | None:
        """The feed format a raw topic carries."""
        return self._feeds.get(topic)

    def channel_of(self, topic: str) -> str | None:
        """The retailer whose own channel ``topic`` is; None for crimelink's own topics (the gateway's, the demo's)."""
        return self._owners.get(topic)

    def all(self) -> list[str]:
        return [*self.raw_topics(), self.normalised, self.checked, self.dead_letters, *self.update_topics(),
                self.gate_commands, self.feedback, self.correlation_in, self.links, self.series, self.alerts, self.audit,
                self.gateway_answers]

    def partitions(self, name: str, default: int) -> int:
        """Correlation state is global, so its input topic has one partition; the rest use the default."""
        return 1 if name == self.correlation_in else default

    def configs(self, name: str) -> dict[str, str]:
        """Topic configs on creation. The audit topic keeps its events 90 days (the broker's default is 7), so a sink
        stopped for weeks still finds every access-log event to store. The topics retailers write (raw records,
        crime-number updates) carry the broker's time of append (``LogAppendTime``), not the retailer's: the time
        crimelink received a message is then the same on every read (:func:`received_at`). The rest keep the broker's
        defaults, but for the gateway's answers: compacted (the last answer per key) and kept as long as a resend is
        recognised. The topics retailers write keep them ``CRIMELINK_RAW_TOPIC_RETENTION_HOURS`` (long enough to replay an
        outage), the dead letters as long as their table keeps them. Every one takes :attr:`durability` too."""
        return {**self._kept(name), **self.durability}

    @property
    def durability(self) -> dict[str, str]:
        """The topic config of every topic crimelink or Faust creates (the tables' changelogs too): how many copies a
        write must reach (``CRIMELINK_KAFKA_MIN_INSYNC_REPLICAS``); empty for the broker's default of one."""
        return {"min.insync.replicas": str(self._min_insync)} if self._min_insync > 1 else {}

    def _kept(self, name: str) -> dict[str, str]:
        if name == self.gateway_answers:
            return {"cleanup.policy": "compact,delete", "retention.ms": str(self._answers_ms)}
        if name == self.audit:
            return {"retention.ms": str(AUDIT_TOPIC_RETENTION_DAYS * 86_400_000)}
        if name in self.raw_topics() or name in self.update_topics():
            return {"message.timestamp.type": "LogAppendTime", "retention.ms": str(self._raw_ms)}
        if name == self.dead_letters:
            return {"retention.ms": str(self._dead_letters_ms)}
        return {}


_LOG_APPEND_TIME = 1
"""Kafka's timestamp type of a record the broker stamped as it appended it."""


def received_at(message: Any, now: datetime) -> datetime:
    """When crimelink received a retailer's message: the broker's time of append when its topic keeps it (as crimelink
    creates them), the same on every read, so a message read again after a restart gives the same rows and the same
    decisions; else ``now``. Never the producer's own timestamp, which a retailer's system sets as it likes."""
    if getattr(message, "timestamp_type", 0) == _LOG_APPEND_TIME and message.timestamp:
        return datetime.fromtimestamp(message.timestamp, UTC)
    return now


@dataclass(frozen=True)
class FaustTopics:
    """The topics agents consume, as Faust topics of one app."""

    raw: TopicT
    crime_number_updates: TopicT
    gate_input: TopicT  # normalised envelopes and gate commands, both keyed by incident: co-partitioned
    correlation_in: TopicT


def faust_topics(app: Any, names: TopicNames) -> FaustTopics:
    def as_bytes(*topic_names: str, **options: Any) -> TopicT:
        return app.topic(*topic_names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                         **options)

    return FaustTopics(
        raw=as_bytes(*names.raw_topics()),
        crime_number_updates=as_bytes(*names.update_topics()),
        gate_input=as_bytes(names.normalised, names.gate_commands),
        correlation_in=as_bytes(names.correlation_in, partitions=1),
    )
