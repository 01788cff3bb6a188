"""ClickHouse DDL as numbered migrations; ``apply`` brings any database up to the latest, idempotently.

Each migration runs once per database and is recorded in ``schema_migrations``. Statements use
``IF NOT EXISTS`` too, so a migration interrupted half-way can simply run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sinks.schema_docs import COLUMN_DOCS

__all__ = ["Migration", "MIGRATIONS", "LATEST_VERSION", "render"]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_INCIDENTS = """
CREATE TABLE IF NOT EXISTS {db}.incidents
(
    retailer LowCardinality(String),
    incident_id String,
    revision UInt32,
    version UInt64 COMMENT 'revision << 40 | ms since 2020: the newest row of the newest revision wins',
    feed_format LowCardinality(String),
    store_id String,
    store_name String,
    store_postcode Nullable(String),
    store_latitude Nullable(Float64),
    store_longitude Nullable(Float64),
    force_id LowCardinality(String),
    region_id LowCardinality(String),
    occurred_start DateTime64(3, 'UTC'),
    occurred_end Nullable(DateTime64(3, 'UTC')),
    source_local_time String,
    offence_code LowCardinality(String),
    goods_categories Array(LowCardinality(String)),
    goods_quantity UInt32,
    total_value_pence UInt64,
    goods_json String,
    tactics Array(LowCardinality(String)),
    offender_count UInt8,
    offenders_json String,
    vehicle_registrations Array(String),
    vehicles_json String,
    violence Bool,
    threats Bool,
    weapon Bool,
    cctv_available Bool,
    crime_ref_force LowCardinality(String),
    crime_ref_raw Nullable(String),
    crime_ref_normalised Nullable(String),
    crime_ref_status LowCardinality(String),
    crime_ref_reason String,
    eligibility LowCardinality(String),
    eligibility_reason String,
    narrative String,
    reported_at Nullable(DateTime64(3, 'UTC')),
    received_at DateTime64(3, 'UTC'),
    source_topic LowCardinality(String),
    source_partition UInt32,
    source_offset UInt64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_start)
ORDER BY (retailer, incident_id)
TTL toDateTime(received_at) + INTERVAL {retention_days} DAY
COMMENT 'Every normalised incident revision; query incidents_latest for one row per incident'
"""

_INCIDENTS_LATEST = """
CREATE VIEW IF NOT EXISTS {db}.incidents_latest AS
SELECT * FROM {db}.incidents FINAL
ORDER BY version DESC
LIMIT 1 BY retailer, incident_id
"""

_DEAD_LETTERS = """
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    feed_format LowCardinality(String),
    retailer LowCardinality(String),
    incident_id String,
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64,
    received_at DateTime64(3, 'UTC'),
    reason_fields Array(String),
    reason_problems Array(LowCardinality(String)),
    reason_messages Array(String),
    reason_values Array(Nullable(String)),
    summary String,
    payload String,
    payload_encoding LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (topic, partition, offset)
TTL toDateTime(received_at) + INTERVAL {retention_days} DAY
COMMENT 'Raw records refused by the normaliser, with machine-readable reasons and the original payload'
"""

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS {db}.schema_migrations
(
    version UInt32,
    description String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""

_FEEDBACK = """
CREATE TABLE IF NOT EXISTS {db}.retailer_feedback
(
    retailer LowCardinality(String),
    incident_id String,
    revision UInt32,
    status LowCardinality(String) COMMENT 'rejected, pending, invalid, referable, expired or update-ignored',
    reason String,
    action String COMMENT 'what the retailer should do; empty when nothing',
    deadline Nullable(DateTime64(3, 'UTC')),
    at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (retailer, incident_id, at, status)
TTL toDateTime(at) + INTERVAL {retention_days} DAY
COMMENT 'Every status change and rejection per retailer incident: the crime-number history and retailer feedback'
"""

_BACKLOG = """
CREATE VIEW IF NOT EXISTS {db}.retailer_backlog AS
SELECT retailer, incident_id,
       argMaxIf(revision, at, status != 'update-ignored') AS revision,
       argMaxIf(status, at, status != 'update-ignored') AS current_status,
       argMaxIf(reason, at, status != 'update-ignored') AS reason,
       argMaxIf(action, at, status != 'update-ignored') AS action,
       argMaxIf(deadline, at, status != 'update-ignored') AS deadline,
       max(at) AS updated_at
FROM {db}.retailer_feedback FINAL
GROUP BY retailer, incident_id
HAVING current_status IN ('rejected', 'pending', 'invalid', 'expired')
"""

_LINKS = """
CREATE TABLE IF NOT EXISTS {db}.links
(
    a String COMMENT 'earlier incident (retailer:incident_id)',
    b String COMMENT 'later incident',
    score Float32,
    strong Bool COMMENT 'strong links join series; weak ones are leads',
    features Array(LowCardinality(String)),
    explanation String COMMENT 'why, in words',
    evidence_json String,
    at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (a, b)
TTL toDateTime(at) + INTERVAL {retention_days} DAY
"""

_SERIES = """
CREATE TABLE IF NOT EXISTS {db}.series
(
    series_id String,
    version UInt64,
    members Array(String),
    incident_count UInt32,
    first_seen DateTime64(3, 'UTC'),
    last_seen DateTime64(3, 'UTC'),
    forces Array(LowCardinality(String)),
    regions Array(LowCardinality(String)),
    tactics Array(LowCardinality(String)),
    goods Array(LowCardinality(String)),
    vehicles Array(String),
    total_value_pence UInt64,
    referable Array(String),
    pending Array(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY series_id
TTL toDateTime(last_seen) + INTERVAL {retention_days} DAY
COMMENT 'Linked incidents; query with FINAL for the latest state of each series'
"""

_ALERTS = """
CREATE TABLE IF NOT EXISTS {db}.alerts
(
    alert_id String,
    series_id String,
    level UInt16 COMMENT '1 when raised, +1 per escalation',
    status LowCardinality(String),
    forces Array(LowCardinality(String)),
    regions Array(LowCardinality(String)),
    lead_force LowCardinality(String),
    lead_reason String,
    incident_count UInt32,
    referable_count UInt32,
    total_value_pence UInt64,
    at DateTime64(3, 'UTC'),
    evidence_json String,
    evidence_markdown String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(level)
ORDER BY alert_id
TTL toDateTime(at) + INTERVAL {retention_days} DAY
COMMENT 'One row per alert (FINAL: its latest level), with the evidence package'
"""

_DAILY = """
CREATE TABLE IF NOT EXISTS {db}.incidents_daily
(
    day Date,
    force_id LowCardinality(String),
    region_id LowCardinality(String),
    incidents AggregateFunction(uniqExact, String, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, region_id, force_id)
TTL day + INTERVAL {retention_days} DAY
COMMENT 'Distinct incidents per day and force, kept up to date by incidents_daily_mv (revisions and replays do not double count)'
"""

_DAILY_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.incidents_daily_mv TO {db}.incidents_daily AS
SELECT toDate(occurred_start) AS day, force_id, region_id, uniqExactState(retailer, incident_id) AS incidents
FROM {db}.incidents
GROUP BY day, force_id, region_id
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "incidents, incidents_latest, dead_letters", (_INCIDENTS, _INCIDENTS_LATEST, _DEAD_LETTERS)),
    Migration(2, "incidents.unmapped_codes", (
        "ALTER TABLE {db}.incidents ADD COLUMN IF NOT EXISTS unmapped_codes Array(String) "
        "COMMENT 'feed codes no rule maps yet' AFTER narrative",
    )),
    Migration(3, "retailer_feedback, retailer_backlog; gate columns on incidents", (
        _FEEDBACK, _BACKLOG,
        "ALTER TABLE {db}.incidents ADD COLUMN IF NOT EXISTS pending_deadline Nullable(DateTime64(3, 'UTC')) "
        "AFTER eligibility_reason",
        "ALTER TABLE {db}.incidents ADD COLUMN IF NOT EXISTS status_changed_at Nullable(DateTime64(3, 'UTC')) "
        "AFTER pending_deadline",
    )),
    Migration(4, "links, series, alerts", (_LINKS, _SERIES, _ALERTS)),
    Migration(5, "incidents_daily aggregate for the dashboard", (
        _DAILY, _DAILY_MV,
        # Backfill what existed before the view; uniqExact states merge, so a re-run counts nothing twice.
        "INSERT INTO {db}.incidents_daily SELECT toDate(occurred_start) AS day, force_id, region_id, "
        "uniqExactState(retailer, incident_id) FROM {db}.incidents GROUP BY day, force_id, region_id",
    )),
    Migration(6, "column documentation, skip indexes for common filters, incidents_latest with every column", (
        *(f"ALTER TABLE {{db}}.{table} COMMENT COLUMN {column} '{text.replace(chr(39), chr(39) * 2)}'"
          for table, columns in COLUMN_DOCS.items() for column, text in columns.items()),
        "ALTER TABLE {db}.incidents ADD INDEX IF NOT EXISTS idx_force force_id TYPE set(64) GRANULARITY 4",
        "ALTER TABLE {db}.incidents ADD INDEX IF NOT EXISTS idx_region region_id TYPE set(16) GRANULARITY 4",
        "ALTER TABLE {db}.incidents ADD INDEX IF NOT EXISTS idx_time occurred_start TYPE minmax GRANULARITY 4",
        "ALTER TABLE {db}.incidents ADD INDEX IF NOT EXISTS idx_tactics tactics TYPE bloom_filter GRANULARITY 4",
        "ALTER TABLE {db}.incidents ADD INDEX IF NOT EXISTS idx_vehicles vehicle_registrations TYPE bloom_filter "
        "GRANULARITY 4",
        _INCIDENTS_LATEST.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW"),
    )),
)
LATEST_VERSION = MIGRATIONS[-1].version
BOOTSTRAP = ("CREATE DATABASE IF NOT EXISTS {db}", _MIGRATIONS_TABLE)


def render(statement: str, database: str, retention_days: int) -> str:
    return statement.format(db=f"`{database}`", retention_days=int(retention_days))
