"""Static consumer-group membership (KIP-345) for every long-lived consumer the project runs.

Why: a member that dies without leaving (SIGKILL, a lost machine) keeps its partitions until its session times out
(Faust's 60 s). A new dynamic member joining meanwhile makes the group wait for it: storing stopped about 60 s after
every worker restart (bench/chaos.py). A static member that comes back under the same ``group.instance.id`` takes
its place, and its partitions, as it joins. The id is the same for a process in the same role on the same machine
and working area across restarts, and differs otherwise, so two workers never fence each other.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

__all__ = ["sink_group", "static_member_id"]


def static_member_id(app_id: str, role: str, home: Path) -> str:
    """``<app id>-<role>-<12 hex of host and working area>``; ``role`` names the consumer (``worker``, ``sink``,
    ``intake-0``...)."""
    where = hashlib.sha1(f"{socket.gethostname()}:{home.resolve()}".encode()).hexdigest()[:12]
    return f"{app_id}-{role}-{where}"


def sink_group(app_id: str) -> str:
    """The ClickHouse sink's own consumer group (``crimelink.streams.engine.topic_sink``)."""
    return f"{app_id}-clickhouse-sink"
