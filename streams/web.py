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

from crimelink.errors import QueryError, ReadOnlyViolation
from crimelink.linkage.evidence import render_html
from crimelink.sinks.clickhouse import QueryResult
from crimelink.sinks.queries import STATS_QUERIES
from crimelink.sinks.readonly import check_read_only
from crimelink.streams.store import StoreThread
from crimelink.streams.wiring import Wiring

__all__ = ["install"]

_DASHBOARD = Path(__file__).resolve().parent / "static" / "dashboard.html"


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


async def run_read_only(store: StoreThread, sql: str, parameters: dict[str, Any]) -> QueryResult:
    statement = check_read_only(sql)
    active = store.store
    return await store.call(lambda: active.read_only_query(statement, parameters))


def install(app: Any, wiring: Wiring) -> None:
    """Adds the query API, the stats, the evidence pages and the dashboard to ``app``'s web server."""
    store = wiring.store

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
            return await self._answer(str(body.get("sql", "")), dict(body.get("params") or {}),
                                      str(body.get("format", "json")))

        async def _answer(self, sql: str, parameters: dict[str, Any], output: str) -> Response:
            if output not in ("json", "csv"):
                return self._error(400, f"format must be json or csv, not {output!r}")
            try:
                result = await run_read_only(store, sql, parameters)
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
            active = store.store

            def collect() -> dict[str, Any]:
                return {name: active.query(sql).as_dicts() for name, sql in STATS_QUERIES.items()}

            return self.bytes(json.dumps(await store.call(collect), default=_json_default).encode(),
                              content_type="application/json")

    @app.page("/alerts/{alert_id}/evidence")
    class EvidenceView(View):
        """An alert's evidence package: HTML by default, ?format=json or ?format=md."""

        async def get(self, request: Request, alert_id: str) -> Response:
            active = store.store
            result = await store.call(lambda: active.read_only_query(
                "SELECT evidence_json, evidence_markdown FROM alerts FINAL WHERE alert_id = {id:String}",
                {"id": alert_id}))
            if not result.rows:
                return self.bytes(json.dumps({"error": f"no alert {alert_id}"}).encode(),
                                  content_type="application/json", status=404)
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
