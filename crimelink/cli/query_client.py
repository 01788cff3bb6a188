"""``crimelink query``: through the worker's web server for the embedded store, straight to a server otherwise."""

from __future__ import annotations

import csv
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from crimelink.errors import QueryError
from crimelink.settings import Settings, get_settings
from crimelink.sinks.clickhouse import QueryResult

__all__ = ["run_query", "print_result", "worker_url"]


def worker_url(settings: Settings) -> str:
    """The running worker's web address: recorded by the demo, else the configured one."""
    state = settings.home / "worker.json"
    if state.exists() and not settings.web.model_fields_set & {"port", "host"}:
        try:
            return str(json.loads(state.read_text())["web_url"])
        except (KeyError, ValueError):
            pass
    return settings.web.url


def run_query(sql: str, parameters: dict[str, Any], settings: Settings | None = None) -> QueryResult:
    settings = settings or get_settings()
    if not settings.is_embedded_store:
        from crimelink.sinks.clickhouse import ClickHouseStore
        from crimelink.sinks.readonly import check_read_only

        statement = check_read_only(sql)
        store = ClickHouseStore.from_settings(settings)
        try:
            store.setup()
            return store.read_only_query(statement, parameters)
        finally:
            store.close()
    url = f"{worker_url(settings)}/api/query"
    body = json.dumps({"sql": sql, "params": parameters}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]
        except (ValueError, KeyError):
            message = str(error)
        raise QueryError(message) from None
    except urllib.error.URLError as error:
        raise QueryError(
            f"no crimelink worker answers at {url} ({error.reason}); the embedded store is queried through "
            "the running worker: start it ('crimelink worker' or 'crimelink demo') or set CRIMELINK_WEB_PORT"
        ) from None
    return QueryResult(columns=payload["columns"], types=payload["types"], rows=[tuple(r) for r in payload["rows"]])


def print_result(result: QueryResult, output: str) -> None:
    if output == "json":
        json.dump([dict(zip(result.columns, row, strict=True)) for row in result.rows], sys.stdout, default=str, indent=1)
        sys.stdout.write("\n")
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*("" if value is None else str(value) for value in row))
        Console().print(table)
        Console(stderr=True).print(f"{len(result.rows)} row(s)", style="dim")
