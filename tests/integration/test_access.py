"""Trust at the analyst's door, through the real worker: identity on every endpoint, each role's view, the access log,
the query path that cannot reach the host, browser safety and output safety. Each attack below worked on e173ccd."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from crimelink.errors import JustificationRequired, PermissionDenied, QueryError
from tests.conftest import RunningWorker, grocer_record, wait_until
from tests.integration.test_correlation import _group_incident, _send, _store_in

pytestmark = pytest.mark.integration
EVIL = "http://evil.example"


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def cookies(self) -> dict[str, str]:
        """Set-Cookie lines by cookie name (the whole line, attributes included)."""
        return {line.split("=", 1)[0]: line for line in self.headers.get_all("Set-Cookie") or []}


def call(worker: RunningWorker, path: str, *, method: str = "GET", token: str | None = None,
         headers: dict[str, str] | None = None, body: bytes | None = None, host: str | None = None) -> Answer:
    """One request, no redirect followed, Host and every header as given (what an attacker controls)."""
    connection = http.client.HTTPConnection("127.0.0.1", worker.web_port, timeout=60)
    sent = {"Host": host or f"127.0.0.1:{worker.web_port}", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {worker.tokens[token]}"
    connection.request(method, path, body=body, headers=sent)
    try:
        return Answer(connection.getresponse())
    finally:
        connection.close()


def login(worker: RunningWorker, name: str) -> tuple[str, str]:
    """Log in through the login page as a browser would; the session cookie and the page's CSRF token."""
    form_page = call(worker, "/login")
    login_cookie = form_page.cookies["crimelink_login"].split(";", 1)[0]
    form_token = re.search(r"name='csrf' value='([^']+)'", form_page.body.decode()).group(1)  # type: ignore[union-attr]
    answer = call(worker, "/login", method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie,
        "Origin": f"http://127.0.0.1:{worker.web_port}"},
        body=urllib.parse.urlencode({"name": name, "secret": worker.tokens[name], "csrf": form_token,
                                     "next": "/"}).encode())
    assert answer.status == 303, answer.body
    session_line = answer.cookies["crimelink_session"]
    assert "HttpOnly" in session_line and "SameSite=Strict" in session_line
    cookie = session_line.split(";", 1)[0]
    home = call(worker, "/", headers={"Cookie": cookie})
    csrf = re.search(r"name='csrf-token' content='([^']+)'", home.body.decode())
    return cookie, csrf.group(1) if csrf else ""


def _durham_incident(number: int) -> dict[str, Any]:
    """An incident in Durham that links to nothing of the planted group."""
    return grocer_record(incident={"id": f"FILL-{number}", "revision": 1}, store={"id": _store_in("durham", number)},
                         vehicles=[{"vrm": "DU15 LOC"}], offenders={"count": 1, "descriptions": []})


def audit_rows(worker: RunningWorker, **filters: str) -> list[dict[str, Any]]:
    answer = call(worker, "/api/audit?" + urllib.parse.urlencode(filters), token="admin")
    assert answer.status == 200, answer.body
    payload = answer.json()
    return [dict(zip(payload["columns"], row, strict=True)) for row in payload["rows"]]


def logged(worker: RunningWorker, found: Any, **filters: str) -> list[dict[str, Any]]:
    """The access log's rows once one satisfies ``found`` (the sink writes the audit topic within a second or so)."""
    def rows() -> list[dict[str, Any]] | None:
        listed = audit_rows(worker, **filters)
        return listed if any(found(row) for row in listed) else None

    return wait_until(rows, timeout=10, message="the event in the access log")  # type: ignore[no-any-return]


def routes() -> list[str]:
    """Every route the worker's web server has, read from the app itself (so a new view cannot be missed)."""
    from crimelink.settings import Settings
    from crimelink.streams.app import create_app

    app = create_app(Settings())
    paths = {resource.canonical for resource in app.web.web_app.router.resources()}
    return sorted(paths)


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = RunningWorker(kafka_bootstrap, tmp_path_factory.mktemp("access"), CRIMELINK_QUERY_MAX_SECONDS="6",
                            CRIMELINK_INTAKE_PROCESSES="0")
    running.start()
    # One alert across kent, essex and sussex; the first incident's id carries a '|' and a forged crime number.
    records = [_group_incident(1, "kent", 0), _group_incident(2, "kent", 10), _group_incident(3, "essex", 24),
               _group_incident(4, "sussex", 40)]
    records[0]["incident"]["id"] = "GRP-1| 99/XX/000001/25 |=HYPERLINK(\"http://evil.example\")"
    _send(running, records)
    wait_until(lambda: running.scalar("SELECT count() FROM alerts") >= 1, timeout=90, message="an alert")
    yield running
    running.stop()


def test_every_endpoint_but_health_and_login_asks_who_is_calling(worker: RunningWorker) -> None:
    paths = routes()
    assert "/healthz" in paths and "/api/query" in paths and "/alerts/{alert_id}/evidence" in paths
    for path in paths:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        answer = call(worker, concrete)
        if path in ("/healthz", "/login"):
            assert answer.status == 200, path
        else:
            assert answer.status in (401, 303, 405), (path, answer.status)
            if answer.status == 303:
                assert answer.headers["Location"].startswith("/login"), path
        assert "Access-Control-Allow-Origin" not in answer.headers  # no CORS, ever
    wrong = call(worker, "/api/stats", headers={"Authorization": "Bearer crl_0123456789abcdef_" + "A" * 43})
    assert wrong.status == 401


def test_fausts_own_pages_are_not_served(worker: RunningWorker) -> None:
    for path in ("/router/", "/table/", "/table/correlation-cases/x/", "/graph/", "/stats/", "/performance/"):
        assert call(worker, path, token="analyst").status == 404, path


def test_into_outfile_and_file_are_refused_through_the_api(worker: RunningWorker, tmp_path: Path) -> None:
    target = tmp_path / "crimelink-owned.pth"
    sql = urllib.parse.quote(f"SELECT 'import os' INTO OUTFILE '{target}'")
    answer = call(worker, f"/api/query?sql={sql}", token="analyst", headers={"X-Justification": "pytest attack"})
    assert answer.status == 400 and "INTO OUTFILE is not allowed" in answer.json()["error"]
    with pytest.raises(QueryError, match=re.escape("function file() is not allowed")):
        worker.query("SELECT file('/etc/passwd')")
    with pytest.raises(QueryError, match="audit_log is not open"):
        worker.query("SELECT * FROM audit_log")
    with pytest.raises(QueryError, match="incident_identities is not open"):  # the clear registrations
        worker.query("SELECT vehicle_registrations FROM incidents_latest AS i JOIN incident_identities AS c "
                     "USING (retailer, incident_id)")
    assert not target.exists()


def test_a_query_running_for_minutes_is_stopped_and_storage_goes_on_meanwhile(worker: RunningWorker) -> None:
    outcome: dict[str, Any] = {}

    def long_query() -> None:
        outcome["started"] = time.time()
        try:
            worker.query("SELECT count() FROM (SELECT arrayJoin(range(200000)) AS a) AS x "
                         "CROSS JOIN (SELECT arrayJoin(range(200000)) AS b) AS y WHERE cityHash64(a, b) % 7 = 1")
        except QueryError as error:
            outcome["error"] = str(error)
        outcome["ended"] = time.time()

    thread = threading.Thread(target=long_query)
    thread.start()
    time.sleep(1.0)
    _send(worker, [_durham_incident(n) for n in range(20)])
    thread.join(timeout=60)
    assert "time limit" in outcome["error"] and "CRIMELINK_QUERY_MAX_SECONDS" in outcome["error"]
    assert 5 <= outcome["ended"] - outcome["started"] < 20
    stored_during = worker.scalar(
        "SELECT count() FROM incidents WHERE incident_id LIKE 'FILL-%' AND ingested_at < fromUnixTimestamp64Milli("
        "{ended:Int64})", ended=str(int(outcome["ended"] * 1000) - 500))
    assert stored_during >= 1, "no incident was stored while the analyst's query ran"


def test_a_hostile_60_kb_query_neither_freezes_the_worker_nor_stops_it(worker: RunningWorker) -> None:
    hostile = "SELECT '" + "\\'" * 30_000 + "'"  # the old keyword guard backtracked for 23 s on this
    result: dict[str, Any] = {}

    def send() -> None:
        result["answer"] = call(worker, "/api/query", method="POST", token="analyst",
                                headers={"Content-Type": "application/json", "X-Justification": "pytest attack"},
                                body=json.dumps({"sql": hostile}).encode())

    thread = threading.Thread(target=send)
    started = time.monotonic()
    thread.start()
    health = call(worker, "/healthz")
    health_seconds = time.monotonic() - started
    thread.join(timeout=60)
    assert health.status == 200 and health_seconds < 2.0
    assert result["answer"].status in (200, 400, 422)


def test_personal_data_needs_a_justification_and_the_log_keeps_it(worker: RunningWorker) -> None:
    with pytest.raises(JustificationRequired, match="say why"):
        from crimelink.cli.query_client import run_query

        run_query("SELECT vehicles FROM incidents LIMIT 1", {}, worker.as_user("analyst", justification=""))
    alert_id = worker.scalar("SELECT any(alert_id) FROM alerts")
    assert call(worker, f"/alerts/{alert_id}/evidence?format=json", token="analyst").status == 428
    answer = call(worker, f"/alerts/{alert_id}/evidence?format=md", token="analyst",
                  headers={"X-Justification": "Op Falcon: Kent and Essex razor thefts"})
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/markdown")
    worker.query("SELECT count() FROM incidents")
    rows = logged(worker, lambda row: row["object"] == "SELECT count() FROM incidents", user="analyst")
    export = next(row for row in rows if row["action"] == "evidence-export")
    assert export["category"] == "disclosure" and export["recipient"] == "analyst" and export["object"] == alert_id
    assert export["justification"] == "Op Falcon: Kent and Essex razor thefts" and export["rows"] >= 3
    assert export["client"] == "127.0.0.1" and export["role"] == "analyst" and export["outcome"] == "ok"
    wait_until(lambda: any(row["outcome"] == "refused" and row["detail"] == "no justification"
                           for row in audit_rows(worker, user="analyst")), timeout=10,
               message="refusals are logged too (queued, written every half second)")
    consulted = next(row for row in rows if row["action"] == "query" and row["object"] == "SELECT count() FROM incidents")
    assert consulted["rows"] == 1 and consulted["justification"] == "pytest: checking the pipeline"


def test_each_role_sees_only_its_own(worker: RunningWorker) -> None:
    alert_id = worker.scalar("SELECT any(alert_id) FROM alerts")
    why = {"X-Justification": "pytest: role checks"}
    kent = call(worker, "/api/alerts", token="kent-liaison").json()
    assert [row[0] for row in kent["rows"]] == [alert_id]
    assert call(worker, "/api/alerts", token="durham-liaison").json()["rows"] == []
    assert call(worker, f"/alerts/{alert_id}/evidence?format=json", token="durham-liaison", headers=why).status == 404
    assert call(worker, f"/alerts/{alert_id}/evidence?format=json", token="kent-liaison", headers=why).status == 200
    durham_incident = "/api/incidents/northway/FILL-0"
    assert call(worker, durham_incident, token="kent-liaison", headers=why).status == 404
    assert call(worker, durham_incident, token="durham-liaison", headers=why).status == 200
    assert call(worker, "/api/query?sql=SELECT%201", token="kent-liaison", headers=why).status == 403  # no free SQL
    assert call(worker, "/api/stats", token="kent-liaison").status == 403

    own = call(worker, "/api/backlog", token="quikmart-dev")
    assert own.status == 200 and all(row[0] == "quikmart" for row in own.json()["rows"])
    assert call(worker, "/api/backlog?retailer=northway", token="quikmart-dev").status == 403
    assert call(worker, "/api/alerts", token="quikmart-dev").status == 403
    with pytest.raises(PermissionDenied):
        from crimelink.cli.query_client import run_query

        run_query("SELECT 1", {}, worker.as_user("quikmart-dev"))
    assert call(worker, "/api/audit", token="analyst").status == 403
    assert call(worker, "/api/query?sql=SELECT%201", token="admin", headers=why).status == 403


def test_browser_session_csrf_origin_and_host(worker: RunningWorker) -> None:
    cookie, csrf = login(worker, "analyst")
    assert csrf
    assert call(worker, "/api/stats", headers={"Cookie": cookie}).status == 403  # a cookie alone: no
    assert call(worker, "/api/stats", headers={"Cookie": cookie, "X-CSRF-Token": csrf}).status == 200
    forged = call(worker, "/api/query", method="POST", headers={
        "Cookie": cookie, "X-CSRF-Token": csrf, "Origin": EVIL, "Content-Type": "application/json",
        "X-Justification": "attack"}, body=b'{"sql": "SELECT 1"}')
    assert forged.status == 403
    simple_post = call(worker, "/api/query", method="POST", headers={
        "Cookie": cookie, "Content-Type": "text/plain", "X-Justification": "attack"}, body=b'{"sql": "SELECT 1"}')
    assert simple_post.status == 403  # a form or text/plain POST from any page: no CSRF token, refused
    cross_site = call(worker, "/api/stats", headers={"Cookie": cookie, "X-CSRF-Token": csrf,
                                                      "Sec-Fetch-Site": "cross-site"})
    assert cross_site.status == 403
    rebound = call(worker, "/api/stats", token="analyst", host=f"evil.example:{worker.web_port}")
    assert rebound.status == 421
    assert call(worker, "/healthz", host="evil.example").status == 421
    logout = call(worker, "/logout", method="POST", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert logout.status == 303
    assert call(worker, "/api/stats", headers={"Cookie": cookie, "X-CSRF-Token": csrf}).status == 401
    wait_until(lambda: {("login", "ok"), ("logout", "ok")} <= {(row["action"], row["outcome"])
                                                               for row in audit_rows(worker, since="10m")},
               timeout=10, message="login and logout in the access log")
    wrong = call(worker, "/login", method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"},
                 body=b"name=analyst&secret=nope&csrf=x")
    assert wrong.status == 403


def test_a_flood_of_refused_requests_is_logged_in_full(worker: RunningWorker) -> None:
    for _ in range(200):
        call(worker, "/api/stats?flood=1")
    wait_until(lambda: sum(1 for row in audit_rows(worker, since="10m", limit="100000")
                           if row["object"] == "/api/stats?flood=1" and row["outcome"] == "refused") == 200,
               timeout=15, message="200 refusals in the access log")


def test_a_revoked_token_is_refused_at_once(worker: RunningWorker) -> None:
    from crimelink.access.principals import Role
    from crimelink.access.users import UserRegistry

    registry = UserRegistry(worker.home / "users.json")
    token = registry.add("short-lived", Role.ANALYST)
    headers = {"Authorization": f"Bearer {token}"}
    assert call(worker, "/api/whoami", headers=headers).json()["name"] == "short-lived"
    registry.revoke("short-lived")
    assert call(worker, "/api/whoami", headers=headers).status == 401


def test_evidence_outputs_keep_their_columns_and_neutralise_formulas(worker: RunningWorker) -> None:
    alert_id = worker.scalar("SELECT any(alert_id) FROM alerts")
    why = {"X-Justification": "pytest: output safety"}
    markdown = call(worker, f"/alerts/{alert_id}/evidence?format=md", token="analyst", headers=why).body.decode()
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ") and "GRP-" in line]
    assert table_rows
    for line in table_rows:
        assert len(re.split(r"(?<!\\)\|", line)) == 10, line  # 8 cells between 9 unescaped pipes
    forged = next(line for line in table_rows if "99/XX" in line)
    # the real crime number, in its column, with where it came from
    assert re.split(r"(?<!\\)\|", forged)[5].strip() == "46/KT/000001/25 (in the retailer's report)"
    page = call(worker, f"/alerts/{alert_id}/evidence?why=pytest+output+safety", token="analyst").body.decode()
    for row in re.findall(r"<tr>(.*?)</tr>", page):
        if "GRP-" in row:
            assert row.count("<td>") == 8
    assert "<script" not in page
    csv_text = call(worker, "/api/query?format=csv&sql=" + urllib.parse.quote(
        "SELECT incident_id FROM incidents WHERE incident_id LIKE 'GRP-1|%'"), token="analyst", headers=why).body.decode()
    assert "\n'GRP-1|" in csv_text or ",'=" in csv_text or "\"GRP-1|" in csv_text
    formula = call(worker, "/api/query?format=csv&sql=" + urllib.parse.quote("SELECT '=HYPERLINK(1)' AS x, -5 AS n"),
                   token="analyst", headers=why).body.decode()
    assert formula.splitlines()[1] == "'=HYPERLINK(1),-5"


def test_crimelink_query_prints_values_literally(worker: RunningWorker) -> None:
    env = {**worker.env, "CRIMELINK_TOKEN": worker.tokens["analyst"], "CRIMELINK_JUSTIFICATION": "pytest: printing"}
    printed = subprocess.run(
        [sys.executable, "-m", "crimelink.cli", "query", "SELECT '[/]' AS a, '[bold]x' AS b, concat('\\x1b', '[31mred') AS c"],
        env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert "[/]" in printed.stdout and "[bold]x" in printed.stdout and "\\x1b[31mred" in printed.stdout
    assert "\x1b[31m" not in printed.stdout


def test_the_audit_topic_outlives_a_stopped_sink(worker: RunningWorker) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=worker.bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, worker.topics.audit)])
    finally:
        admin.close()
    assert described["topic"][worker.topics.audit]["retention.ms"]["value"] == str(90 * 86_400_000)


def test_nothing_changes_or_deletes_audit_rows(worker: RunningWorker) -> None:
    before = len(audit_rows(worker, limit="100000"))
    for sql in ("ALTER TABLE audit_log DELETE WHERE 1", "TRUNCATE TABLE audit_log", "DROP TABLE audit_log",
                "ALTER TABLE audit_log MODIFY TTL toDateTime(at)", "INSERT INTO audit_log (principal) VALUES ('x')"):
        with pytest.raises(QueryError):
            worker.query(sql)
    wait_until(lambda: len(audit_rows(worker, limit="100000")) >= before + 5, timeout=10,
               message="the refusals themselves in the access log")
    ttl = call(worker, "/api/audit?action=none", token="admin")
    assert ttl.status == 200


def test_a_webhook_delivery_is_a_disclosure_in_the_log(start_worker) -> None:  # type: ignore[no-untyped-def]
    import http.server

    received: list[bytes] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the handler's name
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook?key=secret"
    try:
        worker = start_worker(CRIMELINK_ALERT_WEBHOOKS=url)
        _send(worker, [_group_incident(1, "kent", 0), _group_incident(3, "essex", 24),
                       _group_incident(4, "sussex", 40)])
        wait_until(lambda: received, timeout=90, message="the webhook called")
        alert_id = json.loads(received[0])["alert_id"]
        [row] = [row for row in logged(worker, lambda row: row["action"] == "webhook") if row["action"] == "webhook"]
        assert (row["category"], row["object"], row["outcome"]) == ("disclosure", alert_id, "ok")
        assert row["recipient"].endswith("/hook") and "secret" not in row["recipient"]
    finally:
        server.shutdown()


def test_an_unreadable_users_file_lets_nobody_in(worker: RunningWorker) -> None:
    users = worker.home / "users.json"
    kept = users.read_text()
    try:
        users.write_text("{ not json")
        answer = call(worker, "/api/whoami", token="analyst")
        assert answer.status == 503 and "users file cannot be read" in answer.json()["error"]
    finally:
        users.write_text(kept)
    assert call(worker, "/api/whoami", token="analyst").status == 200
