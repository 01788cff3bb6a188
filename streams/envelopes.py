"""The two internal hops carry one message per batch and partition (an envelope), not one per incident.

Why: Faust's per-message machinery (send futures and callbacks, per-event acks and sensors) cost
more than the work done for an incident. Normaliser -> gate and gate -> correlator therefore send
each batch as one JSON object holding a list; topics of record (checked incidents, feedback,
links, series, alerts) stay one message per record for the systems that read them.

An envelope goes to the partition Kafka's default partitioner picks for its incidents' keys, so
the gate's table and the gate commands (sent one per message, keyed by incident) stay
co-partitioned; the worker checks the topics have the partition count this assumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

from aiokafka.partitioner import murmur2

__all__ = ["MAX_ENVELOPE_BYTES", "INCIDENTS_HEAD", "CASES_HEAD", "partition_for", "pack"]

MAX_ENVELOPE_BYTES = 512 * 1024
"""Half the broker's default ``message.max.bytes`` (1 MiB): a batch larger than this goes as several envelopes."""
INCIDENTS_HEAD = b'{"incidents":['  # schemas.incident.IncidentBatch
CASES_HEAD = b'{"command":"cases","cases":['  # schemas.correlation.CorrelateCases


_recent_hashes = lru_cache(maxsize=32_768)(murmur2)
"""murmur2 is pure Python here, and each incident's key is hashed three times within one batch: for its envelope,
its checked record and its feedback."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as in the Java client and aiokafka) gives ``key``."""
    return (_recent_hashes(key) & 0x7FFFFFFF) % partitions


def pack(items: Iterable[bytes], head: bytes, tail: bytes = b"]}", max_bytes: int = MAX_ENVELOPE_BYTES) -> Iterator[bytes]:
    """``head`` + comma-separated items + ``tail``, split so no envelope passes ``max_bytes`` (one item
    larger than that still goes, alone)."""
    chunk: list[bytes] = []
    size = len(head) + len(tail)
    for item in items:
        if chunk and size + len(item) + 1 > max_bytes:
            yield head + b",".join(chunk) + tail
            chunk, size = [], len(head) + len(tail)
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        yield head + b",".join(chunk) + tail
