"""Faust's flow control with one change: resuming flow that is already running drops nothing.

Why: Faust clears every stream queue whenever flow is resumed, even when it was never suspended.
After a (re)start, recovery resumes flow, then resumes the input partitions, seeks them to their
committed offsets and resumes flow once more. Records fetched between the partitions resuming and
that last call were in an agent's queue and marked as read; the clear dropped them, the re-read
after the seek skipped the ones already marked, and the consumer committed past the first one (it
lets the head of a partition be one offset short). Seen in tests: an incident sent just after a
restart never stored (correlation restart test, about 1 run in 10 under load), and with other
output timing the gate never seeing gate commands (1 run in 3 to 6). Clearing on the way out of a real
suspension (a rebalance) is kept: those records belong to the previous assignment and are read again
from the committed offsets.
"""

from __future__ import annotations

from mode.utils.queues import FlowControlEvent

__all__ = ["KeepQueuedFlowControl"]


class KeepQueuedFlowControl(FlowControlEvent):
    def resume(self) -> None:
        if self.is_active():
            return  # already flowing: what is queued was fetched for the current assignment, keep it
        super().resume()
