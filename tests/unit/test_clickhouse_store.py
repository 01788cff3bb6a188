"""The ClickHouse store on the real embedded engine (chDB), one throwaway database per test."""

import gc
import json

import pytest

from crimelink.errors import ReadOnlyViolation, SinkWriteError
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.outcomes import DeadLetter
from crimelink.settings import QuerySettings
from crimelink.sinks import migrations as schema
from crimelink.sinks.clickhouse import BatchSink, ClickHouseStore
from crimelink.sinks.tables import Row, dead_letters, incident_identities, incidents, links
from tests.conftest import checked_incident, now_utc


def test_setup_is_idempotent_and_records_the_schema_version(store: ClickHouseStore) -> None:
    assert store.setup() == schema.LATEST_VERSION
    assert store.setup() == schema.LATEST_VERSION
    versions = store.query("SELECT version FROM schema_migrations FINAL ORDER BY version").rows
    assert versions == [(migration.version,) for migration in schema.MIGRATIONS]  # each applied once
    tables = {row[0] for row in store.query("SHOW TABLES").rows}
    assert {"incidents", "incidents_latest", "dead_letters", "schema_migrations"} <= tables


def test_incident_row_values_survive_the_round_trip(store: ClickHouseStore) -> None:
    incident = checked_incident()
    store.insert("incidents", incidents.TABLE.insert_columns, [incidents.row(incident, store.pseudonyms)])
    row = store.query(
        "SELECT force_id, region_id, occurred_start, total_value_pence, tactics, vehicle_registrations, "
        "crime_ref_status, crime_ref_normalised, eligibility, goods_categories FROM incidents_latest"
    ).as_dicts()[0]
    assert row["force_id"] == "sussex" and row["region_id"] == "serocu"
    assert row["occurred_start"].replace(tzinfo=None).isoformat() == "2025-03-01T09:40:00"
    assert row["total_value_pence"] == 15600
    assert row["tactics"][:2] == ["DIST-ALARM", "TEAM-LOOKOUT"]
    assert row["vehicle_registrations"] == [store.pseudonyms.registration("AB12 CDE")]  # a pseudonym, not the plate
    assert (row["crime_ref_status"], row["crime_ref_normalised"], row["eligibility"]) == ("valid", "SX/12345678/25", "referable")
    assert row["goods_categories"] == ["ALCOHOL", "RAZORS"]


def test_resends_collapse_and_the_latest_revision_wins(store: ClickHouseStore) -> None:
    first = checked_incident()
    revised = checked_incident(incident={"id": "NW-2025-TEST-1", "revision": 2}, police={"crime_reference": None})
    other = checked_incident(incident={"id": "NW-2025-TEST-2", "revision": 1})
    store.insert("incidents", incidents.TABLE.insert_columns,
                 [incidents.row(first, store.pseudonyms), incidents.row(other, store.pseudonyms)])
    store.insert("incidents", incidents.TABLE.insert_columns, [incidents.row(revised, store.pseudonyms)])
    # an at-least-once replay of revision 1
    store.insert("incidents", incidents.TABLE.insert_columns, [incidents.row(first, store.pseudonyms)])
    latest = store.query("SELECT incident_id, revision, eligibility FROM incidents_latest ORDER BY incident_id").rows
    assert latest == [("NW-2025-TEST-1", 2, "pending"), ("NW-2025-TEST-2", 1, "referable")]


def test_dead_letters_keep_reasons_and_payload(store: ClickHouseStore) -> None:
    letter = Normaliser(StoreRegistry.load()).normalise(RawRecord("national_grocer", b"{oops", "raw", 1, 9, now_utc()))
    assert isinstance(letter, DeadLetter)
    store.insert("dead_letters", dead_letters.TABLE.insert_columns,
                 [dead_letters.row(json.loads(letter.model_dump_json()), store.pseudonyms)] * 2)
    rows = store.query("SELECT reason_problems, payload, offset FROM dead_letters FINAL").rows
    assert rows == [(["not-json"], "{oops", 9)]


def test_an_insert_leaves_nothing_for_the_cyclic_garbage_collector(store: ClickHouseStore) -> None:
    """The worker freezes what survives (crimelink.streams.engine.garbage): an insert that left its rows in a reference
    cycle would keep them for good."""
    rows = [incidents.row(checked_incident(incident={"id": f"NW-GC-{n}", "revision": 1}), store.pseudonyms)
            for n in range(50)]
    store.insert("incidents", incidents.TABLE.insert_columns, rows[:1])  # first-use set-up (caches, imports) out of the way
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        store.insert("incidents", incidents.TABLE.insert_columns, rows)
        del rows
        gc.collect()
        left = [type(item).__qualname__ for item in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
    assert store.query("SELECT count() FROM incidents").rows == [(51,)]  # and it still stored them all


def test_batch_sink_writes_one_insert_per_flush_and_keeps_rows_on_failure(store: ClickHouseStore) -> None:
    sink: BatchSink[Row] = BatchSink.for_table(store, incidents.TABLE)
    for number in range(5):
        sink.add(checked_incident(incident={"id": f"NW-{number}", "revision": 1}))
    assert sink.flush() == 5 and len(sink) == 0
    assert store.query("SELECT count() FROM incidents").rows == [(5,)]

    broken: BatchSink[Row] = BatchSink(store, "no_such_table", incidents.TABLE.insert_columns,
                                        lambda item: incidents.row(item, store.pseudonyms))
    broken.add(checked_incident())
    with pytest.raises(SinkWriteError, match=r"1 row\(s\) to .*no_such_table"):
        broken.flush()
    assert len(broken) == 1  # nothing dropped: the caller retries


def test_the_analysts_reader_cannot_write_and_does_not_stop_the_sink_writing(store: ClickHouseStore) -> None:
    reader = store.analyst_reader(QuerySettings())
    with pytest.raises(ReadOnlyViolation, match="INSERT is not allowed"):
        reader.query("INSERT INTO schema_migrations (version) VALUES (99)")
    with pytest.raises(ReadOnlyViolation, match="read-only"):  # ClickHouse's own readonly=1, below the guard
        reader.trusted_query("INSERT INTO schema_migrations (version) VALUES (99)")
    assert reader.query("SELECT count() FROM incidents").rows == [(0,)]
    store.insert("incidents", incidents.TABLE.insert_columns, [incidents.row(checked_incident(), store.pseudonyms)])
    assert reader.query("SELECT count() FROM incidents").rows == [(1,)]


def test_parameters_are_bound_not_pasted(store: ClickHouseStore) -> None:
    result = store.query("SELECT {name:String} AS value", {"name": "x'); DROP TABLE incidents; --"})
    assert result.rows == [("x'); DROP TABLE incidents; --",)]


def test_every_dashboard_query_runs(store: ClickHouseStore) -> None:
    from crimelink.sinks.queries import STATS_QUERIES

    store.insert("incidents", incidents.TABLE.insert_columns, [incidents.row(checked_incident(), store.pseudonyms)])
    reader = store.analyst_reader(QuerySettings())
    for sql in STATS_QUERIES.values():
        reader.query(sql)  # raises if a query no longer fits the schema, or the analysts' guard refuses it
    assert reader.query(STATS_QUERIES["totals"]).as_dicts()[0]["referable"] == 1


def test_grafana_dashboard_matches_the_worker_dashboard_and_runs(store: ClickHouseStore) -> None:
    """The Grafana panels (for ClickHouse-server deployments) carry the same SQL, qualified with the database."""
    import json

    from scripts.build_grafana import TARGET, render

    assert TARGET.read_text() == render(), "run python scripts/build_grafana.py"
    reader = store.analyst_reader(QuerySettings())
    for panel in json.loads(TARGET.read_text())["panels"]:
        sql = panel["targets"][0]["rawSql"].replace("crimelink.", f"`{store.database}`.")
        reader.query(sql)


def test_every_table_column_is_documented_and_the_latest_view_has_every_column(store: ClickHouseStore) -> None:
    undocumented = store.query(
        "SELECT table, name FROM system.columns WHERE database = {db:String} AND comment = '' "
        "AND table IN (SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree%')",
        {"db": store.database}).rows
    assert undocumented == []
    view = {row[0] for row in store.query("DESCRIBE TABLE incidents_latest").rows}
    table = {row[0] for row in store.query("DESCRIBE TABLE incidents").rows}
    assert view == table


def test_each_table_keeps_rows_as_long_as_its_purpose_s_setting_says(chdb_dir) -> None:  # type: ignore[no-untyped-def]
    import uuid

    database = f"test_ttl_{uuid.uuid4().hex[:8]}"

    def ttls(**days: int) -> dict[str, str]:
        opened = ClickHouseStore(f"chdb://{chdb_dir}", database, retention=days)
        opened.setup()
        engines = opened.query("SELECT name, engine_full FROM system.tables WHERE database = {d:String}",
                               {"d": database}).rows
        opened.close()
        return {str(name): str(engine) for name, engine in engines}

    defaults = ttls()
    for table, days in {"incidents": 730, "links": 730, "series": 730, "dead_letters": 30, "sink_rejects": 30,
                        "retailer_feedback": 365, "alerts": 2192, "audit_log": 2192}.items():
        assert f"toIntervalDay({days})" in defaults[table], (table, defaults[table])
    changed = ttls(audit=30, dead_letters=7, alerts=3000)  # changed after the tables were made: applied at the start
    assert "toIntervalDay(30)" in changed["audit_log"]
    assert "toIntervalDay(7)" in changed["dead_letters"] and "toIntervalDay(7)" in changed["sink_rejects"]
    assert "toIntervalDay(3000)" in changed["alerts"] and "toIntervalDay(730)" in changed["incidents"]
    ClickHouseStore(f"chdb://{chdb_dir}", database).command(f"DROP DATABASE `{database}`")


def test_the_analysts_tables_hold_pseudonyms_and_the_clear_values_only_the_restricted_table(store: ClickHouseStore) -> None:
    """Registrations, descriptors and features are keyed pseudonyms in incidents, links and series; their clear values
    are in incident_identities alone; searching hashes what the analyst types."""
    incident = checked_incident()
    store.insert("incidents", incidents.TABLE.insert_columns, [incidents.row(incident, store.pseudonyms)])
    store.insert("incident_identities", incident_identities.TABLE.insert_columns,
                 [incident_identities.row(incident, store.pseudonyms)])
    analysts = store.query("SELECT * FROM incidents").as_dicts()[0]
    text = json.dumps(analysts, default=str)
    for clear in ("AB12CDE", "ab12 cde", "neck tattoo", "slim", "blue"):
        assert clear.lower() not in text.lower(), clear
    [description] = json.loads(analysts["offenders_json"])["descriptions"]
    assert description["build"] == store.pseudonyms.of("descriptor", "build=slim")
    assert description["distinguishing_features"] == [store.pseudonyms.of("feature", "neck tattoo")]
    searched = store.pseudonyms.expand_sql("SELECT count() FROM incidents "
                                           "WHERE has(vehicle_registrations, pseudonym('registration', 'ab12 cde'))")
    assert store.query(searched).rows == [(1,)]
    [(plates, pseudonyms, offenders)] = store.query(
        "SELECT vehicle_registrations, registration_pseudonyms, offenders_json FROM incident_identities").rows
    assert list(plates) == ["AB12CDE"] and list(pseudonyms) == analysts["vehicle_registrations"]
    assert "neck tattoo" in offenders
    link = {"a": "northway:1", "b": "northway:2", "score": 0.9, "strong": True, "at": "2025-03-01T10:00:00+00:00",
            "evidence": [{"feature": "vehicle", "weight": 0.85, "detail": "same vehicle AB12CDE"},
                         {"feature": "descriptors", "weight": 0.5,
                          "detail": "4 matching NPCC descriptors, shared feature neck tattoo"}]}
    built = links.row(link, store.pseudonyms)
    assert "AB12CDE" not in json.dumps(built, default=str) and "neck tattoo" not in json.dumps(built, default=str)
    assert store.pseudonyms.registration("AB12CDE") in built[5]
