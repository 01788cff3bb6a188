"""The worker's web server: read-only SQL for analysts, live stats, and the dashboard page.

With the embedded store this is the only way in while the worker runs: chDB lets one
process open the data directory, and that process is the worker.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from faust.web import Request, Response, View

from crimelink.correlation.evidence import render_html
from crimelink.errors import QueryError, ReadOnlyViolation
from sinks.clickhouse import QueryResult
from sinks.readonly import check_read_only
from streams import store
from streams.app import app

__all__ = ["QueryView", "StatsView", "EvidenceView", "DashboardView", "STATS_QUERIES"]

_DASHBOARD = Path(__file__).resolve().parent / "static" / "dashboard.html"

STATS_QUERIES: dict[str, str] = {
    "totals": """
        SELECT count() AS incidents,
               countIf(eligibility = 'referable') AS referable,
               countIf(eligibility = 'pending') AS pending,
               countIf(eligibility = 'invalid') AS invalid,
               countIf(eligibility = 'expired') AS expired,
               (SELECT count() FROM dead_letters FINAL) AS rejected
        FROM incidents_latest""",
    "daily": """
        SELECT day, region_id, uniqExactMerge(incidents) AS incidents
        FROM incidents_daily WHERE day >= today() - 27
        GROUP BY day, region_id ORDER BY day, region_id""",
    "force_grid": """
        SELECT f.region AS region_id, f.force AS force_id, countIf(a.alert_id != '') AS alerts
        FROM (SELECT region_id AS region, force_id AS force FROM incidents_daily GROUP BY region, force) AS f
        LEFT JOIN (SELECT alert_id, arrayJoin(forces) AS force FROM alerts FINAL) AS a ON a.force = f.force
        GROUP BY region_id, force_id ORDER BY region_id, force_id""",
    "by_force": """
        SELECT force_id, region_id, count() AS incidents, countIf(eligibility = 'referable') AS referable,
               sum(total_value_pence) / 100 AS value_pounds
        FROM incidents_latest GROUP BY force_id, region_id ORDER BY incidents DESC""",
    "by_region": """
        SELECT region_id, count() AS incidents, uniqExact(force_id) AS forces
        FROM incidents_latest GROUP BY region_id ORDER BY incidents DESC""",
    "top_tactics": """
        SELECT arrayJoin(tactics) AS tactic, count() AS incidents
        FROM incidents_latest GROUP BY tactic ORDER BY incidents DESC LIMIT 10""",
    "top_goods": """
        SELECT arrayJoin(goods_categories) AS goods, count() AS incidents, sum(total_value_pence) / 100 AS value_pounds
        FROM incidents_latest GROUP BY goods ORDER BY incidents DESC LIMIT 10""",
    "rejections": """
        SELECT retailer, arrayJoin(reason_problems) AS problem, count() AS records
        FROM dead_letters FINAL GROUP BY retailer, problem ORDER BY records DESC LIMIT 20""",
    "alerts": """
        SELECT alert_id, series_id, level, status, lead_force, length(forces) AS force_count,
               length(regions) AS region_count,
               incident_count, referable_count, total_value_pence / 100 AS value_pounds, at
        FROM alerts FINAL ORDER BY at DESC LIMIT 20""",
    "active_series": """
        SELECT series_id, incident_count, length(forces) AS force_count, length(regions) AS region_count,
               arrayStringConcat(forces, ', ') AS force_list, last_seen
        FROM series FINAL WHERE incident_count > 1 ORDER BY last_seen DESC LIMIT 20""",
    "pending_by_retailer": """
        SELECT retailer, eligibility, count() AS incidents
        FROM incidents_latest WHERE eligibility != 'referable'
        GROUP BY retailer, eligibility ORDER BY incidents DESC""",
}


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def to_json(result: QueryResult) -> bytes:
    payload = {"columns": result.columns, "types": result.types, "rows": [list(row) for row in result.rows]}
    return json.dumps(payload, default=_json_default).encode()


def to_csv(result: QueryResult) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return buffer.getvalue().encode()


async def run_read_only(sql: str, parameters: dict[str, Any]) -> QueryResult:
    statement = check_read_only(sql)
    active = store.store()
    return await store.call(lambda: active.read_only_query(statement, parameters))


@app.page("/api/query")
class QueryView(View):
    """GET ?sql=...&format=json|csv&param_NAME=value, or POST {"sql", "params", "format"}."""

    async def get(self, request: Request) -> Response:
        query = request.query  # type: ignore[attr-defined]
        parameters = {key[len("param_"):]: value for key, value in query.items() if key.startswith("param_")}
        return await self._answer(query.get("sql", ""), parameters, query.get("format", "json"))

    async def post(self, request: Request) -> Response:
        try:
            body = json.loads(await request.read())  # type: ignore[attr-defined]
        except ValueError:
            return self._error(400, "the request body must be JSON: {\"sql\": ..., \"params\": {...}}")
        return await self._answer(str(body.get("sql", "")), dict(body.get("params") or {}), str(body.get("format", "json")))

    async def _answer(self, sql: str, parameters: dict[str, Any], output: str) -> Response:
        if output not in ("json", "csv"):
            return self._error(400, f"format must be json or csv, not {output!r}")
        try:
            result = await run_read_only(sql, parameters)
        except ReadOnlyViolation as error:
            return self._error(400, str(error))
        except QueryError as error:
            return self._error(422, str(error))
        if output == "csv":
            return self.bytes(to_csv(result), content_type="text/csv")
        return self.bytes(to_json(result), content_type="application/json")

    def _error(self, status: int, message: str) -> Response:
        return self.bytes(json.dumps({"error": message}).encode(), content_type="application/json", status=status)


@app.page("/api/stats")
class StatsView(View):
    """Everything the dashboard and the demo's live view show, in one call."""

    async def get(self, request: Request) -> Response:
        active = store.store()

        def collect() -> dict[str, Any]:
            return {name: active.query(sql).as_dicts() for name, sql in STATS_QUERIES.items()}

        return self.bytes(json.dumps(await store.call(collect), default=_json_default).encode(),
                          content_type="application/json")


@app.page("/alerts/{alert_id}/evidence")
class EvidenceView(View):
    """An alert's evidence package: HTML by default, ?format=json or ?format=md."""

    async def get(self, request: Request, alert_id: str) -> Response:
        active = store.store()
        result = await store.call(lambda: active.read_only_query(
            "SELECT evidence_json, evidence_markdown FROM alerts FINAL WHERE alert_id = {id:String}", {"id": alert_id}))
        if not result.rows:
            return self.bytes(json.dumps({"error": f"no alert {alert_id}"}).encode(), content_type="application/json",
                              status=404)
        package_json, markdown = result.rows[0]
        output = request.query.get("format", "html")  # type: ignore[attr-defined]
        if output == "json":
            return self.bytes(package_json.encode(), content_type="application/json")
        if output == "md":
            return self.bytes(markdown.encode(), content_type="text/markdown; charset=utf-8")
        return self.html(render_html(json.loads(package_json)))


@app.page("/")
class DashboardView(View):
    async def get(self, request: Request) -> Response:
        return self.html(_DASHBOARD.read_text())
