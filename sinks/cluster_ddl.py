"""The same tables for a ClickHouse cluster: every table and view of ``crimelink.sinks.tables``, as it is now, with
``ON CLUSTER`` and a Replicated engine, written to ``deploy/clickhouse/cluster.sql`` by ``crimelink schema`` (and
checked by ``crimelink schema --check``), so the cluster's DDL cannot drift from the single node's.

Why a file and not migrations: a cluster is created by its operator, once, with ClickHouse Keeper running; the
worker's migrations (``crimelink.sinks.migrations``) then find every table there and record nothing to do. One shard
of replicas needs no Distributed table (every replica holds every row); sharding the incidents is not designed yet
(docs/operations.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from crimelink.sinks.clickhouse import DEFAULT_RETENTION_DAYS
from crimelink.sinks.migrations import render
from crimelink.sinks.tables import ALL, incidents, incidents_daily, retailer_feedback
from crimelink.sinks.tables.base import Table

__all__ = ["CLUSTER_FILE", "DATABASE", "CLUSTER", "cluster_statements", "render_cluster_ddl", "single_node_form"]

CLUSTER_FILE = Path(__file__).resolve().parents[1] / "deploy" / "clickhouse" / "cluster.sql"
DATABASE = "crimelink"
CLUSTER = "crimelink"
"""The cluster's name in the servers' ``remote_servers`` configuration."""
_ENGINE = re.compile(r"^(\w*)MergeTree(?:\((.*)\))?$")
_NAMED = re.compile(r"^(CREATE (?:TABLE|VIEW|MATERIALIZED VIEW|DATABASE) IF NOT EXISTS \S+)", re.MULTILINE)
_REPLICATED = re.compile(r"ENGINE = Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?(.*?)\)$", re.MULTILINE)


def _replicated(table: Table) -> str:
    match = _ENGINE.match(table.engine)
    if match is None:
        raise ValueError(f"{table.name}: no Replicated form of engine {table.engine!r}")
    kind, arguments = match.group(1), match.group(2)
    # ClickHouse fills {shard}, {replica} (server macros) and {database}, {table} itself; doubled for str.format.
    path = "'/clickhouse/tables/{{shard}}/{{database}}/{{table}}', '{{replica}}'"
    return f"Replicated{kind}MergeTree({path}{', ' + arguments if arguments else ''})"


def _on_cluster(statement: str) -> str:
    named, count = _NAMED.subn(rf"\1 ON CLUSTER {CLUSTER}", statement.strip(), count=1)
    if count != 1:
        raise ValueError(f"no CREATE ... IF NOT EXISTS <name> to put ON CLUSTER after: {statement[:80]!r}")
    return named


def cluster_statements() -> list[str]:
    """Every statement, rendered for :data:`DATABASE`: the database, each table replicated, then the views."""
    tables = [render(_on_cluster(table.create().replace(f"ENGINE = {table.engine}", f"ENGINE = {_replicated(table)}", 1)),
                     DATABASE, DEFAULT_RETENTION_DAYS[table.retention])  # each purpose's default days
              for table in ALL]
    views = [render(_on_cluster(view), DATABASE, 0)
             for view in (incidents.LATEST_VIEW, retailer_feedback.BACKLOG_VIEW, incidents_daily.VIEW)]
    return [render(_on_cluster("CREATE DATABASE IF NOT EXISTS {db}"), DATABASE, 0), *tables, *views]


def render_cluster_ddl() -> dict[Path, str]:
    """``deploy/clickhouse/cluster.sql`` as ``crimelink schema`` writes it."""
    head = ("-- crimelink's ClickHouse tables for a cluster (one shard of replicas, ClickHouse Keeper), generated from\n"
            "-- crimelink.sinks.tables by `crimelink schema`: do not edit. Run once, on any one server:\n"
            "--     clickhouse-client --multiquery < deploy/clickhouse/cluster.sql\n"
            f"-- then point every worker at one of the servers (CRIMELINK_CLICKHOUSE_DSN), database {DATABASE}.\n")
    return {CLUSTER_FILE: head + "".join(f"\n{statement};\n" for statement in cluster_statements())}


def single_node_form(statement: str) -> str:
    """``statement`` without ``ON CLUSTER`` and with the plain engine: what a single server (or chDB) runs."""
    return _REPLICATED.sub(lambda match: f"ENGINE = {match.group(1)}"
                           + (f"({match.group(2)})" if match.group(2) else ""),
                           statement.replace(f" ON CLUSTER {CLUSTER}", ""))
