"""Table changelog records that travel with the agent's own output instead of one producer send each.

Why: Faust sends each table write to the changelog on its own (a future, a buffer hop and a
produce call per record), and its buffer fills up under load until consuming waits for it; in a
profile of the worker that path cost about a tenth of the main thread. Inside
:func:`changelog_into`, a write to an :class:`OutputTable` is serialised exactly as Faust would
(same topic, partition, key and value bytes, so recovery reads it back unchanged) and added to the
step's :class:`~crimelink.streams.engine.checkpoint.Output`, which is delivered and acknowledged before the agent takes
its next event. That is a stronger order than Faust's, which only flushes changelogs before a
commit. Outside :func:`changelog_into` (a test's ``test_context``), and for a windowed table or a store
other than memory, the table behaves exactly as Faust's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import faust
from faust.stores.memory import Store as MemoryStore

if TYPE_CHECKING:
    from crimelink.streams.engine.record_batches import Output

__all__ = ["OutputTable", "changelog_into"]

_collecting: ContextVar[Output | None] = ContextVar("crimelink_changelog_output", default=None)


@contextmanager
def changelog_into(output: Output) -> Iterator[Output]:
    """Table writes made in this block (by this asyncio task only) go into ``output``."""
    token = _collecting.set(output)
    try:
        yield output
    finally:
        _collecting.reset(token)


class OutputTable(faust.Table):  # type: ignore[misc]  # faust is untyped
    """A Faust table whose changelog records join the current step's output (see the module docstring)."""

    def _changelog_topic_name(self) -> str:
        """Named after crimelink's app id, not the Faust app's (an intake worker's carries ``-intake``), so a table
        recovers the same changelog whichever kind of worker holds it."""
        return f"{self.app.settings.kafka.app_id}-{self.name}-changelog"

    def on_key_set(self, key: Any, value: Any) -> None:
        output = self._output()
        if output is None:
            super().on_key_set(key, value)
            return
        value_bytes, _ = self.changelog_topic.prepare_value(value, self.value_serializer)
        self._add(output, key, value_bytes)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        output = self._output()
        if output is None:
            super().on_key_del(key)
            return
        self._add(output, key, None)  # a tombstone
        self._sensor_on_del(self, key)

    def _output(self) -> Output | None:
        # Faust's own path also keeps a persistent store's offsets and a windowed table's expiry; a plain
        # table in memory needs neither.
        output = _collecting.get()
        if output is None or not isinstance(self.data, MemoryStore) or self._should_expire_keys():
            return None
        return output

    def _add(self, output: Output, key: Any, value: bytes | None) -> None:
        topic = self.changelog_topic
        key_bytes, _ = topic.prepare_key(key, self.key_serializer)
        output.add(topic.get_topic_name(), key_bytes, value, self.partition_for_key(key))
