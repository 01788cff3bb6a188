"""The ClickHouse cluster's DDL (deploy/clickhouse/cluster.sql): generated from the same table definitions as the
single node's migrations, parsed by ClickHouse's own parser (chDB), and, without ``ON CLUSTER`` and replication,
making exactly the tables the migrations make."""

from __future__ import annotations

import uuid

from crimelink.sinks.clickhouse import ClickHouseStore
from crimelink.sinks.cluster_ddl import (
    CLUSTER,
    CLUSTER_FILE,
    DATABASE,
    cluster_statements,
    render_cluster_ddl,
    single_node_form,
)
from crimelink.sinks.tables import ALL


def test_the_committed_file_is_what_the_tables_make_now() -> None:
    assert render_cluster_ddl() == {CLUSTER_FILE: CLUSTER_FILE.read_text()}, "run 'crimelink schema'"


def test_every_table_is_replicated_on_the_cluster_and_every_statement_parses(store: ClickHouseStore) -> None:
    statements = cluster_statements()
    assert all(f" ON CLUSTER {CLUSTER}" in statement for statement in statements)
    tables = [statement for statement in statements if statement.startswith("CREATE TABLE")]
    assert len(tables) == len(ALL)
    assert all("ENGINE = Replicated" in statement and "'{replica}'" in statement for statement in tables)
    for statement in statements:  # ClickHouse's parser, as a cluster's server would read it (nothing runs)
        assert store.query(f"EXPLAIN AST {statement}").rows, statement


def _schema(store: ClickHouseStore, database: str) -> dict[str, object]:
    tables = store.query("SELECT name, engine, engine_full, sorting_key, partition_key, primary_key, comment FROM system.tables "
                         "WHERE database = {db:String} ORDER BY name", {"db": database}).rows
    columns = store.query("SELECT table, name, type, default_expression, comment FROM system.columns "
                          "WHERE database = {db:String} ORDER BY table, position", {"db": database}).rows
    return {"tables": tables, "columns": columns}


def test_without_the_cluster_it_makes_exactly_the_tables_the_migrations_make(store: ClickHouseStore) -> None:
    database = f"cluster_{uuid.uuid4().hex[:8]}"
    try:
        for statement in cluster_statements():
            store.command(single_node_form(statement).replace(f"`{DATABASE}`", f"`{database}`"))
        made, migrated = _schema(store, database), _schema(store, store.database)
        assert len(migrated["tables"]) > len(ALL) and len(migrated["columns"]) > 150  # tables, views and columns
        assert made == migrated
    finally:
        store.command(f"DROP DATABASE IF EXISTS `{database}`")
