"""``crimelink demo``: everything on one machine, live, and gone again on Ctrl-C.

Starts the local Kafka broker, a worker on the embedded ClickHouse store, the retailer gateway, and a simulated feed
from eight retailers (``crimelink.simulation.feed.RETAILER_FORMATS``) with organised groups planted in it, one of them
(``DEMO_GATEWAY_RETAILER``) sending through the gateway as a retailer without its own Kafka producer would; shows
alerts, incidents per force, eligibility and rejections as they arrive.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from crimelink.access.principals import Role
from crimelink.access.users import UserRegistry
from crimelink.cli.broker import LocalBroker, fetch_broker, free_port, kafka_version
from crimelink.cli.certificates import write_private
from crimelink.cli.gateway_client import GatewayClient
from crimelink.cli.worker_process import WorkerProcess
from crimelink.errors import CrimelinkError
from crimelink.settings import KafkaSettings, get_settings

__all__ = ["run_demo"]

console = Console()
DEMO_ANALYST = "demo-analyst"
DEMO_GATEWAY_RETAILER = "quikmart"
DEMO_GATEWAY_USER = f"demo-{DEMO_GATEWAY_RETAILER}"
#: The demo compresses time: forces "issue" crime numbers within a minute, and what has none after two expires.
DEMO_FOLLOW_UP_SECONDS = 60.0
DEMO_PENDING_DEADLINE_SECONDS = 120


def _stats(web_url: str, token: str) -> dict[str, Any] | None:
    request = urllib.request.Request(f"{web_url}/api/stats", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _view(stats: dict[str, Any] | None, published: int, web_url: str, gateway: GatewayClient | None = None) -> Group:
    header = Table.grid(padding=(0, 2))
    if stats is None:
        header.add_row("waiting for the worker…")
        return Group(header)
    totals = (stats.get("totals") or [{}])[0]
    header.add_row(
        f"published [bold]{published}[/]", f"stored [bold]{totals.get('incidents', 0)}[/]",
        f"referable [green]{totals.get('referable', 0)}[/]", f"pending [yellow]{totals.get('pending', 0)}[/]",
        f"invalid [red]{totals.get('invalid', 0)}[/]", f"expired [magenta]{totals.get('expired', 0)}[/]",
        f"rejected [red]{totals.get('rejected', 0)}[/]",
    )
    forces = Table("force", "region", "incidents", "referable", "value £", title="Incidents by force (top 8)")
    for row in stats.get("by_force", [])[:8]:
        forces.add_row(escape(row["force_id"]), escape(row["region_id"]), str(row["incidents"]), str(row["referable"]),
                       f"{row['value_pounds']:,.0f}")
    alerts = Table("alert", "level", "lead force", "forces", "regions", "incidents", "referable",
                   title="Multi-region alerts (evidence: dashboard → alert)")
    for row in stats.get("alerts", [])[:6]:
        alerts.add_row(escape(row["alert_id"]), str(row["level"]), escape(row["lead_force"]), str(row["force_count"]),
                       str(row["region_count"]), str(row["incident_count"]), str(row["referable_count"]))
    rejected = Table("retailer", "problem", "records", title="Rejected records")
    for row in stats.get("rejections", [])[:8]:
        rejected.add_row(escape(row["retailer"] or "?"), escape(row["problem"]), str(row["records"]))
    footer = f"dashboard {web_url}   ·   Ctrl-C stops broker, worker, gateway and feed"
    if gateway is not None:
        outcomes = dict.copy(gateway.outcomes)  # one C call: the feed thread may be counting meanwhile
        answered = ", ".join(f"{what} {count}" for what, count in sorted(outcomes.items())) or "nothing yet"
        footer = f"{DEMO_GATEWAY_RETAILER} through the gateway: {answered}\n{footer}"
    return Group(header, alerts, forces, rejected, footer)


def run_demo(*, rate: float, keep: bool, secure: bool = False) -> None:
    settings = get_settings()
    home = (settings.home / "demo").resolve()
    if home.exists() and not keep:
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)

    console.print(f"[bold]crimelink demo[/] — working area {home}")
    console.print(f"Fetching Kafka {kafka_version()} from Maven Central (cached after the first run)…")
    libs = fetch_broker(settings.home.resolve() / "kafka" / "dist")
    broker = LocalBroker(libs=libs, data_dir=home / "kafka", partitions=settings.kafka.topic_partitions, secure=secure)
    web_port = settings.web.port if _port_free(settings.web.port) else free_port()
    web_url = f"http://{settings.web.host}:{web_port}"
    env = {**os.environ, "CRIMELINK_HOME": str(home), "CRIMELINK_WEB_PORT": str(web_port),
           "CRIMELINK_CLICKHOUSE_DSN": f"chdb://{home / 'clickhouse'}",
           "CRIMELINK_PENDING_DEADLINE_SECONDS": str(DEMO_PENDING_DEADLINE_SECONDS),
           "CRIMELINK_EXPIRY_CHECK_SECONDS": "5"}
    worker: WorkerProcess | None = None
    gateway: WorkerProcess | None = None
    sender: GatewayClient | None = None
    stop = threading.Event()
    published = [0]
    previous_term = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        started = time.monotonic()
        broker.start()
        console.print(f"Kafka broker up at {broker.bootstrap} ({'SASL_SSL, SCRAM logins, ACLs' if secure else 'PLAINTEXT'}) "
                      f"in {time.monotonic() - started:.1f}s")
        login = settings.kafka.with_login(broker.client())
        env |= login.login_environment()
        # as `crimelink broker start` records its broker: `crimelink ingest`, `crime-number` and the rest find this one
        write_private(home / "kafka" / "broker.json", json.dumps({"bootstrap": broker.bootstrap, "demo": True,
                                                                 "client": broker.client()}))
        (settings.home / "worker.json").write_text(json.dumps({"web_url": web_url, "home": str(home)}))
        worker = WorkerProcess(env, home / "worker.log", web_url)
        console.print("Starting the worker (normalise → crime-number gate → correlation → ClickHouse)…")
        token = UserRegistry(home / "users.json").add(DEMO_ANALYST, Role.ANALYST, replace=True)
        worker.start()
        console.print(f"Worker up. Dashboard: [link={web_url}]{web_url}[/link]  — log in as [bold]{DEMO_ANALYST}[/] "
                      "with this token as the password:")
        console.print(token, markup=False, highlight=False, soft_wrap=True)
        console.print(f"Demo clock: crime numbers follow within {DEMO_FOLLOW_UP_SECONDS:.0f}s for half of the pending "
                      f"incidents; the rest expire after {DEMO_PENDING_DEADLINE_SECONDS}s.")
        console.print("Query while it runs, from another terminal in this directory (every query is in the access log, "
                      "with its reason):")
        console.print(f"  export CRIMELINK_TOKEN={token}", markup=False, highlight=False, soft_wrap=True)
        console.print("  .venv/bin/crimelink query --why \"demo\" \"SELECT force_id, count() AS incidents FROM "
                      "incidents_latest GROUP BY force_id ORDER BY incidents DESC\"", markup=False)
        console.print("  .venv/bin/crimelink query --why \"demo\" \"SELECT retailer, summary FROM dead_letters LIMIT 10\"",
                      markup=False)
        console.print("  .venv/bin/crimelink backlog quikmart", markup=False)
        gateway_port = settings.gateway.port if _port_free(settings.gateway.port) else free_port()
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        gateway = WorkerProcess({**env, "CRIMELINK_GATEWAY_PORT": str(gateway_port),
                                 "CRIMELINK_GATEWAY_WORKER_URL": web_url}, home / "gateway.log", gateway_url,
                                command=("gateway",))
        retailer_token = UserRegistry(home / "users.json").add(DEMO_GATEWAY_USER, Role.RETAILER,
                                                               retailers=[DEMO_GATEWAY_RETAILER], replace=True)
        gateway.start()
        sender = GatewayClient(gateway_url, retailer_token, batch=20)
        console.print(f"Retailer gateway up at {gateway_url} ({DEMO_GATEWAY_RETAILER} sends through it; API document "
                      f"{gateway_url}/v1/openapi.json, guide docs/retailer-api.md). As {DEMO_GATEWAY_USER}:")
        console.print(f"  export RETAILER_TOKEN={retailer_token}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"  curl -s -H \"Authorization: Bearer $RETAILER_TOKEN\" \"{gateway_url}/v1/backlog?limit=5\"",
                      markup=False, highlight=False, soft_wrap=True)
        feeder = threading.Thread(target=_feed, args=(login, rate, stop, published, sender), daemon=True)
        feeder.start()
        processes = {"worker": worker, "gateway": gateway}
        if console.is_terminal:
            with Live(_view(None, 0, web_url), console=console, refresh_per_second=1) as live:
                _watch(processes, 2.0, lambda: live.update(_view(_stats(web_url, token), published[0], web_url, sender)))
        else:  # piped or redirected, where a live view never shows: a line now and then instead
            _watch(processes, 10.0, lambda: console.print(_line(_stats(web_url, token), published[0]), markup=False,
                                                          highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        console.print("\nStopping…")
    finally:
        stop.set()
        if gateway is not None:
            gateway.stop()
            console.print("gateway stopped")
        if worker is not None:
            worker.stop()
            console.print("worker stopped")
        broker.stop()
        console.print("Kafka broker stopped")
        (settings.home / "worker.json").unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, previous_term)


def _watch(processes: dict[str, WorkerProcess], every: float, show: Callable[[], None]) -> None:
    """Show the figures every ``every`` seconds until Ctrl-C, or until a process of the demo stops by itself."""
    while True:
        time.sleep(every)
        for name, process in processes.items():
            if process.process is not None and process.process.poll() is not None:
                raise CrimelinkError(f"the {name} stopped unexpectedly; see {process.log_file}")
        show()


def _line(stats: dict[str, Any] | None, published: int) -> str:
    """The live view's figures on one line, for output that is not a terminal."""
    if stats is None:
        return "waiting for the worker…"
    totals = (stats.get("totals") or [{}])[0]
    figures = ", ".join(f"{totals.get(name, 0)} {name}" for name in ("referable", "pending", "invalid", "expired",
                                                                      "rejected"))
    return (f"{time.strftime('%H:%M:%S')} published {published}, stored {totals.get('incidents', 0)} ({figures}), "
            f"{len(stats.get('alerts', []))} alert(s)")


def _feed(login: KafkaSettings, rate: float, stop: threading.Event, published: list[int], sender: GatewayClient) -> None:
    from datetime import UTC, datetime, timedelta

    from crimelink.cli.publish import publish_simulation
    from crimelink.intake.stores import StoreRegistry
    from crimelink.simulation.scenarios import OrcScenario

    def count(sent: int) -> None:
        published[0] = sent

    # Organised groups hidden in the live feed: two travelling teams, a steal-to-order team, a local
    # offender and look-alikes, reported over the last fortnight (retailers often report late).
    # the demo's broker and its service login, whatever the shell's CRIMELINK_KAFKA_* say
    settings = get_settings().model_copy(update={"kafka": login})
    scenario = OrcScenario(StoreRegistry.load(settings.stores_file), seed=int(time.time()) % 1000, days=14,
                           background=0, travelling=2,
                           steal_to_order=1, local=1, lookalikes=4, start=datetime.now(UTC) - timedelta(days=15))
    publish_simulation(settings, count=None, rate=rate, seed=int(time.time()),
                       stop=stop, progress=count, follow_up_seconds=DEMO_FOLLOW_UP_SECONDS,
                       planted=list(scenario.records), planted_every=8, via_gateway={DEMO_GATEWAY_RETAILER: sender})


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
