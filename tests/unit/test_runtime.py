"""Freezing what survived (crimelink.streams.engine.garbage): left out of collections, still freed when nothing refers to it."""

import gc
import weakref

from crimelink.streams.engine.garbage import freeze_survivors


class _Held:
    pass


def test_a_frozen_object_is_left_out_of_collections_yet_freed_when_dropped() -> None:
    held = _Held()
    gone = weakref.ref(held)
    try:
        frozen = freeze_survivors()
        assert frozen >= 1 and not any(item is held for item in gc.get_objects())  # collections no longer see it
        del held
        assert gone() is None  # reference counting freed it all the same
    finally:
        gc.unfreeze()


def test_garbage_in_a_reference_cycle_is_collected_not_frozen() -> None:
    cycle = _Held()
    cycle.itself = cycle  # type: ignore[attr-defined]
    gone = weakref.ref(cycle)
    del cycle  # unreachable, but only the cyclic collector can free it
    try:
        freeze_survivors()
        assert gone() is None
    finally:
        gc.unfreeze()
