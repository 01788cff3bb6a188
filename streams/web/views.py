"""The worker's endpoints, each behind the door (``crimelink.streams.web.door``) and each recorded in the access log.

========================================  ==================  ==========================================================
path                                      roles               what
========================================  ==================  ==========================================================
``/healthz``                              anyone              the worker answers
``/login``, ``/logout``                   anyone / signed in  the browser's session
``/``                                     signed in           the dashboard (analyst), or the page of the caller's role
``/api/whoami``                           signed in           who the token or session is
``/api/query``                            analyst             free read-only SQL (justification)
``/api/stats``                            analyst             the dashboard's figures
``/api/alerts``                           analyst, force      alerts (a force: those touching its forces)
``/api/series``                           analyst, force      series (a force: those touching its forces)
``/api/incidents/{r}/{id}``               analyst, force      one incident in full (justification)
``/api/incidents/{r}/{id}/crime-number``  force               the force enters the crime number it issued (POST)
``/alerts/{id}/evidence``                 analyst, force      the evidence package: HTML, ?format=json|md (justification)
``/api/backlog``                          retailer, analyst   a retailer's backlog, filtered and paged (a retailer: its own)
``/api/feedback/{r}/{id}``                retailer, analyst   one incident's status history (a retailer: its own only)
``/api/audit``                            admin               the access log
``/api/erase``                            admin               erase one incident everywhere (POST; the reason as justification)
========================================  ==================  ==========================================================
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from faust.web import Request, Response

from crimelink.access.audit import AuditEvent, Category, Outcome
from crimelink.access.principals import Principal, Role
from crimelink.access.sessions import COOKIE
from crimelink.errors import CrimeNumberRefused, QueryError, ReadOnlyViolation
from crimelink.linkage.evidence import render_html, render_markdown
from crimelink.schemas.outcomes import BACKLOG_STATUSES
from crimelink.settings import RETAILER_ID
from crimelink.sinks.clickhouse import AnalystReader, QueryResult
from crimelink.sinks.queries import STATS_QUERIES
from crimelink.streams.erasure import IncidentEraser
from crimelink.streams.force_crime_numbers import ForceCrimeNumbers
from crimelink.streams.store import StoreThread
from crimelink.streams.web.door import Door, SecureView
from crimelink.streams.web.formats import json_default, to_csv, to_json
from crimelink.streams.web.pages import login_page, signed_in_bar, table_page

__all__ = ["install_views"]

_DASHBOARD = Path(__file__).resolve().parent.parent / "static" / "dashboard.html"
_LOGIN_COOKIE = "crimelink_login"
ANALYST = frozenset({Role.ANALYST})
SIGNED_IN = frozenset(Role)
_ALERT_COLUMNS = ("alert_id, series_id, level, status, lead_force, forces, regions, incident_count, referable_count, "
                  "total_value_pence / 100 AS value_pounds, at")


def install_views(app: Any, door: Door, store: StoreThread, eraser: IncidentEraser,
                  force_numbers: ForceCrimeNumbers) -> None:
    """Adds every endpoint of the table above to ``app``."""
    SecureView.door = door
    dashboard_html = _DASHBOARD.read_text()
    script = dashboard_html.split("<script>", 1)[1].split("</script>", 1)[0]
    script_hash = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    dashboard_csp = (f"default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; "
                     "connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
                     "base-uri 'none'")

    async def read(function: Any) -> Any:
        return await store.read(function)

    async def rows(view: SecureView, request: Request, event: AuditEvent,
                   fetch: Callable[[AnalystReader], QueryResult]) -> Response:
        """``fetch``'s rows as JSON, recorded in the access log (with how many) before they leave."""
        async def run() -> tuple[Response, int]:
            result = await read(fetch)
            return view.bytes(to_json(result), content_type="application/json"), len(result.rows)

        return await view.audited(request, event, run)

    @app.page("/healthz")
    class Health(SecureView):
        roles = None
        action = "healthz"

        async def get(self, request: Request) -> Response:
            return self.bytes(b'{"status": "ok"}', content_type="application/json")

    @app.page("/login")
    class Login(SecureView):
        roles = None
        page = True
        action = "login"

        async def get(self, request: Request) -> Response:
            token = secrets.token_urlsafe(24)
            response = self.html(login_page(token, _safe_next(request.query.get("next", "/"))))
            response.set_cookie(_LOGIN_COOKIE, token, max_age=900, **door.cookie_flags)
            return response

        async def post(self, request: Request) -> Response:
            form = await request.post()
            name, secret = str(form.get("name", "")).strip()[:64], str(form.get("secret", ""))
            next_path = _safe_next(str(form.get("next", "/")))
            keys = (f"name:{name}", f"client:{request.remote}")
            expected = request.cookies.get(_LOGIN_COOKIE, "")
            if not expected or not secrets.compare_digest(expected, str(form.get("csrf", ""))):
                return self._refused(request, name, next_path, 403, "the login form expired: try again",
                                     "login form token missing or wrong")
            if door.throttle.locked(*keys):
                return self._refused(request, name, next_path, 429, "too many failed attempts: wait five minutes",
                                     "locked after repeated failures")
            principal = await asyncio.to_thread(door.users.authenticate_password, name, secret)
            if principal is None:
                door.throttle.failed(*keys)
                return self._refused(request, name, next_path, 401, "wrong name, password or token",
                                     "wrong name, password or token")
            door.throttle.succeeded(*keys)
            session = door.sessions.create(principal)
            await door.trail.record(AuditEvent(Category.AUTHENTICATION, "login", principal, client=request.remote or ""))
            response = self.bytes(b"", status=303, headers={"Location": next_path})
            response.set_cookie(COOKIE, session.id, **door.cookie_flags)
            response.del_cookie(_LOGIN_COOKIE, path="/")
            return response

        def _refused(self, request: Request, name: str, next_path: str, status: int, message: str,
                     detail: str) -> Response:
            door.trail.later(AuditEvent(Category.AUTHENTICATION, "login", Principal(name, None),
                                        client=request.remote or "", outcome=Outcome.REFUSED, detail=detail))
            token = secrets.token_urlsafe(24)
            response = self.html(login_page(token, next_path, message), status=status)
            response.set_cookie(_LOGIN_COOKIE, token, max_age=900, **door.cookie_flags)
            return response

    @app.page("/logout")
    class Logout(SecureView):
        roles = SIGNED_IN
        action = "logout"

        async def post(self, request: Request) -> Response:
            caller = self.caller(request)
            if caller.session is not None:
                door.sessions.end(caller.session.id)
            await door.trail.record(caller.event(Category.AUTHENTICATION, "logout"))
            response = self.bytes(b"", status=303, headers={"Location": "/login"})
            response.del_cookie(COOKIE, path="/")
            return response

    @app.page("/")
    class Home(SecureView):
        """The analyst's dashboard; the other roles get the page of what they may see."""

        roles = SIGNED_IN
        page = True
        action = "home"

        async def get(self, request: Request) -> Response:
            caller = self.caller(request)
            principal = caller.principal
            csrf = caller.session.csrf if caller.session else ""
            bar = signed_in_bar(principal.name, str(principal.role), csrf) if caller.session else ""
            if principal.role is Role.ANALYST:
                page = dashboard_html.replace("<!--SESSION-->", f"<meta name='csrf-token' content='{csrf}'>{bar}")
                response = self.html(page)
                response.headers["Content-Security-Policy"] = dashboard_csp
                return response
            if principal.role is Role.FORCE:
                event = caller.event(Category.CONSULTATION, "alerts", object=",".join(principal.forces))

                async def alerts() -> tuple[Response, int]:
                    result = await read(lambda r: _force_alerts(r, principal))
                    rows = [[row[0], row[4], ", ".join(row[5]), row[7], row[2]] for row in result.rows]
                    return self.html(table_page(
                        f"Alerts touching {', '.join(principal.forces)}", bar,
                        "Each alert's evidence package asks why you open it, and records it.",
                        ["alert", "lead force", "forces", "incidents", "level"], rows,
                        links={0: "/alerts/{}/evidence"})), len(rows)

                return await self.audited(request, event, alerts)
            if principal.role is Role.RETAILER:
                event = caller.event(Category.CONSULTATION, "backlog", object=",".join(principal.retailers))

                async def backlog() -> tuple[Response, int]:
                    result = await read(lambda r: _backlog(r, list(principal.retailers)))
                    return self.html(table_page(f"Backlog of {', '.join(principal.retailers)}", bar,
                                                "Incidents rejected, awaiting a valid crime number, or expired.",
                                                result.columns, result.rows)), len(result.rows)

                return await self.audited(request, event, backlog)
            return self.html(table_page("crimelink administration", bar, "Administrators manage users with "
                                        "'crimelink users' and read the access log with 'crimelink audit'.", [], []))

    @app.page("/api/whoami")
    class WhoAmI(SecureView):
        roles = SIGNED_IN
        action = "whoami"

        async def get(self, request: Request) -> Response:
            principal = self.caller(request).principal
            return _json(self, {"name": principal.name, "role": principal.role, "forces": principal.forces,
                                "retailers": principal.retailers, "via": principal.via})

    @app.page("/api/query")
    class Query(SecureView):
        """GET ?sql=...&format=json|csv&param_NAME=value, or POST {"sql", "params", "format"}."""

        roles = ANALYST
        personal = frozenset({"get", "post"})
        action = "query"

        async def get(self, request: Request) -> Response:
            query = request.query
            parameters = {key[len("param_"):]: value for key, value in query.items() if key.startswith("param_")}
            return await self._answer(request, query.get("sql", ""), parameters, query.get("format", "json"))

        async def post(self, request: Request) -> Response:
            body = await request.read()
            try:
                document = json.loads(body)
                if not isinstance(document, dict):
                    raise ValueError
            except ValueError:
                return self.problem(400, "the request body must be a JSON object: {\"sql\": ..., \"params\": {...}}")
            parameters = document.get("params") or {}
            if not isinstance(parameters, dict):
                return self.problem(400, "params must be an object of NAME: value")
            return await self._answer(request, str(document.get("sql", "")), {str(k): v for k, v in parameters.items()},
                                      str(document.get("format", "json")))

        async def _answer(self, request: Request, sql: str, parameters: dict[str, Any], output: str) -> Response:
            if output not in ("json", "csv"):
                return self.problem(400, f"format must be json or csv, not {output[:20]!r}")
            caller = self.caller(request)
            event = caller.event(Category.CONSULTATION if output == "json" else Category.DISCLOSURE, "query",
                                 object=sql, recipient=caller.principal.name if output == "csv" else "")

            async def run() -> tuple[Response, int]:
                try:
                    expanded = store.store.pseudonyms.expand_sql(sql)  # pseudonym('registration', '...')
                except ValueError as error:
                    return self.problem(400, str(error)), 0
                try:
                    result = await read(lambda r: r.query(expanded, parameters))
                except ReadOnlyViolation as error:  # refused by the guard or the engine: 400
                    return self.problem(400, str(error)), 0
                except QueryError as error:  # failed, or stopped at a limit (QueryLimitExceeded): 422
                    return self.problem(422, str(error)), 0
                if output == "csv":
                    return self.bytes(to_csv(result), content_type="text/csv"), len(result.rows)
                return self.bytes(to_json(result), content_type="application/json"), len(result.rows)

            return await self.audited(request, event, run)

    @app.page("/api/stats")
    class Stats(SecureView):
        """Everything the dashboard and the demo's live view show, in one call."""

        roles = ANALYST
        action = "stats"

        async def get(self, request: Request) -> Response:
            event = self.caller(request).event(Category.CONSULTATION, "stats", object="dashboard figures")

            async def run() -> tuple[Response, int]:
                def collect(reader: AnalystReader) -> dict[str, Any]:
                    return {name: reader.trusted_query(sql).as_dicts() for name, sql in STATS_QUERIES.items()}

                figures = await read(collect)
                return _json(self, figures), sum(len(rows) for rows in figures.values())

            return await self.audited(request, event, run)

    @app.page("/api/alerts")
    class Alerts(SecureView):
        roles = frozenset({Role.ANALYST, Role.FORCE})
        action = "alerts"

        async def get(self, request: Request) -> Response:
            caller = self.caller(request)
            event = caller.event(Category.CONSULTATION, "alerts", object=",".join(caller.principal.forces) or "all")
            return await rows(self, request, event, lambda reader: _force_alerts(reader, caller.principal))

    @app.page("/api/series")
    class SeriesView(SecureView):
        roles = frozenset({Role.ANALYST, Role.FORCE})
        action = "series"

        async def get(self, request: Request) -> Response:
            caller = self.caller(request)
            principal = caller.principal
            event = caller.event(Category.CONSULTATION, "series", object=",".join(principal.forces) or "all")
            scope, parameters = _force_scope(principal)
            return await rows(self, request, event, lambda reader: reader.trusted_query(
                "SELECT series_id, incident_count, forces, regions, tactics, goods, first_seen, last_seen, "
                f"total_value_pence / 100 AS value_pounds FROM series FINAL WHERE {scope} "
                "ORDER BY last_seen DESC LIMIT 500", parameters))

    @app.page("/api/incidents/{retailer}/{incident_id}")
    class IncidentView(SecureView):
        roles = frozenset({Role.ANALYST, Role.FORCE})
        personal = frozenset({"get"})
        action = "incident"

        async def get(self, request: Request, retailer: str, incident_id: str) -> Response:
            caller = self.caller(request)
            event = caller.event(Category.CONSULTATION, "incident", object=f"{retailer}/{incident_id}",
                                 detail="with its clear registrations and descriptions (incident_identities)")

            async def run() -> tuple[Response, int]:
                result = await read(lambda r: r.trusted_query(
                    "SELECT * FROM incidents_latest WHERE retailer = {r:String} AND incident_id = {i:String}",
                    {"r": retailer, "i": incident_id}))
                rows = result.as_dicts()
                if not rows or not caller.principal.sees_forces([str(rows[0].get("force_id", ""))]):
                    return self.problem(404, f"no incident {retailer}/{incident_id} you may see"), 0
                incident = rows[0]
                clear = (await read(lambda r: r.trusted_query(
                    "SELECT vehicle_registrations, vehicles_json, offenders_json FROM incident_identities FINAL "
                    "WHERE retailer = {r:String} AND incident_id = {i:String} AND version = {v:UInt64}",
                    {"r": retailer, "i": incident_id, "v": incident["version"]}))).as_dicts()
                if clear:  # in one incident's view the job needs the values themselves: the read above is logged
                    incident |= {"vehicle_pseudonyms": incident["vehicle_registrations"], **clear[0]}
                return _json(self, incident), 1

            return await self.audited(request, event, run)

    @app.page("/api/incidents/{retailer}/{incident_id}/crime-number")
    class ForceCrimeNumber(SecureView):
        """POST {"crime_reference", "force_id"?}: a force's liaison enters the crime number its force issued for an
        incident in its area (the incident's crime number then says ``force`` and who entered it)."""

        roles = frozenset({Role.FORCE})
        action = "force-crime-number"

        async def post(self, request: Request, retailer: str, incident_id: str) -> Response:
            try:
                document = json.loads(await request.read())
                reference = document["crime_reference"]
                force_id = document.get("force_id")
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.problem(400, 'the request body must be a JSON object: {"crime_reference": ..., '
                                         '"force_id": (optional, the issuing force when not the store\'s)}')
            if not isinstance(reference, str) or not 0 < len(reference.strip()) <= 64 \
                    or not (force_id is None or (isinstance(force_id, str) and RETAILER_ID.fullmatch(force_id))):
                return self.problem(400, "crime_reference must be 1 to 64 characters and force_id a force id")
            caller = self.caller(request)
            event = caller.event(Category.ALTERATION, "force-crime-number", object=f"{retailer}:{incident_id}"[:300],
                                 detail=f"crime number {reference.strip()!r} entered for force {force_id or 'of the store'}")

            async def run() -> tuple[Response, int]:
                try:
                    answer = await force_numbers.enter(caller.principal, retailer, incident_id, reference.strip(),
                                                       force_id, event)
                except CrimeNumberRefused as refused:
                    return self.problem(refused.status, str(refused)), 0
                return self.bytes(json.dumps(answer).encode(), content_type="application/json", status=202), 1

            return await self.audited(request, event, run)

    @app.page("/alerts/{alert_id}/evidence")
    class Evidence(SecureView):
        """An alert's evidence package: HTML by default, ?format=json or ?format=md (a download: a disclosure)."""

        roles = frozenset({Role.ANALYST, Role.FORCE})
        page = True
        personal = frozenset({"get"})
        action = "evidence"

        async def get(self, request: Request, alert_id: str) -> Response:
            caller = self.caller(request)
            output = request.query.get("format", "html")
            if output not in ("html", "json", "md"):
                return self.problem(400, "format must be html, json or md")
            export = output != "html"
            event = caller.event(Category.DISCLOSURE if export else Category.CONSULTATION,
                                 "evidence-export" if export else "evidence", object=alert_id,
                                 recipient=caller.principal.name if export else "")

            async def run() -> tuple[Response, int]:
                result = await read(lambda r: r.trusted_query(
                    "SELECT evidence_json, forces FROM alerts FINAL WHERE alert_id = {id:String}",
                    {"id": alert_id}))
                if not result.rows or not caller.principal.sees_forces(list(result.rows[0][1])):
                    return self.problem(404, f"no alert {alert_id} you may see"), 0
                # The Markdown is rendered from the JSON here, escaped, rather than read from evidence_markdown: rows
                # stored before escaping existed carry the old, unescaped rendering.
                package_json = result.rows[0][0]
                package = json.loads(package_json)
                count = len(package.get("evidence", [])) + len(package.get("awaiting_crime_number", []))
                if output == "json":
                    return self.bytes(package_json.encode(), content_type="application/json"), count
                if output == "md":
                    response = self.bytes(render_markdown(package).encode(), content_type="text/markdown",
                                          headers={"Content-Disposition": f"attachment; filename=\"{_file(alert_id)}.md\""})
                    response.charset = "utf-8"
                    return response, count
                return self.html(render_html(package)), count

            return await self.audited(request, event, run)

    @app.page("/api/backlog")
    class Backlog(SecureView):
        """A retailer's backlog: its own for a retailer user (?retailer= must be one of its own), any for an
        analyst (?retailer= required). Filters: ?status=pending,invalid (rejected, pending, invalid, expired),
        ?since= (an ISO time, or 30m, 12h, 7d), ?limit= and ?offset= (pages, in deadline order)."""

        roles = frozenset({Role.RETAILER, Role.ANALYST})
        action = "backlog"

        async def get(self, request: Request) -> Response:
            caller = self.caller(request)
            asked = request.query.get("retailer", "")
            retailers = _own_retailers(self, caller, asked, "backlog")
            if not isinstance(retailers, list):  # the refusal (an aiohttp response, not faust.web's Response type)
                return retailers
            query = request.query
            statuses = [part.strip() for part in query.get("status", "").split(",") if part.strip()]
            try:
                unknown = sorted(set(statuses) - set(BACKLOG_STATUSES))
                if unknown:
                    raise ValueError(f"status must be among {', '.join(BACKLOG_STATUSES)}; not {', '.join(unknown)}")
                since = _parse_since(query.get("since", ""))
                limit = int(query["limit"]) if query.get("limit") else None
                offset = int(query.get("offset") or 0)
                if (limit is not None and not 1 <= limit <= 100_000) or not 0 <= offset <= 10_000_000:
                    raise ValueError("limit must be 1-100000 and offset 0-10000000")
            except ValueError as error:
                return self.problem(400, str(error)[:300])
            event = caller.event(Category.CONSULTATION, "backlog", object=",".join(retailers))
            return await rows(self, request, event, lambda reader: _backlog(reader, retailers, statuses=statuses,
                                                                           since=since, limit=limit, offset=offset))

    @app.page("/api/feedback/{retailer}/{incident_id}")
    class IncidentFeedback(SecureView):
        """One incident's status history as its retailer sees it (the retailer gateway's GET /v1/incidents/{id}):
        every status change, and the force whose crime number it needs. A retailer user sees its own only."""

        roles = frozenset({Role.RETAILER, Role.ANALYST})
        action = "incident-status"

        async def get(self, request: Request, retailer: str, incident_id: str) -> Response:
            caller = self.caller(request)
            owned = _own_retailers(self, caller, retailer, "incident-status")
            if not isinstance(owned, list):
                return owned
            event = caller.event(Category.CONSULTATION, "incident-status", object=f"{retailer}/{incident_id}")

            async def run() -> tuple[Response, int]:
                history, force = await read(lambda r: _feedback(r, retailer, incident_id))
                if not history.rows and not force.rows:
                    return self.problem(404, f"no incident {retailer}/{incident_id}"), 0
                return _json(self, {"retailer": retailer, "incident_id": incident_id,
                                    "force_id": force.rows[0][0] if force.rows else None,
                                    "history": history.as_dicts()}), len(history.rows)

            return await self.audited(request, event, run)

    @app.page("/api/audit")
    class Audit(SecureView):
        """The access log, newest first: ?user=&since=ISO time&action=&limit= (admins only)."""

        roles = frozenset({Role.ADMIN})
        action = "audit"

        async def get(self, request: Request) -> Response:
            caller = self.caller(request)
            query = request.query
            conditions, parameters = [], {}
            if query.get("user"):
                conditions.append("principal = {user:String}")
                parameters["user"] = query["user"]
            if query.get("action"):
                conditions.append("action = {action:String}")
                parameters["action"] = query["action"]
            try:
                since = _parse_since(query.get("since", ""))
                limit = max(1, min(int(query.get("limit", "1000")), 100_000))
            except ValueError as error:
                return self.problem(400, str(error))
            if since is not None:
                conditions.append("at >= {since:DateTime64(3)}")
                parameters["since"] = since
            where = " AND ".join(conditions) or "1"
            event = caller.event(Category.CONSULTATION, "audit", object=request.query_string[:500])
            return await rows(self, request, event, lambda reader: reader.trusted_query(
                f"SELECT * FROM audit_log FINAL WHERE {where} ORDER BY at DESC LIMIT {limit}", parameters))


    @app.page("/api/erase")
    class Erase(SecureView):
        """POST {"retailer", "incident_id"} with the reason as the justification: the incident out of every table,
        the gate's and the correlator's state and its series (admins only; the erasure itself is logged)."""

        roles = frozenset({Role.ADMIN})
        personal = frozenset({"post"})  # a reason is required, as for consulting
        action = "erase"

        async def post(self, request: Request) -> Response:
            try:
                document = json.loads(await request.read())
                retailer, incident_id = str(document["retailer"]), str(document["incident_id"])
            except (ValueError, KeyError, TypeError):
                return self.problem(400, 'the request body must be a JSON object: {"retailer": ..., "incident_id": ...}')
            if not RETAILER_ID.fullmatch(retailer) or not 0 < len(incident_id) <= 128:
                return self.problem(400, "retailer must be a retailer id and incident_id 1 to 128 characters")
            caller = self.caller(request)
            event = caller.event(Category.ERASURE, "erase", object=f"{retailer}:{incident_id}",
                                 detail=f"reason: {caller.justification}"[:500])

            async def run() -> tuple[Response, int]:
                answer = await eraser.erase(retailer, incident_id)
                removed = sum(answer["rows_removed"].values())
                event.detail = (f"reason: {caller.justification}; rows removed: "
                                f"{json.dumps(answer['rows_removed'])}")[:2000]
                return _json(self, answer), removed

            return await self.audited(request, event, run)


def _json(view: SecureView, payload: Any) -> Response:
    return view.bytes(json.dumps(payload, default=json_default).encode(), content_type="application/json")


def _force_scope(principal: Principal) -> tuple[str, dict[str, Any]]:
    """A WHERE clause limiting rows with a ``forces`` array to the principal's forces (all for an analyst)."""
    if principal.role is Role.ANALYST:
        return "1", {}
    return "hasAny(forces, {forces:Array(String)})", {"forces": list(principal.forces)}


def _force_alerts(reader: AnalystReader, principal: Principal) -> QueryResult:
    scope, parameters = _force_scope(principal)
    return reader.trusted_query(f"SELECT {_ALERT_COLUMNS} FROM alerts FINAL WHERE {scope} ORDER BY at DESC LIMIT 500",
                                parameters)


def _own_retailers(view: SecureView, caller: Any, asked: str, action: str) -> list[str] | Response:
    """The retailers a request may read: a retailer user its own only (another's is refused, and logged), an analyst
    the one it names."""
    principal = caller.principal
    if principal.role is Role.RETAILER:
        if asked and asked not in principal.retailers:
            view.door.trail.later(caller.event(Category.CONSULTATION, action, object=asked[:200],
                                               outcome=Outcome.REFUSED, detail="another retailer's data"))
            return view.problem(403, f"{principal.name} may see {', '.join(principal.retailers)} only")
        return [asked] if asked else list(principal.retailers)
    if not asked:
        return view.problem(400, "say which retailer: ?retailer=ID")
    return [asked]


def _backlog(reader: AnalystReader, retailers: list[str], *, statuses: list[str] | None = None,
             since: datetime | None = None, limit: int | None = None, offset: int = 0) -> QueryResult:
    conditions = ["retailer IN {retailers:Array(String)}"]
    parameters: dict[str, Any] = {"retailers": retailers}
    if statuses:
        conditions.append("current_status IN {statuses:Array(String)}")
        parameters["statuses"] = statuses
    if since is not None:
        conditions.append("updated_at >= {since:DateTime64(3)}")
        parameters["since"] = since
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    return reader.trusted_query(
        "SELECT retailer, incident_id, revision, current_status AS status, reason, action, deadline, updated_at "
        f"FROM retailer_backlog WHERE {' AND '.join(conditions)} "
        f"ORDER BY deadline IS NULL, deadline, updated_at, incident_id{page}", parameters)


def _feedback(reader: AnalystReader, retailer: str, incident_id: str) -> tuple[QueryResult, QueryResult]:
    where = {"r": retailer, "i": incident_id}
    history = reader.trusted_query(
        "SELECT status, revision, reason, action, deadline, at FROM retailer_feedback FINAL "
        "WHERE retailer = {r:String} AND incident_id = {i:String} ORDER BY at, status", where)
    force = reader.trusted_query(
        "SELECT crime_ref_force FROM incidents_latest WHERE retailer = {r:String} AND incident_id = {i:String} "
        "LIMIT 1", where)
    return history, force


def _safe_next(path: str) -> str:
    """Only a path on this server: never another site (an open redirect)."""
    parsed = urlparse(path)
    if parsed.scheme or parsed.netloc or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _file(alert_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", alert_id)[:80] or "evidence"


def _parse_since(text: str) -> datetime | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return datetime.now(UTC) - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"since must be an ISO time or 30m, 12h, 7d; not {text[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
