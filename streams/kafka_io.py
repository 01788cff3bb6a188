"""Plain Kafka I/O outside the worker (kafka-python): declare topics, publish feed records, read topics back."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import MemberToRemove, NewTopic
from kafka.errors import KafkaError, NoError, TopicAlreadyExistsError, UnknownMemberIdError
from kafka.producer.future import FutureRecordMetadata
from kafka.structs import OffsetAndMetadata

from crimelink.errors import BrokerError, ConfigurationError
from crimelink.streams.kafka_auth import Broker, address, client_options

__all__ = ["declare_topics", "check_partitions", "delete_topics", "carry_offsets", "remove_static_members", "Publisher",
           "read_topic", "wait_for_broker", "grant_service_acls", "grant_retailer_channel", "retailer_user"]

T = TypeVar("T")


def _unanswered(bootstrap: Broker) -> str:
    return (f"no Kafka broker answers at {address(bootstrap)}: set CRIMELINK_KAFKA_BOOTSTRAP to the broker's address, "
            "or run this where the `crimelink broker start` or `crimelink demo` that started it runs (the same "
            "CRIMELINK_HOME)")


def wait_for_broker(bootstrap: Broker, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            KafkaAdminClient(**client_options(bootstrap), request_timeout_ms=5000).close()
            return
        except KafkaError as error:
            if time.monotonic() > deadline:
                raise BrokerError(_unanswered(bootstrap)) from error
            time.sleep(0.5)


@contextlib.contextmanager
def _admin(bootstrap: Broker, doing: str, timeout: float = 30.0) -> Iterator[KafkaAdminClient]:
    """An admin client for one job, giving up on an unreachable broker after ``timeout`` seconds; a Kafka error says
    what was being done, and where."""
    admin = None
    try:
        admin = KafkaAdminClient(**client_options(bootstrap), client_id="crimelink-admin",
                                 bootstrap_timeout_ms=int(timeout * 1000))
        yield admin
    except KafkaError as error:
        raise BrokerError(f"{doing} on {address(bootstrap)} failed: {error}") from error
    finally:
        if admin is not None:
            admin.close()


def declare_topics(bootstrap: Broker, topics: Iterable[str], partitions: int,
                   partitions_of: Callable[[str, int], int] | None = None,
                   configs_of: Callable[[str], dict[str, str]] | None = None, replication: int = 1) -> list[str]:
    """Create the topics that do not exist yet (``replication`` copies of each, with ``configs_of(name)`` as their
    topic configs); returns the ones created."""
    with _admin(bootstrap, "declaring topics") as admin:
        existing = set(admin.list_topics())
        wanted = [name for name in topics if name not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([
                    NewTopic(name, partitions_of(name, partitions) if partitions_of else partitions, replication,
                             topic_configs=configs_of(name) if configs_of else None)
                    for name in wanted
                ])
        return wanted


def delete_topics(bootstrap: Broker, prefixes: Iterable[str]) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes``; returns the ones deleted."""
    starts = tuple(prefixes)
    with _admin(bootstrap, "deleting topics") as admin:
        doomed = sorted(name for name in admin.list_topics() if name.startswith(starts))
        if doomed:
            admin.delete_topics(doomed)
        return doomed


def check_partitions(bootstrap: Broker, expected: Mapping[str, int]) -> None:
    """Raise when a topic's partition count differs from what co-partitioning assumes (a topic created
    by hand, or CRIMELINK_TOPIC_PARTITIONS changed after the topics were made)."""
    with _admin(bootstrap, "describing topics") as admin:
        found = {entry["name"]: len(entry["partitions"]) for entry in admin.describe_topics(list(expected))}
    wrong = {topic: count for topic, count in found.items() if count != expected[topic]}
    if wrong:
        listed = ", ".join(f"{topic} has {count}, needs {expected[topic]}" for topic, count in sorted(wrong.items()))
        raise ConfigurationError(f"topic partition counts do not match the settings ({listed}); set "
                                 "CRIMELINK_TOPIC_PARTITIONS to the topics' count, or use a new CRIMELINK_TOPIC_PREFIX")


def replication_of(bootstrap: Broker, prefixes: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Each topic starting with one of ``prefixes``: (copies of its fewest-copied partition, its
    ``min.insync.replicas``). What a cluster keeps when a broker is lost is read here, not assumed from the settings."""
    from kafka.admin import ConfigResource, ConfigResourceType

    starts = tuple(prefixes)
    with _admin(bootstrap, "describing topics' replication") as admin:
        names = sorted(name for name in admin.list_topics() if name.startswith(starts))
        if not names:
            return {}
        copies = {entry["name"]: min(len(partition["replica_nodes"]) for partition in entry["partitions"])
                  for entry in admin.describe_topics(names)}
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in names],
                                           config_filter="all")
    answers = described if isinstance(described, list) else [described]  # one answer per broker asked
    in_sync = {name: int(configs["min.insync.replicas"]["value"])
               for answer in answers for name, configs in answer["topic"].items()}
    return {name: (copies[name], in_sync[name]) for name in names}


def carry_offsets(bootstrap: Broker, group: str, from_groups: Iterable[str], topics: Iterable[str],
                  timeout: float = 60.0) -> dict[TopicPartition, int]:
    """Move ``group``'s committed offsets on ``topics`` up to the furthest any of ``from_groups`` committed; returns
    the offsets moved. Nothing moves while ``group`` has members: they hold their own positions.

    Why: the same agents run under different consumer groups depending on the settings (intake workers or
    not), and a group that takes over would otherwise start from its own old position, or from the start, and
    replay what the other group already handled. Retriable errors are retried for up to ``timeout`` seconds.
    """
    return _retrying(lambda: _carry_offsets(bootstrap, group, list(from_groups), set(topics)), timeout)


def remove_static_members(bootstrap: Broker, group: str, stale: Callable[[str], bool], timeout: float = 60.0) -> list[str]:
    """Remove from ``group`` the static members whose ``group.instance.id`` ``stale`` picks; returns their ids.

    Why: a static member that stopped stays in its group until its session times out (Faust's: 60 s), the partitions
    it had assigned to nobody meanwhile, and a group with members takes no carried-over offsets
    (:func:`carry_offsets`). Retriable errors are retried for up to ``timeout`` seconds, as there.
    """
    return _retrying(lambda: _remove_static_members(bootstrap, group, stale, timeout), timeout)


def _remove_static_members(bootstrap: Broker, group: str, stale: Callable[[str], bool], timeout: float) -> list[str]:
    with _admin(bootstrap, f"removing stopped static members from consumer group {group}", timeout) as admin:
        members = admin.describe_groups([group])[group]["members"]
        leaving = sorted(instance for member in members if (instance := member.get("group_instance_id")) and stale(instance))
        if not leaving:
            return []
        results = admin.remove_group_members(group, [MemberToRemove(group_instance_id=instance) for instance in leaving])
    failed = {who: error.__name__ for who, error in results.items() if error not in (NoError, UnknownMemberIdError)}
    if failed:  # UnknownMemberId: it left by itself meanwhile
        raise BrokerError(f"removing static members {failed} from consumer group {group} on {address(bootstrap)} failed")
    return leaving


def _retrying(attempt: Callable[[], T], timeout: float) -> T:
    """``attempt()``, again every 0.5 s while it fails with a retriable Kafka error (a broker that has only just
    started has no group coordinator yet), for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except BrokerError as error:
            if not getattr(error.__cause__, "retriable", False) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _carry_offsets(bootstrap: Broker, group: str, from_groups: list[str], wanted: set[str]) -> dict[TopicPartition, int]:
    with _admin(bootstrap, f"carrying committed offsets into consumer group {group}") as admin:
        if admin.describe_groups([group])[group]["group_state"] not in ("Empty", "Dead"):
            return {}
        # One group per request: brokers before Kafka 3.0 take no more.
        own = {partition: meta.offset for partition, meta in admin.list_group_offsets({group: None})[group].items()}
        furthest: dict[TopicPartition, int] = {}
        for source in from_groups:
            for partition, meta in admin.list_group_offsets({source: None})[source].items():
                if partition.topic in wanted and meta.offset > max(own.get(partition, -1), furthest.get(partition, -1)):
                    furthest[partition] = meta.offset
        if not furthest:
            return {}
        errors = admin.alter_group_offsets(group, {partition: OffsetAndMetadata(offset, "", -1)
                                                   for partition, offset in furthest.items()})
    failed = {partition: error for partition, error in errors.items() if error is not NoError}
    if failed:
        listed = ", ".join(f"{partition.topic}[{partition.partition}]: {error.__name__}"
                           for partition, error in sorted(failed.items()))
        raise BrokerError(f"carrying committed offsets into consumer group {group} on {address(bootstrap)} failed for {listed}")
    return furthest


class Publisher:
    """Publishes raw feed records the way a retailer's system would: bytes, keyed by incident."""

    def __init__(self, bootstrap: Broker) -> None:
        try:
            self._producer = KafkaProducer(**client_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=5,
                                           client_id="crimelink-publisher")
        except KafkaError as error:
            raise BrokerError(_unanswered(bootstrap)) from error

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> FutureRecordMetadata:
        """Queue one record; the future gives its partition and offset once the broker has it."""
        return self._producer.send(topic, value=value, key=key)

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_topic(bootstrap: Broker, topic: str, *, expect: int, timeout: float = 30.0) -> Iterator[tuple[bytes | None, bytes]]:
    """Read (key, value) pairs from the start of a topic until ``expect`` arrived or time runs out."""
    consumer = KafkaConsumer(topic, **client_options(bootstrap), auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=1000)
    deadline = time.monotonic() + timeout
    seen = 0
    try:
        while seen < expect and time.monotonic() < deadline:
            for message in consumer:
                yield message.key, message.value
                seen += 1
                if seen >= expect:
                    break
    finally:
        consumer.close()


def grant_service_acls(admin_login: Broker, principal: str) -> None:
    """What crimelink's own processes need on a broker with ACLs on: every topic, consumer group and transactional id
    (Faust names its changelogs and groups after the app id, the tests after a prefix per run), and on the cluster
    idempotent writes and descriptions, never ACL or broker-config changes."""
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

    def allow(operation: ACLOperation, kind: ResourceType, name: str) -> ACL:
        return ACL(principal=principal, host="*", operation=operation, permission_type=ACLPermissionType.ALLOW,
                   resource_pattern=ResourcePattern(kind, name, ACLResourcePatternType.LITERAL))

    acls = [allow(ACLOperation.ALL, kind, "*")
            for kind in (ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID)]
    acls += [allow(operation, ResourceType.CLUSTER, "kafka-cluster")
             for operation in (ACLOperation.IDEMPOTENT_WRITE, ACLOperation.DESCRIBE, ACLOperation.DESCRIBE_CONFIGS)]
    with _admin(admin_login, f"granting {principal} its ACLs") as admin:
        result = admin.create_acls(acls)
    if result.get("failed"):
        raise BrokerError(f"granting {principal} its ACLs on {address(admin_login)} failed: {result['failed']}")


def retailer_user(retailer: str) -> str:
    """The Kafka login (SCRAM user, ACL principal ``User:<it>``) a retailer writes its own channel with."""
    return f"retailer-{retailer}"


def grant_retailer_channel(admin_login: Broker, channel_prefix: str, retailer: str, password: str,
                           mechanism: str = "SCRAM-SHA-512") -> str:
    """Give ``retailer`` its login (created, or its password replaced) and WRITE on the topics under its channel's
    prefix (``crimelink.streams.topics.RetailerChannel``), nothing else: no read, no other topic, no group. What the
    worker reads from those topics is then that retailer's, whatever a record claims; returns the user name."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
        UserScramCredentialUpsertion,
    )

    user = retailer_user(retailer)
    write = ACL(principal=f"User:{user}", host="*", operation=ACLOperation.WRITE,
                permission_type=ACLPermissionType.ALLOW,
                resource_pattern=ResourcePattern(ResourceType.TOPIC, channel_prefix, ACLResourcePatternType.PREFIXED))
    with _admin(admin_login, f"giving retailer {retailer} its Kafka login") as admin:
        failed = {name: error for name, error in admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, mechanism.replace("-", "_"), password)]).items() if error}
        result = admin.create_acls([write])
    if failed:
        raise BrokerError(f"creating the Kafka login {user} on {address(admin_login)} failed: {failed}")
    if result.get("failed"):
        raise BrokerError(f"granting {user} WRITE on {channel_prefix}* on {address(admin_login)} failed: "
                          f"{result['failed']}")
    return user
