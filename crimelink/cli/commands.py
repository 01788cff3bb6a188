"""The ``crimelink`` command line."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crimelink.errors import CrimelinkError
from crimelink.schemas.outcomes import BACKLOG_STATUSES
from crimelink.settings import get_settings

if TYPE_CHECKING:
    from crimelink.settings import Settings
    from crimelink.streams.engine.intake_workers import IntakeWorkers

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
    # Personal data lives under the home: every file and folder crimelink writes, and every process it starts (the
    # broker, intake workers, chDB), is its owner's only (folders 0700, files 0600).
    os.umask(0o077)
    _keep_private(get_settings().home)


def _keep_private(home: Path) -> None:
    """Tighten a home made before the umask rule (or by hand) to 0700; its older files keep their mode until the
    broker and the store rewrite them, and the message says how to tighten them at once."""
    if home.is_dir() and home.stat().st_mode & 0o077:
        home.chmod(0o700)
        click.echo(f"crimelink: {home} was readable by other users; it is now 0700 (run 'chmod -R go= {home}' to "
                   "tighten the files already in it)", err=True)


# --- broker -----------------------------------------------------------------------------------

@main.group()
def broker() -> None:
    """The local Kafka broker (development, tests, demo)."""


@broker.command("fetch")
def broker_fetch() -> None:
    """Fetch the pinned Kafka broker from Maven Central (cached)."""
    from crimelink.cli.broker import fetch_broker, kafka_version

    libs = fetch_broker(get_settings().home / "kafka" / "dist")
    click.echo(f"Kafka {kafka_version()} ready in {libs}")


@broker.command("start")
@click.option("--secure", is_flag=True,
              help="SASL_SSL only: a CA and broker certificate, SCRAM logins and ACLs (the service login is recorded "
                   "for the other commands).")
@click.option("--brokers", type=click.IntRange(1, 9), default=1, show_default=True,
              help="Nodes: 3 starts a local cluster (each node its own ports and data directory); topics crimelink "
                   "creates then get 3 copies and min.insync.replicas 2.")
def broker_start(secure: bool, brokers: int) -> None:
    """Start the local broker in the background and record its address for other commands."""
    from crimelink.cli.broker import LocalBroker, LocalCluster, fetch_broker

    settings = get_settings()
    state = settings.broker_state_file
    if state.exists():
        raise click.ClickException(f"a broker is already recorded in {state}; run 'crimelink broker stop' first")
    if secure and brokers > 1:
        raise click.ClickException("a secured local cluster is not built yet: use --secure with one broker, or "
                                   "--brokers without --secure")
    libs = fetch_broker(settings.home / "kafka" / "dist")
    if brokers > 1:
        cluster = LocalCluster(libs=libs, data_dir=settings.home / "kafka" / "cluster", size=brokers,
                               partitions=settings.kafka.topic_partitions)
        cluster.start()
        _record_broker(state, {"bootstrap": cluster.bootstrap, "data_dir": str(cluster.data_dir), "brokers": brokers,
                               "client": cluster.client()})
        click.echo(f"Kafka cluster of {brokers} running at {cluster.bootstrap} (PLAINTEXT, pids "
                   f"{', '.join(str(node.process.pid) for node in cluster.nodes if node.process)}); topics crimelink "
                   f"creates get {cluster.replication} copies")
        return
    local = LocalBroker(libs=libs, data_dir=settings.home / "kafka" / "data", partitions=settings.kafka.topic_partitions,
                        secure=secure)
    local.start()
    _record_broker(state, {"bootstrap": local.bootstrap, "pid": local.process.pid if local.process else None,
                           "data_dir": str(local.data_dir), "client": local.client()})
    protocol = local.client()["security_protocol"]
    click.echo(f"Kafka broker running at {local.bootstrap} ({protocol}, pid {local.process.pid if local.process else '?'})")
    if secure:
        click.echo(f"  login for crimelink's commands recorded in {state}; CA certificate {local.ca_file}")


def _record_broker(state: Path, recorded: dict[str, object]) -> None:
    state.write_text(json.dumps(recorded))
    state.chmod(0o600)


@broker.command("status")
def broker_status() -> None:
    """Say whether each node of the local broker (or cluster) runs and answers; exit 1 if one does not."""
    from crimelink.cli.broker import LocalBroker, LocalCluster

    settings = get_settings()
    state = settings.broker_state_file
    if not state.exists():
        raise click.ClickException("no local broker is recorded; run 'crimelink broker start'")
    recorded = json.loads(state.read_text())
    if recorded.get("brokers", 1) > 1:
        nodes = LocalCluster(libs=Path(), data_dir=Path(recorded["data_dir"])).status()
    else:
        single = LocalBroker(libs=Path(), data_dir=Path(recorded["data_dir"]), port=int(recorded["bootstrap"].rsplit(":", 1)[1]))
        nodes = [{"node_id": 1, "bootstrap": single.bootstrap, "pid": recorded.get("pid"), "answers": single.answers()}]
    for node in nodes:
        click.echo(f"node {node['node_id']}  {node['bootstrap']}  pid {node['pid'] or '-'}  "
                   f"{'answers' if node['answers'] else 'DOES NOT ANSWER'}")
    if not all(node["answers"] for node in nodes):
        raise SystemExit(1)


@broker.command("add-retailer")
@click.argument("retailer")
def broker_add_retailer(retailer: str) -> None:
    """Give RETAILER a Kafka login of its own on the secured local broker, allowed to write its own channel only.

    Its login is written to a file only you can read; add RETAILER to CRIMELINK_KAFKA_RETAILER_CHANNELS and restart
    the worker so that it reads the channel."""
    from crimelink.cli.broker import LocalBroker
    from crimelink.streams.topics import RetailerChannel

    settings = get_settings()
    state = settings.broker_state_file
    recorded = json.loads(state.read_text()) if state.exists() else {}
    if recorded.get("client", {}).get("security_protocol") != "SASL_SSL":
        raise click.ClickException("no secured local broker is recorded; run 'crimelink broker start --secure' first "
                                   "(on a broker of your own, grant the same ACL: docs/kafka-security.md)")
    local = LocalBroker(libs=Path(), data_dir=Path(recorded["data_dir"]), port=int(recorded["bootstrap"].rsplit(":", 1)[1]),
                        secure=True)
    user = local.add_retailer(_retailer_id(retailer), settings.kafka.topic_prefix)
    login = settings.home / "kafka" / f"{user}.env"
    login.write_text("".join(f"{name}={value}\n" for name, value in settings.kafka.with_login(local.client(user))
                             .login_environment().items()))
    login.chmod(0o600)
    click.echo(f"Kafka login {user} may write {RetailerChannel.prefix_of(settings.kafka.topic_prefix, retailer)}* and "
               "nothing else; "
               f"its settings are in {login}")
    if retailer not in settings.kafka.retailer_channels:
        click.echo(f"  the worker reads the channel once CRIMELINK_KAFKA_RETAILER_CHANNELS includes {retailer} "
                   "(restart it)")


@broker.command("stop")
def broker_stop() -> None:
    """Stop the local broker (every node of a cluster) recorded by 'crimelink broker start'."""
    from crimelink.cli.broker import LocalBroker, LocalCluster

    settings = get_settings()
    state = settings.broker_state_file
    if not state.exists():
        click.echo("no local broker is recorded")
        return
    recorded = json.loads(state.read_text())
    if recorded.get("brokers", 1) > 1:
        LocalCluster(libs=Path(), data_dir=Path(recorded["data_dir"])).stop()
    else:
        LocalBroker(libs=Path(), data_dir=Path(recorded["data_dir"])).stop()
    state.unlink()
    click.echo("Kafka broker stopped" if recorded.get("brokers", 1) == 1 else f"Kafka cluster of {recorded['brokers']} stopped")


# --- worker, topics, feeds --------------------------------------------------------------------

@main.command()
@click.option("--loglevel", default="warn", type=click.Choice(["crit", "error", "warn", "info", "debug"]))
@click.option("--exit-with", type=int, default=None, hidden=True,
              help="Stop once this process is gone (the worker passes its pid to the intake workers it starts).")
def worker(loglevel: str, exit_with: int | None) -> None:
    """Run the stream worker: normalise, gate, correlate, store; serves the query API and dashboard."""
    from crimelink.streams.app import create_app
    from crimelink.streams.engine.garbage import tune_garbage_collector
    from crimelink.streams.engine.intake_workers import IntakeWorkers, exit_with_parent, take_over_intake_offsets
    from crimelink.streams.engine.shutdown import BoundedWorker
    from crimelink.streams.kafka_io import check_partitions, declare_topics, wait_for_broker
    from crimelink.streams.topics import TopicNames

    settings = get_settings()
    bootstrap = settings.effective_kafka
    wait_for_broker(bootstrap)
    names = TopicNames(settings)
    declare_topics(bootstrap, names.all(), settings.kafka.topic_partitions, names.partitions, names.configs,
                   names.replication)
    check_partitions(bootstrap, {name: names.partitions(name, settings.kafka.topic_partitions)
                                 for name in (names.normalised, names.gate_commands, names.correlation_in)})
    if exit_with is not None:
        exit_with_parent(exit_with)
    app = create_app(settings)
    if settings.intake_only:
        if exit_with is None:  # started by hand; a worker takes them over before it starts its own intake workers
            _took_over(take_over_intake_offsets(settings, in_intake_workers=True))
        tune_garbage_collector(settings.worker.gc_young_threshold)
        click.echo(f"crimelink intake worker: Kafka {bootstrap.bootstrap}")
        BoundedWorker(app, shutdown_seconds=settings.worker.shutdown_seconds, loglevel=loglevel,
                      quiet=True).execute_from_commandline()
        return
    intake = IntakeWorkers(settings.worker.intake_processes, loglevel, app_id=settings.kafka.app_id, home=settings.home)
    retired = intake.retire_earlier_members(bootstrap)
    if retired:
        click.echo(f"crimelink worker: {len(retired)} intake worker(s) of an earlier run removed from their consumer "
                   "group, which kept them after they stopped (static membership)")
    _took_over(take_over_intake_offsets(settings, in_intake_workers=bool(settings.worker.intake_processes)))
    store = app.wiring.store.open()
    tune_garbage_collector(settings.worker.gc_young_threshold)
    click.echo(f"crimelink worker: Kafka {bootstrap.bootstrap} ({bootstrap.security_protocol}), ClickHouse {store.where}, "
               f"web {settings.web.url}")
    pids = intake.start()
    click.echo(f"crimelink worker: intake workers (pid {', '.join(map(str, pids))})" if pids
               else "crimelink worker: normalising and gating in this process")
    try:
        BoundedWorker(app, shutdown_seconds=settings.worker.shutdown_seconds, on_signal=intake.terminate,
                      on_deadline=intake.kill, loglevel=loglevel, quiet=True).execute_from_commandline()
    finally:
        intake.stop(settings.worker.shutdown_seconds)
        _leave_groups(settings, intake)


def _leave_groups(settings: Settings, intake: IntakeWorkers) -> None:
    """After a stop: take this worker's static members (its own, its sink's, its intake workers') out of their groups.

    Why: a static member that stops stays in its group until its session times out (60 s), so the partitions of a
    worker that left for good were assigned to nobody until then. One killed cannot do this; its successor takes its
    place as it joins (``crimelink.streams.engine.membership``). Best effort, and quick: the broker may be gone."""
    from crimelink.errors import BrokerError
    from crimelink.streams.engine.membership import sink_group, static_member_id
    from crimelink.streams.kafka_io import remove_static_members

    app_id, home, bootstrap = settings.kafka.app_id, settings.home, settings.effective_kafka
    mine = {app_id: static_member_id(app_id, "worker", home),
            sink_group(app_id): static_member_id(app_id, "sink", home)}
    try:
        left = [member for group, instance in mine.items() for member in
                remove_static_members(bootstrap, group, lambda member, instance=instance: member == instance, timeout=5)]
        left += intake.retire_earlier_members(bootstrap, timeout=5)
        click.echo(f"crimelink worker: {len(left)} static member(s) left their consumer groups")
    except BrokerError as error:
        click.echo(f"crimelink worker: could not leave the consumer groups ({error}); the broker drops its members "
                   "when their sessions time out", err=True)


def _took_over(moved: Mapping[Any, int]) -> None:
    if moved:
        click.echo(f"crimelink worker: {len(moved)} partitions of the intake topics start where the other consumer "
                   "group left off (CRIMELINK_INTAKE_PROCESSES changed)")


@main.command()
@click.option("--loglevel", default="warning", type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def gateway(loglevel: str) -> None:
    """The retailer gateway: retailers submit records and crime numbers over HTTP with their token, and get an answer
    per record at once (docs/retailer-api.md). Several can run behind a load balancer."""
    from crimelink.cli.gateway_server import serve

    serve(get_settings(), loglevel)


@main.command()
def topics() -> None:
    """Declare every crimelink topic on the broker and list them."""
    from crimelink.streams.kafka_io import declare_topics
    from crimelink.streams.topics import TopicNames

    settings = get_settings()
    names = TopicNames(settings)
    created = declare_topics(settings.effective_kafka, names.all(), settings.kafka.topic_partitions,
                             names.partitions, names.configs, names.replication)
    for name in names.all():
        click.echo(f"{name}{'  (created)' if name in created else ''}")


@main.command()
@click.option("--count", type=int, default=1000, show_default=True, help="Records to publish (0 = forever).")
@click.option("--rate", type=float, default=50.0, show_default=True, help="Records per second (0 = as fast as possible).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--fault-rate", type=float, default=0.04, show_default=True, help="Share of faulty records.")
@click.option("--scenario", type=click.Choice(["feed", "orc"]), default="feed", show_default=True,
              help="feed: a plain multi-retailer feed; orc: police.uk-weighted background plus planted organised groups.")
@click.option("--background", type=int, default=10_000, show_default=True, help="orc: background incidents.")
@click.option("--days", type=int, default=28, show_default=True, help="orc: days the scenario spans (ending now).")
@click.option("--groups", type=int, default=8, show_default=True, help="orc: groups of each kind.")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path), help="orc: write the ground truth here.")
def simulate(count: int, rate: float, seed: int, fault_rate: float, scenario: str, background: int, days: int,
             groups: int, truth: Path | None) -> None:
    """Publish a simulated feed to the raw topics: a plain one, or an ORC scenario with ground truth."""
    from rich.progress import Progress

    settings = get_settings()
    if scenario == "orc":
        _simulate_orc(settings, seed=seed, background=background, days=days, groups=groups, truth=truth, rate=rate)
        return
    from crimelink.cli.publish import publish_simulation

    with Progress(transient=False) as progress:
        task = progress.add_task("publishing", total=count or None)
        sent = publish_simulation(settings, count=count or None, rate=rate,
                                  seed=seed, fault_rate=fault_rate,
                                  progress=lambda done: progress.update(task, completed=done))
    click.echo(f"published {sent} records to {settings.effective_kafka_bootstrap}")


def _simulate_orc(settings: Any, *, seed: int, background: int, days: int, groups: int, truth: Path | None,
                  rate: float) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    from rich.progress import Progress

    from crimelink.intake.stores import StoreRegistry
    from crimelink.simulation.scenarios import OrcScenario
    from crimelink.streams.kafka_io import Publisher
    from crimelink.streams.topics import TopicNames

    start = datetime.now(UTC) - timedelta(days=days)
    scenario = OrcScenario(StoreRegistry.load(settings.stores_file), seed=seed, days=days, background=background,
                           travelling=groups, steal_to_order=groups, local=groups, lookalikes=groups * 5, start=start)
    if truth is not None:
        truth.write_text(json.dumps(scenario.truth_document(), indent=1))
        click.echo(f"ground truth for {len(scenario.truth)} planted groups written to {truth}")
    names = TopicNames(settings)
    started = time.monotonic()
    with Publisher(settings.effective_kafka) as publisher, Progress() as progress:
        task = progress.add_task("publishing scenario", total=len(scenario.records))
        for sent, record in enumerate(scenario.records, start=1):
            publisher.send(names.raw[record.feed_format], record.value, key=record.key)
            progress.update(task, completed=sent)
            if rate > 0:
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
    click.echo(f"published {len(scenario.records)} records ({scenario.background_count} background) "
               f"to {settings.effective_kafka_bootstrap}")


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "feed_format", required=True, help="Feed format (adapter) name, e.g. bcp_csv.")
@click.option("--quiet", is_flag=True, help="Print only rejected records and the summary.")
def validate(path: Path, feed_format: str, quiet: bool) -> None:
    """Check a sample feed file offline: what would be accepted, rejected, and why. Exit 1 if any is rejected."""
    from crimelink.cli.validate import validate_file
    from crimelink.intake.edges import EventWindow
    from crimelink.intake.stores import StoreRegistry
    from crimelink.safe_text import terminal_text
    from crimelink.schemas.incident import Incident

    settings = get_settings()

    def say(text: str) -> None:  # a record's text may hold terminal escapes: shown, never obeyed
        click.echo(terminal_text(text))

    verdicts, tally = validate_file(path, feed_format, StoreRegistry.load(settings.stores_file),
                                    EventWindow.from_settings(settings.intake))
    for verdict in verdicts:
        outcome = verdict.outcome
        if isinstance(outcome, Incident):
            if quiet:
                continue
            tactics = ",".join(t.code for t in outcome.tactics) or "-"
            say(f"line {verdict.line}: ACCEPTED {outcome.retailer}/{outcome.incident_id} rev {outcome.revision} "
                f"-> {outcome.store.force_id} ({outcome.store.region_id}), {outcome.eligibility.value}: "
                f"{outcome.eligibility_reason}; tactics {tactics}; value £{outcome.total_value_pence / 100:,.2f}")
            occurred = outcome.occurred
            say(f"    occurred {occurred.start:%Y-%m-%d %H:%M} UTC (the feed said {occurred.source_local_time!r}, "
                f"{occurred.source_timezone}); crime number {outcome.crime_reference.raw or '-'}, issuing force "
                f"{outcome.crime_reference.force_id}")
            if outcome.crime_reference.raw and outcome.crime_reference.force_id != outcome.store.force_id:
                say(f"    WARNING: the crime number's force ({outcome.crime_reference.force_id}) is not the store's "
                    f"({outcome.store.force_id}): check which force issued it")
            if outcome.unmapped_codes:
                say(f"    unmapped codes (ask the operator to extend the rules): {', '.join(outcome.unmapped_codes)}")
        else:
            who = f" {outcome.retailer or '?'}/{outcome.incident_id or '?'}"
            say(f"line {verdict.line}: REJECTED{who}")
            for reason in outcome.reasons:
                shown = f" (value {reason.value!r})" if reason.value is not None else ""
                say(f"    {reason.field}: {reason.problem}: {reason.message}{shown}")
    summary = ", ".join(f"{count} {name}" for name, count in sorted(tally.items()))
    click.echo(f"{len(verdicts)} record(s): {summary or 'none'}")
    if tally.get("rejected"):
        sys.exit(1)


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "feed_format", required=True, help="Feed format (adapter) name, e.g. bcp_csv.")
@click.option("--channel", "channel", default=None, metavar="RETAILER",
              help="Write to RETAILER's own topics, as a retailer's own Kafka login must (CRIMELINK_KAFKA_RETAILER_"
                   "CHANNELS); records there naming another retailer are refused.")
def ingest(path: Path, feed_format: str, channel: str | None) -> None:
    """Stream a feed file (JSON Lines, JSON array or CSV export) into its raw topic, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from crimelink.intake.files import count_records, read_feed_file
    from crimelink.safe_text import terminal_text
    from crimelink.streams.kafka_io import Publisher
    from crimelink.streams.topics import TopicNames

    settings = get_settings()
    names = TopicNames(settings)
    topic = (names.channel(_retailer_id(channel)).raw if channel else names.raw).get(feed_format)
    if topic is None:
        from crimelink.intake.feeds import adapter_for

        adapter_for(feed_format)  # raises UnknownFeedFormat with the known names
    total = count_records(path, feed_format)
    sent = 0
    unsendable: list[str] = []
    refused: list[Exception] = []  # what the broker refused (a login without WRITE on the topic, say)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Publisher(settings.effective_kafka) as publisher, Progress(*columns) as progress:
        task = progress.add_task(f"{path.name} -> {topic}", total=total)
        for record in read_feed_file(path, feed_format):
            if record.problem is not None:  # the broker would refuse it, or the worker could not read it
                unsendable.append(f"line {record.line}: {record.problem.problem}: {record.problem.message}")
            else:
                publisher.send(str(topic), record.payload,
                               key=f"{path.name}:{record.line}".encode()).add_errback(refused.append)
                sent += 1
            progress.update(task, advance=1)
    if refused:
        raise click.ClickException(f"the broker refused {len(refused)} of {sent} record(s) sent to {topic}: "
                                   f"{_broker_refusal(refused[0])}")
    click.echo(f"sent {sent} record(s) from {path} to {topic} at {settings.effective_kafka_bootstrap}")
    if unsendable:
        listed = "\n  ".join(terminal_text(line) for line in unsendable[:20])
        more = f"\n  ... and {len(unsendable) - 20} more" if len(unsendable) > 20 else ""
        raise click.ClickException(f"{len(unsendable)} record(s) not sent (run 'crimelink validate' on the file):\n"
                                   f"  {listed}{more}")


def _retailer_id(retailer: str) -> str:
    from crimelink.settings import RETAILER_ID

    if not RETAILER_ID.fullmatch(retailer):
        raise click.BadParameter(f"{retailer!r} is not a retailer id (lower-case letters, digits and '-')")
    return retailer


def _broker_refusal(error: BaseException) -> str:
    """A broker's refusal in words, with what to do about the usual one."""
    text = f"{type(error).__name__}: {error}"
    if "Authorization" in text:
        return (f"{text}. This Kafka login may not write there: a retailer's own login writes only its own channel "
                "(--channel / --own-channel), and crimelink's own topics take crimelink's login")
    return text


@main.command("crime-number")
@click.argument("retailer")
@click.argument("incident_id")
@click.argument("crime_reference")
@click.option("--force", "force_id", default=None, help="Issuing force id, when it is not the store's force.")
@click.option("--own-channel", is_flag=True, help="Send on RETAILER's own topic, as a retailer's own Kafka login must.")
@click.option("--as-force", is_flag=True, help="Enter it as the force that issued it, through the worker with a force "
                                               "user's CRIMELINK_TOKEN (no Kafka login needed).")
@click.option("--wait", type=float, default=30.0, show_default=True,
              help="With CRIMELINK_TOKEN (the retailer's or an analyst's): seconds to wait for the gate's answer.")
def crime_number(retailer: str, incident_id: str, crime_reference: str, force_id: str | None, own_channel: bool,
                 as_force: bool, wait: float) -> None:
    """Send a crime-number update for an incident already reported (what a retailer's system does), or with
    --as-force enter it as the force that issued it. With CRIMELINK_TOKEN set, the incident must be one crimelink
    holds, and the gate's answer is waited for and printed."""
    if as_force:
        if own_channel:
            raise click.UsageError("--as-force goes through the worker, not a Kafka channel: drop --own-channel")
        _enter_as_force(retailer, incident_id, crime_reference, force_id)
        return
    from kafka.errors import KafkaError

    from crimelink.schemas.outcomes import CrimeNumberUpdate
    from crimelink.streams.kafka_io import Publisher
    from crimelink.streams.topics import TopicNames

    settings = get_settings()
    update = CrimeNumberUpdate(retailer=retailer, incident_id=incident_id, crime_reference=crime_reference,
                               force_id=force_id)
    names = TopicNames(settings)
    topic = names.channel(_retailer_id(retailer)).crime_number_updates if own_channel else names.crime_number_updates
    known = _status_history(settings, retailer, incident_id) if settings.client.token else None
    with Publisher(settings.effective_kafka) as publisher:
        try:
            publisher.send(topic, update.model_dump_json().encode(), key=update.key.encode()).get(timeout=30)
        except KafkaError as error:
            raise click.ClickException(f"the broker refused the update on {topic}: {_broker_refusal(error)}") from None
    click.echo(f"sent crime number {crime_reference!r} for {update.key} to {topic}")
    if known is None:
        click.echo("set CRIMELINK_TOKEN (the retailer's or an analyst's) to see the gate's answer; `crimelink backlog` "
                   "shows it later", err=True)
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        history = _status_history(settings, retailer, incident_id)
        if len(history) > len(known):
            answer = history[-1]
            click.echo(f"the gate: {answer['status']}: {answer['reason']}"
                       + (f"; {answer['action']}" if answer.get("action") else ""))
            return
        time.sleep(0.5)
    raise click.ClickException(f"no answer from the crime-number gate within {wait:.0f}s (is the worker running?); "
                               f"`crimelink backlog {retailer}` shows it once there is one")


def _status_history(settings: Settings, retailer: str, incident_id: str) -> list[dict[str, Any]]:
    """The incident's status changes as the worker holds them; an incident it does not hold is an error."""
    from urllib.parse import quote

    from crimelink.cli.query_client import call_worker
    from crimelink.errors import QueryError

    try:
        found = call_worker(settings, f"/api/feedback/{quote(retailer, safe='')}/{quote(incident_id, safe='')}")
    except QueryError as error:
        if "no incident" in str(error):
            raise click.ClickException(f"crimelink holds no incident {retailer}/{incident_id}: send the incident "
                                       "first (a crime number for an incident never reported is not taken)") from None
        raise
    return list(found["history"])


def _enter_as_force(retailer: str, incident_id: str, crime_reference: str, force_id: str | None) -> None:
    from urllib.parse import quote

    from crimelink.cli.query_client import call_worker

    body = {"crime_reference": crime_reference, **({"force_id": force_id} if force_id else {})}
    answer = call_worker(get_settings(), f"/api/incidents/{quote(_retailer_id(retailer))}/{quote(incident_id, safe='')}"
                                         "/crime-number", body=body)
    click.echo(f"crime number {answer['crime_reference']} ({answer['force_id']}) entered by {answer['entered_by']} for "
               f"{retailer}:{incident_id}, {answer['was']} until now: sent to the crime-number gate")


@main.command()
@click.argument("retailer", required=False)
@click.option("--status", "statuses", multiple=True, type=click.Choice(BACKLOG_STATUSES),
              help="Only these statuses; repeatable.")
@click.option("--since", default=None, metavar="WHEN", help="Only what changed since: an ISO time, or 30m, 12h, 7d.")
@click.option("--limit", type=int, default=None, help="Rows to print, soonest deadline first (default 50 as a table, "
                                                      "all as csv or json; 0: all).")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def backlog(retailer: str | None, statuses: tuple[str, ...], since: str | None, limit: int | None, output: str) -> None:
    """A retailer's backlog: incidents rejected, pending or invalid (with what to do), and expired, with a count of
    each. A retailer's token sees its own (RETAILER may be left out); an analyst's names the retailer."""
    import dataclasses
    from collections import Counter

    from crimelink.cli.query_client import as_result, call_worker, print_result
    from crimelink.intake.stores import StoreRegistry

    settings = get_settings()
    if retailer and not StoreRegistry.load(settings.stores_file).stores_of(retailer):
        raise click.ClickException(f"no retailer {retailer!r} in the store registry: check the id (lower case, as "
                                   "the retailer's records give it)")
    query = {"retailer": retailer or "", "status": ",".join(statuses), "since": since or ""}
    result = as_result(call_worker(settings, "/api/backlog", query={k: v for k, v in query.items() if v}))
    who = retailer or "your retailer"
    if not result.rows:
        click.echo(f"{who}: nothing {'/'.join(statuses) or 'rejected, pending or expired'}"
                   f"{f' since {since}' if since else ''}", err=True)
        return
    counts = Counter(row[result.columns.index("status")] for row in result.rows)
    shown = limit if limit is not None else (50 if output == "table" else 0)
    if shown and len(result.rows) > shown:
        result = dataclasses.replace(result, rows=result.rows[:shown])
    summary = ", ".join(f"{counts[status]:,} {status}" for status in BACKLOG_STATUSES if counts[status])
    left_out = sum(counts.values()) - len(result.rows)
    click.echo(f"{who}: {sum(counts.values()):,} in the backlog ({summary})"
               + (f"; the first {len(result.rows)} by deadline below, --limit 0 for all" if left_out else ""), err=True)
    print_result(result, output)


@main.command()
@click.option("--retailer", required=True, help="The retailer whose incident it is.")
@click.option("--incident", "incident_id", required=True, help="The retailer's incident id.")
@click.option("--reason", required=True, help="Why it is erased (kept in the access log), e.g. a DPA s.47 request.")
def erase(retailer: str, incident_id: str, reason: str) -> None:
    """Erase one incident: every table, the gate's and the correlator's state, its series and their alert's evidence
    (a worker administrator's token; the erasure is in the access log)."""
    from crimelink.cli.query_client import call_worker

    answer = call_worker(get_settings(), "/api/erase", body={"retailer": _retailer_id(retailer),
                                                             "incident_id": incident_id}, justification=reason)
    removed = {table: count for table, count in answer["rows_removed"].items() if count}
    listed = ", ".join(f"{count} from {table}" for table, count in removed.items()) or "no stored row named it"
    click.echo(f"erased {answer['key']}: {listed}; gate and correlation state tombstoned")
    if not answer["correlation_released"]:
        raise click.ClickException("the correlator had not let go of it within 30 s (is the worker busy or "
                                   "stopped?); run the same erase again once it has caught up")


@main.command()
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def alerts(output: str) -> None:
    """Multi-region alerts: every one for an analyst, those touching its forces for a force's liaison."""
    from crimelink.cli.query_client import as_result, call_worker, print_result

    print_result(as_result(call_worker(get_settings(), "/api/alerts")), output)


# --- analysts -------------------------------------------------------------------------------

@main.command()
@click.argument("sql")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind a {NAME:Type} placeholder; repeatable.")
@click.option("--why", "justification", default=None, metavar="TEXT",
              help="Why you consult this data (kept in the access log); default CRIMELINK_JUSTIFICATION.")
def query(sql: str, output: str, params: tuple[str, ...], justification: str | None) -> None:
    """Run a read-only SQL query through the worker (analysts; needs CRIMELINK_TOKEN and a reason). SQL "-" reads it
    from standard input (a query that starts with a "--" comment cannot be an argument)."""
    from crimelink.cli.query_client import print_result, run_query

    if sql == "-":
        sql = click.get_text_stream("stdin").read()

    parameters = {}
    for item in params:
        name, separator, value = item.partition("=")
        if not separator:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        parameters[name] = value
    print_result(run_query(sql, parameters, get_settings(), justification), output)


# --- users and the access log -----------------------------------------------------------------

@main.group()
def users() -> None:
    """Who may use crimelink: users, roles, tokens (the file is CRIMELINK_USERS_FILE, default under CRIMELINK_HOME)."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["analyst", "force", "retailer", "admin"]))
@click.option("--force", "forces", multiple=True, metavar="ID", help="A force the liaison serves (repeatable).")
@click.option("--retailer", "retailers", multiple=True, metavar="ID", help="The retailer a retailer user is.")
@click.option("--password", is_flag=True, help="Also set a password for the login page (asked twice).")
@click.option("--replace", is_flag=True, help="Replace an existing user (its old tokens stop working).")
def users_add(name: str, role: str, forces: tuple[str, ...], retailers: tuple[str, ...], password: bool,
              replace: bool) -> None:
    """Add a user and print its token, once: only its hash is kept."""
    from crimelink.access.principals import Role
    from crimelink.access.users import UserRegistry

    secret = click.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    if secret is not None and len(secret) < 12:
        raise click.ClickException("a password needs at least 12 characters")
    settings = get_settings()
    token = UserRegistry(settings.users_file).add(name, Role(role), forces=list(forces), retailers=list(retailers),
                                                  password=secret, replace=replace)
    scope = f" for {', '.join(forces or retailers)}" if forces or retailers else ""
    click.echo(f"user {name} ({role}{scope}) added to {settings.users_file}")
    click.echo("token (shown once; keep it secret):", err=True)
    click.echo(token)


@users.command("list")
def users_list() -> None:
    """Every user, its role and scope, and whether it is revoked."""
    from crimelink.access.users import UserRegistry

    settings = get_settings()
    listed = UserRegistry(settings.users_file).users()
    if not listed:
        click.echo(f"no users in {settings.users_file}; add one with 'crimelink users add NAME --role analyst'")
    for user in listed:
        scope = ", ".join(user.forces or user.retailers)
        state = f"revoked {user.revoked}" if user.revoked else f"{len(user.tokens)} token(s)" + (
            ", password" if user.password else "")
        click.echo(f"{user.name}\t{user.role.value}\t{scope or '-'}\t{state}\tcreated {user.created}")


@users.command("revoke")
@click.argument("name")
def users_revoke(name: str) -> None:
    """Revoke every token and the password of a user: the running worker refuses them from the next request."""
    from crimelink.access.users import UserRegistry

    settings = get_settings()
    UserRegistry(settings.users_file).revoke(name)
    click.echo(f"user {name} revoked")


@main.command()
@click.option("--user", default=None, help="Only this user's rows.")
@click.option("--since", default=None, help="ISO time, or 30m, 12h, 7d.")
@click.option("--action", default=None, help="query, stats, evidence, evidence-export, incident, alerts, backlog, "
                                             "login, logout, webhook, crime-number-update...")
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def audit(user: str | None, since: str | None, action: str | None, limit: int, output: str) -> None:
    """The access log (DPA 2018 s.62), newest first: who consulted, disclosed or changed what, when, why (admins)."""
    from crimelink.cli.query_client import as_result, call_worker, print_result

    query = {key: value for key, value in {"user": user, "since": since, "action": action}.items() if value}
    query["limit"] = str(limit)
    print_result(as_result(call_worker(get_settings(), "/api/audit", query=query)), output)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", "hosts", multiple=True, required=True,
              help="A name (or address) clients reach the servers by; repeat for each (worker, gateway, localhost...).")
@click.option("--replace", is_flag=True, help="Make new ones even if DIRECTORY holds some (clients must then trust "
                                              "the new CA).")
def certificates(directory: Path, hosts: tuple[str, ...], replace: bool) -> None:
    """Make a private CA and a TLS certificate for the worker's and the gateway's web servers: DIRECTORY/ca.crt,
    web.crt (the certificate and the CA's: a chain) and web.key (0600), as deploy/compose.yaml mounts them."""
    from crimelink.cli.certificates import issue, write_private

    files = [directory / name for name in ("ca.crt", "web.crt", "web.key")]
    if not replace and any(file.exists() for file in files):
        raise click.ClickException(f"{directory} already holds certificates: --replace to make new ones")
    issued = issue("crimelink deployment CA", list(hosts))
    for file, text in zip(files, (issued.ca, issued.certificate + issued.ca, issued.key), strict=True):  # a chain
        write_private(file, text)
    click.echo(f"wrote {', '.join(str(file) for file in files)} for {', '.join(hosts)}; the CA's key was not kept "
               "(make new ones to add a host)")


@main.command("settings")
def show_settings() -> None:
    """Every CRIMELINK_ variable with the value in force (secrets masked) and what it does."""
    from crimelink.settings import variables

    for name, value, description in variables(get_settings()):
        click.echo(f"{name}={value}\n    {description}")


@main.command()
@click.option("--check", is_flag=True, help="Fail if a committed schema file is out of date.")
def schema(check: bool) -> None:
    """Write the generated contracts: the canonical incident's JSON Schema (schemas/incident.schema.json), each raw
    feed format's (schemas/feeds/), the gateway's OpenAPI document (deploy/openapi/gateway-v1.json) and the ClickHouse
    cluster's DDL (deploy/clickhouse/cluster.sql)."""
    from crimelink.gateway.published import render_openapi
    from crimelink.intake.feed_schemas import render_feed_schemas
    from crimelink.schemas.export import SCHEMA_FILE, render_schema
    from crimelink.sinks.cluster_ddl import render_cluster_ddl

    files = {SCHEMA_FILE: render_schema(), **render_feed_schemas(), **render_openapi(), **render_cluster_ddl()}
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if check:
        if stale:
            raise click.ClickException(f"out of date: {', '.join(map(str, stale))}; run 'crimelink schema'")
        click.echo(f"{len(files)} schema files are up to date")
        return
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        click.echo(f"wrote {path}")
    if not stale:
        click.echo(f"{len(files)} schema files were already up to date")


@main.command()
@click.option("--rate", type=float, default=25.0, show_default=True, help="Simulated records per second.")
@click.option("--keep", is_flag=True, help="Keep the previous demo's data instead of starting afresh.")
@click.option("--secure", is_flag=True, help="Run on a secured broker (SASL_SSL, SCRAM logins, ACLs).")
def demo(rate: float, keep: bool, secure: bool) -> None:
    """Start broker, worker and a simulated feed; show incidents arriving live. Ctrl-C stops it all."""
    from crimelink.cli.demo import run_demo

    run_demo(rate=rate, keep=keep, secure=secure)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
