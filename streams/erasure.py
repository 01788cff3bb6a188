"""Erasing one incident everywhere the worker keeps it (``crimelink erase``, ``POST /api/erase``).

In order: the gate and the correlator are told through their own input topics (so each forgets it on the partition
that owns it, and their changelogs get tombstones), every ClickHouse row naming it is deleted, and once the
correlator has let go of it (its series re-evaluated, the series' alert issued again with an evidence package without
it) the rows are deleted once more, for any that were on their way to the store meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from crimelink.linkage import Correlator
from crimelink.schemas.correlation import EraseCase
from crimelink.sinks.erasure import erase_incident
from crimelink.streams.engine.checkpoint import Output
from crimelink.streams.wiring import Wiring

__all__ = ["IncidentEraser"]

_CORRELATOR_WAIT_SECONDS = 30.0


class IncidentEraser:
    def __init__(self, wiring: Wiring, correlator: Correlator | None) -> None:
        self._wiring = wiring
        self._correlator = correlator  # None where correlation runs elsewhere: only the store is waited for then

    async def erase(self, retailer: str, incident_id: str) -> dict[str, Any]:
        """Erase the incident; what went from each table, and whether the correlator let go of it in time."""
        wiring, names, key = self._wiring, self._wiring.names, f"{retailer}:{incident_id}"
        output = Output()
        output.add(names.gate_commands, key.encode(), json.dumps({"command": "erase", "key": key}).encode())
        output.add(names.correlation_in, None, EraseCase(key=key).model_dump_json().encode(), 0)
        await wiring.send(output)
        removed = await wiring.store.call(erase_incident, wiring.store.store, retailer, incident_id)
        released = await self._correlator_released(key)
        await asyncio.sleep(2 * wiring.settings.sink.flush_seconds + 0.5)  # what was on its way to the store is there
        again = await wiring.store.call(erase_incident, wiring.store.store, retailer, incident_id)
        return {"key": key, "rows_removed": {table: removed[table] + again[table] for table in removed},
                "correlation_released": released}

    async def _correlator_released(self, key: str) -> bool:
        correlator = self._correlator
        if correlator is None:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CORRELATOR_WAIT_SECONDS
        while correlator.case(key) is not None or correlator.state.series_of.get(key) is not None:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True
