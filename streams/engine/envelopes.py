"""The two internal hops carry one message per batch and partition (an envelope), not one per incident.

Why: Faust's per-message machinery (send futures and callbacks, per-event acks and sensors) cost
more than the work done for an incident. Normaliser -> gate and gate -> correlator therefore send
each batch as one JSON object holding a list; topics of record (checked incidents, feedback,
links, series, alerts) stay one message per record for the systems that read them.

An envelope goes to the partition Kafka's default partitioner picks for its incidents' keys, so
the gate's table and the gate commands (sent one per message, keyed by incident) stay
co-partitioned; the worker checks the topics have the partition count this assumes.

The agent reading an envelope usually runs in the process that wrote it a moment before, so each
envelope sent is remembered with the models it was packed from (``SentEnvelopes``) and read back
without parsing: that parse had been the gate's largest cost. Kafka still carries every envelope,
and one this process did not send (after a restart, from another worker) is parsed as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Generic, TypeVar

from aiokafka.partitioner import murmur2
from pydantic import BaseModel

__all__ = ["BROKER_MESSAGE_MAX_BYTES", "MAX_ENVELOPE_BYTES", "INCIDENTS_HEAD", "CASES_HEAD", "partition_for",
           "pack_models", "SentEnvelopes"]

M = TypeVar("M", bound=BaseModel)

BROKER_MESSAGE_MAX_BYTES = 1024 * 1024
"""The broker's default ``message.max.bytes``, which every record crimelink sends must fit."""
MAX_ENVELOPE_BYTES = BROKER_MESSAGE_MAX_BYTES // 2
"""A batch larger than this goes as several envelopes."""
INCIDENTS_HEAD = b'{"incidents":['  # crimelink.schemas.incident.IncidentBatch
CASES_HEAD = b'{"command":"cases","cases":['  # crimelink.schemas.correlation.CorrelateCases
_TAIL = b"]}"


_recent_hashes = lru_cache(maxsize=32_768)(murmur2)
"""murmur2 is pure Python here, and each incident's key is hashed three times within one batch: for its envelope,
its checked record and its feedback."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as in the Java client and aiokafka) gives ``key``."""
    return (_recent_hashes(key) & 0x7FFFFFFF) % partitions


def pack_models(models: Iterable[M], head: bytes, max_bytes: int = MAX_ENVELOPE_BYTES) -> Iterator[tuple[bytes, list[M]]]:
    """``head`` + the models' JSON, comma-separated, + ``]}``, split so no envelope passes ``max_bytes`` (one model
    larger than that still goes, alone); each envelope comes with the models it holds."""
    chunk: list[bytes] = []
    packed: list[M] = []
    size = len(head) + len(_TAIL)
    for model in models:
        item = model.model_dump_json().encode()
        if chunk and size + len(item) + 1 > max_bytes:
            yield head + b",".join(chunk) + _TAIL, packed
            chunk, packed, size = [], [], len(head) + len(_TAIL)
        chunk.append(item)
        packed.append(model)
        size += len(item) + 1
    if chunk:
        yield head + b",".join(chunk) + _TAIL, packed


class SentEnvelopes(Generic[M]):
    """Envelopes this process sent, each with the models it was packed from, until an agent here takes it back.

    Looked up by content, so a hit gives exactly what parsing the envelope would (a unit test pins the
    round trip); an envelope not taken within ``max_bytes`` of newer ones is forgotten and parsed when
    read. With a backlog the normaliser runs ahead of the gate: 20,000 queued incidents left up to
    24 MB of envelopes waiting here (bench.throughput). The models are shared, not copied: incidents
    are frozen, and a case only gains scoring's cached view of itself.
    """

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._sent: OrderedDict[bytes, list[M]] = OrderedDict()
        self._bytes = 0
        self.taken = 0
        self.parsed = 0  # envelopes read that were not here: sent before a restart, or by another process

    def remember(self, envelope: bytes, models: list[M]) -> None:
        if envelope in self._sent or len(envelope) > self.max_bytes:
            return
        self._sent[envelope] = models
        self._bytes += len(envelope)
        while self._bytes > self.max_bytes and self._sent:
            forgotten, _ = self._sent.popitem(last=False)
            self._bytes -= len(forgotten)

    def take(self, envelope: bytes) -> list[M] | None:
        """The models ``envelope`` was packed from, once; None when it was not sent from here (parse it)."""
        models = self._sent.pop(envelope, None)
        if models is None:
            self.parsed += 1
            return None
        self._bytes -= len(envelope)
        self.taken += 1
        return models

