"""deploy/compose.yaml holds together: no Docker engine runs on these machines, so what can be checked without one is
checked here. Each service's settings are ones crimelink reads, its files exist (or are the ones `crimelink
certificates` makes), the three Kafka nodes form one quorum with the replication crimelink's producers and topics ask
for, the two ClickHouse servers are the replicas of the cluster cluster.sql names, and Grafana loads the dashboard
through a data source of the type it asks for."""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from crimelink.settings import Settings, variables
from crimelink.sinks.cluster_ddl import CLUSTER

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CRIMELINK_SERVICES = ("worker", "intake-1", "intake-2", "gateway")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in service.get("environment", {}).items()}


def _host_files(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(path on the host, relative to deploy/; path in the container) of each bind mount."""
    mounts = [volume.split(":") for volume in service.get("volumes", [])]
    return [(mount[0], mount[1]) for mount in mounts if mount[0].startswith(".")]


def test_kafka_nodes_form_one_quorum_with_the_replication_crimelink_asks_for(compose: dict[str, Any]) -> None:
    nodes = {name: _environment(service) for name, service in compose["services"].items() if name.startswith("kafka-")}
    assert sorted(nodes) == ["kafka-1", "kafka-2", "kafka-3"]
    voters = {f"{env['KAFKA_NODE_ID']}@{name}:9093" for name, env in nodes.items()}
    assert all(set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters for env in nodes.values())
    assert all(env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092" for name, env in nodes.items())
    assert len({env["CLUSTER_ID"] for env in nodes.values()}) == 1
    pinned = re.search(r"<kafka.version>([^<]+)<", (DEPLOY / "kafka" / "pom.xml").read_text()).group(1)  # type: ignore[union-attr]
    assert {service["image"] for name, service in compose["services"].items() if name in nodes} == {
        f"apache/kafka:{pinned}"}
    bootstrap = {f"{name}:9092" for name in nodes}
    for name in CRIMELINK_SERVICES:
        env = _environment(compose["services"][name])
        assert set(env["CRIMELINK_KAFKA_BOOTSTRAP"].split(",")) == bootstrap, name
        assert (env["CRIMELINK_KAFKA_REPLICATION_FACTOR"], env["CRIMELINK_KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
    assert all((env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
               for env in nodes.values())


def test_every_crimelink_variable_is_a_setting_and_every_file_is_there(compose: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    known = {name for name, _, _ in variables(Settings(home=tmp_path))}
    for name in CRIMELINK_SERVICES:
        unknown = {variable for variable in _environment(compose["services"][name])
                   if variable.startswith("CRIMELINK_")} - known
        assert not unknown, f"{name}: {sorted(unknown)}"
    for name, service in compose["services"].items():
        for host, _ in _host_files(service):
            assert (DEPLOY / host).exists(), f"{name} mounts {host}, which is not in deploy/"
        named = {volume.split(":")[0] for volume in service.get("volumes", []) if not volume.startswith(".")}
        assert named <= set(compose["volumes"]), f"{name} uses undeclared volumes {named - set(compose['volumes'])}"
    from crimelink.cli.commands import main

    made = CliRunner().invoke(main, ["certificates", str(tmp_path / "secrets"), "--host", "worker"])
    assert made.exit_code == 0, made.output
    wanted = {Path(secret["file"]).name for secret in compose["secrets"].values()}
    assert all(secret["file"].startswith("./secrets/") for secret in compose["secrets"].values())
    assert wanted == {path.name for path in (tmp_path / "secrets").iterdir()}


def test_the_intake_workers_join_the_workers_intake_group_each_as_itself(compose: dict[str, Any]) -> None:
    intake = [_environment(compose["services"][name]) for name in ("intake-1", "intake-2")]
    assert [env["CRIMELINK_WORKER_ROLE"] for env in intake] == ["intake", "intake"]
    assert len({env["CRIMELINK_INTAKE_INSTANCE"] for env in intake}) == 2  # static members: one each
    assert int(_environment(compose["services"]["worker"])["CRIMELINK_INTAKE_PROCESSES"]) >= 1  # the group is its own
    assert {env.get("CRIMELINK_APP_ID") for env in intake} == {_environment(compose["services"]["worker"]).get(
        "CRIMELINK_APP_ID")}


def test_the_clickhouse_servers_are_the_replicas_of_the_cluster_the_ddl_names(compose: dict[str, Any]) -> None:
    servers = [name for name in compose["services"] if re.fullmatch(r"clickhouse-\d", name)]
    config = ElementTree.parse(DEPLOY / "clickhouse" / "config" / "cluster.xml").getroot()
    [cluster] = config.find("remote_servers")  # type: ignore[misc]
    assert cluster.tag == CLUSTER
    assert sorted(replica.findtext("host") for replica in cluster.iter("replica")) == sorted(servers)
    replicas = []
    for name in servers:
        [macros] = [host for host, inside in _host_files(compose["services"][name]) if inside.endswith("macros.xml")]
        replicas.append(ElementTree.parse(DEPLOY / macros).getroot().findtext("macros/replica"))
    assert replicas == servers  # each its own name: two with the same one would share a Keeper path
    keeper = ElementTree.parse(DEPLOY / "clickhouse" / "config" / "keeper.xml").getroot()
    assert config.findtext("zookeeper/node/host") == "keeper" and "keeper" in compose["services"]
    assert config.findtext("zookeeper/node/port") == keeper.findtext("keeper_server/tcp_port")
    dsn = _environment(compose["services"]["worker"])["CRIMELINK_CLICKHOUSE_DSN"]
    assert re.fullmatch(r"http://crimelink@(clickhouse-\d):8123/crimelink", dsn).group(1) in servers  # type: ignore[union-attr]
    assert compose["services"]["clickhouse-tables"]["volumes"] == ["./clickhouse/cluster.sql:/cluster.sql:ro"]


def test_grafana_loads_the_dashboard_through_the_data_source_it_asks_for(compose: dict[str, Any]) -> None:
    mounts = dict(_host_files(compose["services"]["grafana"]))
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "clickhouse.yaml").read_text())["datasources"]
    dashboard = (DEPLOY / "grafana" / "crimelink.json").read_text()
    assert f'"query": "{source["type"]}"' in dashboard
    assert source["type"] in _environment(compose["services"]["grafana"])["GF_INSTALL_PLUGINS"]
    [provider] = yaml.safe_load((provisioning / "dashboards" / "crimelink.yaml").read_text())["providers"]
    assert mounts["./grafana/crimelink.json"] == f"{provider['options']['path']}/crimelink.json"


def test_the_image_installs_every_package_folder_and_the_env_example_names_every_secret(
        compose: dict[str, Any]) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    folders = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].values())
    assert folders <= set(re.findall(r"^COPY (\w+) ", dockerfile, re.MULTILINE))
    assert 'ENTRYPOINT ["crimelink"]' in dockerfile
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    example = set(re.findall(r"^(\w+)=", (DEPLOY / "compose.env.example").read_text(), re.MULTILINE))
    assert required and required <= example
