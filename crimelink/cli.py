"""The ``crimelink`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crimelink.errors import CrimelinkError
from crimelink.settings import get_settings

__all__ = ["main"]


class _Group(click.Group):
    """Print crimelink's own errors as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrimelinkError as error:
            raise click.ClickException(str(error)) from error


@click.group(cls=_Group)
def main() -> None:
    """crimelink: organised retail crime intelligence, streamed."""


# --- broker -----------------------------------------------------------------------------------

@main.group()
def broker() -> None:
    """The local Kafka broker (development, tests, demo)."""


@broker.command("fetch")
def broker_fetch() -> None:
    """Fetch the pinned Kafka broker from Maven Central (cached)."""
    from crimelink.broker import KAFKA_VERSION, fetch_broker

    libs = fetch_broker(get_settings().home / "kafka" / "dist")
    click.echo(f"Kafka {KAFKA_VERSION} ready in {libs}")


@broker.command("start")
def broker_start() -> None:
    """Start the local broker in the background and record its address for other commands."""
    from crimelink.broker import LocalBroker, fetch_broker

    settings = get_settings()
    state = settings.broker_state_file
    if state.exists():
        raise click.ClickException(f"a broker is already recorded in {state}; run 'crimelink broker stop' first")
    libs = fetch_broker(settings.home / "kafka" / "dist")
    local = LocalBroker(libs=libs, data_dir=settings.home / "kafka" / "data", partitions=settings.topic_partitions)
    local.start()
    state.write_text(json.dumps({"bootstrap": local.bootstrap, "pid": local.process.pid if local.process else None,
                                 "data_dir": str(local.data_dir)}))
    click.echo(f"Kafka broker running at {local.bootstrap} (pid {local.process.pid if local.process else '?'})")


@broker.command("stop")
def broker_stop() -> None:
    """Stop the local broker recorded by 'crimelink broker start'."""
    from crimelink.broker import LocalBroker

    settings = get_settings()
    state = settings.broker_state_file
    if not state.exists():
        click.echo("no local broker is recorded")
        return
    recorded = json.loads(state.read_text())
    LocalBroker(libs=Path(), data_dir=Path(recorded["data_dir"])).stop()
    state.unlink()
    click.echo("Kafka broker stopped")


# --- worker, topics, feeds --------------------------------------------------------------------

@main.command()
@click.option("--loglevel", default="warn", type=click.Choice(["crit", "error", "warn", "info", "debug"]))
def worker(loglevel: str) -> None:
    """Run the stream worker: normalise, gate, store; serves the query API and dashboard."""
    from crimelink.kafka_io import declare_topics, wait_for_broker
    from streams import store, topics
    from streams.app import app

    settings = get_settings()
    bootstrap = settings.effective_kafka_bootstrap
    wait_for_broker(bootstrap)
    declare_topics(bootstrap, topics.names.all(), settings.topic_partitions)
    store.open_store()
    click.echo(f"crimelink worker: Kafka {bootstrap}, ClickHouse {store.store().where}, web {settings.web_url}")
    from faust.worker import Worker

    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()


@main.command()
def topics() -> None:
    """Declare every crimelink topic on the broker and list them."""
    from crimelink.kafka_io import declare_topics
    from streams.topics import names

    settings = get_settings()
    created = declare_topics(settings.effective_kafka_bootstrap, names.all(), settings.topic_partitions)
    for name in names.all():
        click.echo(f"{name}{'  (created)' if name in created else ''}")


@main.command()
@click.option("--count", type=int, default=1000, show_default=True, help="Records to publish (0 = forever).")
@click.option("--rate", type=float, default=50.0, show_default=True, help="Records per second (0 = as fast as possible).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--fault-rate", type=float, default=0.04, show_default=True, help="Share of faulty records.")
def simulate(count: int, rate: float, seed: int, fault_rate: float) -> None:
    """Publish a simulated multi-retailer feed to the raw topics."""
    from rich.progress import Progress

    from crimelink.simulate import publish_simulation

    settings = get_settings()
    with Progress(transient=False) as progress:
        task = progress.add_task("publishing", total=count or None)
        sent = publish_simulation(bootstrap=settings.effective_kafka_bootstrap, count=count or None, rate=rate,
                                  seed=seed, fault_rate=fault_rate,
                                  progress=lambda done: progress.update(task, completed=done))
    click.echo(f"published {sent} records to {settings.effective_kafka_bootstrap}")


# --- analysts -------------------------------------------------------------------------------

@main.command()
@click.argument("sql")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind a {NAME:Type} placeholder; repeatable.")
def query(sql: str, output: str, params: tuple[str, ...]) -> None:
    """Run a read-only SQL query (through the worker for the embedded store)."""
    from crimelink.query_client import print_result, run_query

    parameters = {}
    for item in params:
        name, separator, value = item.partition("=")
        if not separator:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        parameters[name] = value
    print_result(run_query(sql, parameters), output)


@main.command()
@click.option("--check", is_flag=True, help="Fail if the committed schema file is out of date.")
def schema(check: bool) -> None:
    """Write the canonical incident's JSON Schema to schemas/incident.schema.json."""
    from schemas.export import SCHEMA_FILE, render_schema

    text = render_schema()
    if check:
        if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text() != text:
            raise click.ClickException(f"{SCHEMA_FILE} is out of date; run 'crimelink schema'")
        click.echo(f"{SCHEMA_FILE} is up to date")
        return
    SCHEMA_FILE.write_text(text)
    click.echo(f"wrote {SCHEMA_FILE}")


@main.command()
@click.option("--rate", type=float, default=25.0, show_default=True, help="Simulated records per second.")
@click.option("--keep", is_flag=True, help="Keep the previous demo's data instead of starting afresh.")
def demo(rate: float, keep: bool) -> None:
    """Start broker, worker and a simulated feed; show incidents arriving live. Ctrl-C stops it all."""
    from crimelink.demo import run_demo

    run_demo(rate=rate, keep=keep)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
