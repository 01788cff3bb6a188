"""The client commands' way to the worker: its web API, with the caller's token (``CRIMELINK_TOKEN``) and, for personal
data, a justification. Always through the worker, whatever the store: that is where identity is checked and the access
log written."""

from __future__ import annotations

import csv
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from crimelink.errors import AccessError, JustificationRequired, NotAuthenticated, PermissionDenied, QueryError
from crimelink.safe_text import csv_cell, terminal_text
from crimelink.settings import Settings
from crimelink.sinks.clickhouse import QueryResult

__all__ = ["run_query", "call_worker", "print_result", "worker_url", "as_result"]

_ERRORS: dict[int, type[Exception]] = {401: NotAuthenticated, 403: PermissionDenied, 421: AccessError,
                                       428: JustificationRequired}


def worker_url(settings: Settings) -> str:
    """The running worker's web address: recorded by the demo, else the configured one."""
    state = settings.home / "worker.json"
    if state.exists() and not settings.web.model_fields_set & {"port", "host"}:
        try:
            return str(json.loads(state.read_text())["web_url"])
        except (KeyError, ValueError):
            pass
    return settings.web.url


def call_worker(settings: Settings, path: str, *, body: dict[str, Any] | None = None,
                query: dict[str, str] | None = None, justification: str | None = None) -> Any:
    """GET (or POST ``body``) ``path`` on the worker as the token's user; the decoded JSON answer."""
    token = settings.client.token.get_secret_value() if settings.client.token else ""
    if not token:
        raise NotAuthenticated("no token: set CRIMELINK_TOKEN to the token 'crimelink users add' printed "
                               "(the demo prints one as it starts)")
    url = f"{worker_url(settings)}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    why = justification if justification is not None else settings.client.justification
    if why:
        headers["X-Justification"] = " ".join(why.split())
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    context = ssl.create_default_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=settings.query.max_seconds + 30, context=context) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {error.code} from {url}"
        raise _ERRORS.get(error.code, QueryError)(message) from None
    except urllib.error.URLError as error:
        raise QueryError(
            f"no crimelink worker answers at {url} ({error.reason}): start it ('crimelink worker' or 'crimelink "
            "demo') or set CRIMELINK_WEB_PORT") from None


def as_result(payload: dict[str, Any]) -> QueryResult:
    return QueryResult(columns=payload["columns"], types=payload["types"], rows=[tuple(r) for r in payload["rows"]])


def run_query(sql: str, parameters: dict[str, Any], settings: Settings, justification: str | None = None) -> QueryResult:
    """An analyst's read-only SQL, through the worker (which checks it, limits it and logs it)."""
    return as_result(call_worker(settings, "/api/query", body={"sql": sql, "params": parameters},
                                 justification=justification))


def print_result(result: QueryResult, output: str) -> None:
    """Values are printed literally: control characters escaped in the table, formulas neutralised in CSV."""
    if output == "json":
        json.dump([dict(zip(result.columns, row, strict=True)) for row in result.rows], sys.stdout, default=str, indent=1)
        sys.stdout.write("\n")
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([csv_cell(column) for column in result.columns])
        writer.writerows([csv_cell(value) for value in row] for row in result.rows)
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table()
        for column in result.columns:
            table.add_column(Text(terminal_text(column)))
        for row in result.rows:
            table.add_row(*(Text("" if value is None else terminal_text(value)) for value in row))
        Console(markup=False, highlight=False).print(table)
        Console(stderr=True).print(f"{len(result.rows)} row(s)", style="dim")
