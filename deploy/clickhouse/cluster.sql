-- crimelink's ClickHouse tables for a cluster (one shard of replicas, ClickHouse Keeper), generated from
-- crimelink.sinks.tables by `crimelink schema`: do not edit. Run once, on any one server:
--     clickhouse-client --multiquery < deploy/clickhouse/cluster.sql
-- then point every worker at one of the servers (CRIMELINK_CLICKHOUSE_DSN), database crimelink.

CREATE DATABASE IF NOT EXISTS `crimelink` ON CLUSTER crimelink;

CREATE TABLE IF NOT EXISTS `crimelink`.incidents ON CLUSTER crimelink
(
    retailer LowCardinality(String) COMMENT 'retailer id (lower-case slug)',
    incident_id String COMMENT 'the retailer''s own incident id',
    revision UInt32 COMMENT 'the retailer''s revision; a higher one supersedes a lower one',
    version UInt64 COMMENT 'revision << 40 | ms since 2020 of the last status change: the newest row of the newest revision wins',
    feed_format LowCardinality(String) COMMENT 'feed format (adapter) the record arrived in',
    store_id String COMMENT 'the retailer''s store id',
    store_name String COMMENT 'store name from the store registry',
    store_postcode Nullable(String) COMMENT 'store postcode, when the registry has one',
    store_latitude Nullable(Float64) COMMENT 'WGS84 latitude of the store',
    store_longitude Nullable(Float64) COMMENT 'WGS84 longitude of the store',
    force_id LowCardinality(String) COMMENT 'police force area of the store (data.police.uk force id)',
    region_id LowCardinality(String) COMMENT 'regional organised crime unit covering the force',
    occurred_start DateTime64(3, 'UTC') COMMENT 'when the offence happened (or began), UTC',
    occurred_end Nullable(DateTime64(3, 'UTC')) COMMENT 'end of the time range, UTC; null for a point in time',
    source_local_time String COMMENT 'the time exactly as the feed gave it',
    offence_code LowCardinality(String) COMMENT 'Home Office offence code (046/00: theft from shops and stalls)',
    goods_categories Array(LowCardinality(String)) COMMENT 'controlled goods categories taken',
    goods_quantity UInt32 COMMENT 'units taken, all lines',
    total_value_pence UInt64 COMMENT 'retail value taken, pence',
    goods_json String COMMENT 'goods lines: category, the retailer''s wording, quantity, value',
    tactics Array(LowCardinality(String)) COMMENT 'controlled tactic codes',
    offender_count UInt8 COMMENT 'offenders seen (0: not known)',
    offenders_json String COMMENT 'the offenders'' count and, per description, a keyed pseudonym of each NPCC descriptor, each distinguishing feature and the whole combination (clear values: incident_identities)',
    vehicle_registrations Array(String) COMMENT 'keyed pseudonyms of the valid registrations (search: pseudonym(''registration'', ''AB12 CDE''))',
    vehicles_json String COMMENT 'vehicles: make, model, colour, whether the registration is a valid UK one, and the registration as a pseudonym',
    violence Bool COMMENT 'violence was used',
    threats Bool COMMENT 'threats or abuse were made',
    weapon Bool COMMENT 'a weapon was seen or implied',
    cctv_available Bool COMMENT 'the retailer holds CCTV',
    crime_ref_force LowCardinality(String) COMMENT 'force that issued (or should issue) the crime number',
    crime_ref_raw Nullable(String) COMMENT 'crime reference exactly as sent',
    crime_ref_normalised Nullable(String) COMMENT 'crime number in the force''s canonical form, when valid',
    crime_ref_status LowCardinality(String) COMMENT 'valid, invalid, incident_number or missing',
    crime_ref_reason String COMMENT 'why the reference has that status',
    crime_ref_source LowCardinality(String) COMMENT 'where the crime number came from: retailer-report (the incident''s record), retailer-update or force',
    crime_ref_via String COMMENT 'the message that carried an update''s crime number (topic/partition/offset) and who sent it (a force: its user); empty for the record''s own',
    eligibility LowCardinality(String) COMMENT 'referable, pending, invalid or expired',
    eligibility_reason String COMMENT 'why the incident has that eligibility',
    pending_deadline Nullable(DateTime64(3, 'UTC')) COMMENT 'when a pending or invalid incident expires without a valid crime number',
    status_changed_at Nullable(DateTime64(3, 'UTC')) COMMENT 'when the crime-number gate last set the eligibility',
    narrative String COMMENT 'free-text account as the retailer wrote it',
    unmapped_codes Array(String) COMMENT 'feed codes no rule maps yet (tactic:X, goods:Y)',
    reported_at Nullable(DateTime64(3, 'UTC')) COMMENT 'when the retailer says it reported the incident',
    received_at DateTime64(3, 'UTC') COMMENT 'when crimelink read the raw record',
    source_topic LowCardinality(String) COMMENT 'raw topic the record was read from',
    source_partition UInt32 COMMENT 'its partition',
    source_offset UInt64 COMMENT 'its offset',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row',
    INDEX idx_force force_id TYPE set(64) GRANULARITY 4,
    INDEX idx_region region_id TYPE set(16) GRANULARITY 4,
    INDEX idx_time occurred_start TYPE minmax GRANULARITY 4,
    INDEX idx_tactics tactics TYPE bloom_filter GRANULARITY 4,
    INDEX idx_vehicles vehicle_registrations TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMM(occurred_start)
ORDER BY (retailer, incident_id)
TTL toDateTime(received_at) + INTERVAL 730 DAY
COMMENT 'Every normalised incident revision; query incidents_latest for one row per incident';

CREATE TABLE IF NOT EXISTS `crimelink`.dead_letters ON CLUSTER crimelink
(
    feed_format LowCardinality(String) COMMENT 'feed format the record arrived in',
    retailer LowCardinality(String) COMMENT 'retailer, when readable from the record',
    incident_id String COMMENT 'incident id, when readable',
    topic LowCardinality(String) COMMENT 'raw topic of the record',
    partition UInt32 COMMENT 'its partition',
    offset UInt64 COMMENT 'its offset',
    received_at DateTime64(3, 'UTC') COMMENT 'when crimelink read it',
    reason_fields Array(String) COMMENT 'dotted path of each offending field ($: the whole record)',
    reason_problems Array(LowCardinality(String)) COMMENT 'machine-readable problem code per reason',
    reason_messages Array(String) COMMENT 'what is wrong and how to fix it, per reason',
    reason_values Array(Nullable(String)) COMMENT 'the offending value per reason (truncated)',
    summary String COMMENT 'field: problem; ... in one line',
    payload String COMMENT 'the original record (UTF-8, or base64 when it was not UTF-8)',
    payload_encoding LowCardinality(String) COMMENT 'utf-8 or base64',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(received_at)
ORDER BY (topic, partition, offset)
TTL toDateTime(received_at) + INTERVAL 30 DAY
COMMENT 'Raw records refused by the normaliser, with machine-readable reasons and the original payload';

CREATE TABLE IF NOT EXISTS `crimelink`.retailer_feedback ON CLUSTER crimelink
(
    retailer LowCardinality(String) COMMENT 'retailer the feedback is for',
    incident_id String COMMENT 'the retailer''s incident id',
    revision UInt32 COMMENT 'revision the status applies to',
    status LowCardinality(String) COMMENT 'rejected, pending, invalid, referable, expired or update-ignored',
    reason String COMMENT 'what crimelink found',
    action String COMMENT 'what the retailer should do; empty when nothing',
    deadline Nullable(DateTime64(3, 'UTC')) COMMENT 'when a pending incident expires',
    at DateTime64(3, 'UTC') COMMENT 'when the status was set',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(at)
ORDER BY (retailer, incident_id, at, status)
TTL toDateTime(at) + INTERVAL 365 DAY
COMMENT 'Every status change and rejection per retailer incident: the crime-number history and retailer feedback';

CREATE TABLE IF NOT EXISTS `crimelink`.links ON CLUSTER crimelink
(
    a String COMMENT 'earlier incident (retailer:incident_id)',
    b String COMMENT 'later incident',
    score Float32 COMMENT '1 - prod(1 - evidence weight): 0.85+ strong, 0.6-0.85 weak',
    strong Bool COMMENT 'strong links join series; weak ones are leads',
    features Array(LowCardinality(String)) COMMENT 'kinds of evidence: vehicle, modus-operandi, descriptors, offender-count',
    explanation String COMMENT 'why, in words (registrations and features as pseudonyms)',
    evidence_json String COMMENT 'each piece of evidence with its weight',
    at DateTime64(3, 'UTC') COMMENT 'event time of the later incident',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(at)
ORDER BY (a, b)
TTL toDateTime(at) + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS `crimelink`.series ON CLUSTER crimelink
(
    series_id String COMMENT 'stable series id (kept by the oldest part on a merge)',
    version UInt64 COMMENT 'increases with every change; FINAL keeps the latest',
    members Array(String) COMMENT 'incident keys in time order',
    incident_count UInt32 COMMENT 'members',
    first_seen DateTime64(3, 'UTC') COMMENT 'first incident, UTC',
    last_seen DateTime64(3, 'UTC') COMMENT 'latest incident, UTC',
    forces Array(LowCardinality(String)) COMMENT 'forces involved',
    regions Array(LowCardinality(String)) COMMENT 'regions involved',
    tactics Array(LowCardinality(String)) COMMENT 'tactics seen across the series',
    goods Array(LowCardinality(String)) COMMENT 'goods categories taken across the series',
    vehicles Array(String) COMMENT 'keyed pseudonyms of the valid registrations seen',
    total_value_pence UInt64 COMMENT 'value taken, all incidents',
    referable Array(String) COMMENT 'members with a valid crime number',
    pending Array(String) COMMENT 'members awaiting a crime number (or invalid or expired)',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY series_id
TTL toDateTime(last_seen) + INTERVAL 730 DAY
COMMENT 'Linked incidents; query with FINAL for the latest state of each series';

CREATE TABLE IF NOT EXISTS `crimelink`.alerts ON CLUSTER crimelink
(
    alert_id String COMMENT 'alert id (one per series)',
    series_id String COMMENT 'the series it is about',
    level UInt16 COMMENT '1 when raised, +1 per escalation',
    status LowCardinality(String) COMMENT 'raised, escalated, or revised (an incident was erased)',
    forces Array(LowCardinality(String)) COMMENT 'forces within the window when raised or escalated',
    regions Array(LowCardinality(String)) COMMENT 'regions within the window',
    lead_force LowCardinality(String) COMMENT 'suggested lead force',
    lead_reason String COMMENT 'why that force',
    incident_count UInt32 COMMENT 'incidents in the series',
    referable_count UInt32 COMMENT 'of which referable',
    total_value_pence UInt64 COMMENT 'value taken, pence',
    at DateTime64(3, 'UTC') COMMENT 'event time of the incident that raised or escalated it',
    evidence_json String COMMENT 'the evidence package (JSON)',
    evidence_markdown String COMMENT 'the evidence package, readable',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', level)
ORDER BY alert_id
TTL toDateTime(at) + INTERVAL 2192 DAY
COMMENT 'One row per alert (FINAL: its latest level), with the evidence package';

CREATE TABLE IF NOT EXISTS `crimelink`.incidents_daily ON CLUSTER crimelink
(
    day Date COMMENT 'day the offences happened (UTC)',
    force_id LowCardinality(String) COMMENT 'police force',
    region_id LowCardinality(String) COMMENT 'region',
    incidents AggregateFunction(uniqExact, String, String) COMMENT 'uniqExact state of distinct incidents; read with uniqExactMerge(incidents)'
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, region_id, force_id)
TTL day + INTERVAL 730 DAY
COMMENT 'Distinct incidents per day and force, kept up to date by incidents_daily_mv (revisions and replays do not double count)';

CREATE TABLE IF NOT EXISTS `crimelink`.schema_migrations ON CLUSTER crimelink
(
    version UInt32 COMMENT 'migration number',
    description String COMMENT 'what it changed',
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when it was applied here'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY version;

CREATE TABLE IF NOT EXISTS `crimelink`.audit_log ON CLUSTER crimelink
(
    event_id String COMMENT 'unique per event (a replayed one is kept once)',
    at DateTime64(3, 'UTC') COMMENT 'when it happened',
    principal String COMMENT 'the authenticated user; empty when authentication failed',
    role LowCardinality(String) COMMENT 'the user''s role',
    via LowCardinality(String) COMMENT 'how the user authenticated: token, password, session, kafka, process',
    client String COMMENT 'the caller''s address, or where the event came from',
    category LowCardinality(String) COMMENT 'consultation, disclosure, alteration, erasure, collection, combination or authentication',
    action LowCardinality(String) COMMENT 'what was asked: query, stats, evidence, alerts, backlog, login...',
    object String COMMENT 'the SQL text, the alert or incident id, the retailer',
    rows UInt64 COMMENT 'rows returned or changed',
    outcome LowCardinality(String) COMMENT 'ok, refused or failed',
    justification String COMMENT 'why the data was consulted or disclosed (X-Justification)',
    recipient String COMMENT 'to whom it was disclosed',
    detail String COMMENT 'why it was refused or failed'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(at)
ORDER BY (at, event_id)
TTL toDateTime(at) + INTERVAL 2192 DAY
COMMENT 'Access log (DPA 2018 s.62): who consulted, disclosed or changed what, when and why. Append-only.';

CREATE TABLE IF NOT EXISTS `crimelink`.sink_rejects ON CLUSTER crimelink
(
    table LowCardinality(String) COMMENT 'the table that refused the row',
    topic LowCardinality(String) COMMENT 'topic of the message the row was built from',
    partition UInt32 COMMENT 'its partition',
    offset UInt64 COMMENT 'its offset: replay it from there once the cause is fixed',
    error String COMMENT 'why the row could not be built or stored',
    payload String COMMENT 'the message (UTF-8, or base64 when it was not UTF-8)',
    payload_encoding LowCardinality(String) COMMENT 'utf-8 or base64',
    rejected_at DateTime64(3, 'UTC') COMMENT 'when the sink set it aside',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(rejected_at)
ORDER BY (topic, partition, offset, table)
TTL toDateTime(rejected_at) + INTERVAL 30 DAY
COMMENT 'Messages whose row a table refused, set aside with the error so the rest of the batch is stored';

CREATE TABLE IF NOT EXISTS `crimelink`.incident_identities ON CLUSTER crimelink
(
    retailer LowCardinality(String) COMMENT 'retailer id',
    incident_id String COMMENT 'the retailer''s own incident id',
    revision UInt32 COMMENT 'the retailer''s revision',
    version UInt64 COMMENT 'as incidents.version: the newest row of the newest revision wins',
    vehicle_registrations Array(String) COMMENT 'valid normalised UK registrations, in clear',
    registration_pseudonyms Array(String) COMMENT 'their pseudonyms, as incidents.vehicle_registrations',
    vehicles_json String COMMENT 'vehicles as reported: registration as sent and normalised, make, model, colour',
    offenders_json String COMMENT 'offender count and NPCC descriptions, in clear',
    received_at DateTime64(3, 'UTC') COMMENT 'when crimelink read the raw record',
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when ClickHouse received the row'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMM(received_at)
ORDER BY (retailer, incident_id, revision)
TTL toDateTime(received_at) + INTERVAL 730 DAY
COMMENT 'Clear registrations and descriptions, restricted: read only by the worker, every read logged';

CREATE VIEW IF NOT EXISTS `crimelink`.incidents_latest ON CLUSTER crimelink AS
SELECT * FROM `crimelink`.incidents FINAL
ORDER BY version DESC
LIMIT 1 BY retailer, incident_id;

CREATE VIEW IF NOT EXISTS `crimelink`.retailer_backlog ON CLUSTER crimelink AS
SELECT retailer, incident_id,
       argMaxIf(revision, at, status != 'update-ignored') AS revision,
       argMaxIf(status, at, status != 'update-ignored') AS current_status,
       argMaxIf(reason, at, status != 'update-ignored') AS reason,
       argMaxIf(action, at, status != 'update-ignored') AS action,
       argMaxIf(deadline, at, status != 'update-ignored') AS deadline,
       max(at) AS updated_at
FROM `crimelink`.retailer_feedback FINAL
GROUP BY retailer, incident_id
HAVING current_status IN ('rejected', 'pending', 'invalid', 'expired');

CREATE MATERIALIZED VIEW IF NOT EXISTS `crimelink`.incidents_daily_mv ON CLUSTER crimelink TO `crimelink`.incidents_daily AS SELECT toDate(occurred_start) AS day, force_id, region_id, uniqExactState(retailer, incident_id) AS incidents FROM `crimelink`.incidents GROUP BY day, force_id, region_id;
