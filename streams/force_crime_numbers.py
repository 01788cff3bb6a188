"""A crime number entered by a force (``POST /api/incidents/{retailer}/{id}/crime-number``, ``crimelink crime-number
--as-force``): the force that issued it says so itself, instead of waiting for the retailer to pass it on.

The force user was authenticated by the web server, so the command goes straight to the gate's own input topic (only
crimelink writes there) with the user as its sender and ``force`` as its source; the gate then decides it as it
decides a retailer's update, and the incident's crime number records who entered it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from crimelink.access.audit import AuditEvent
from crimelink.access.principals import Principal, Role
from crimelink.errors import CrimeNumberRefused
from crimelink.referral import crime_numbers
from crimelink.schemas.incident import CrimeNumberSource, CrimeNumberStatus
from crimelink.schemas.outcomes import CrimeNumberUpdate
from crimelink.streams.agents.crime_number_updates import update_command
from crimelink.streams.engine.checkpoint import Output
from crimelink.streams.wiring import Wiring

__all__ = ["ForceCrimeNumbers"]

_SETTLED = {"referable": "is already referable with crime number {number}: a force cannot replace it here (the "
                         "retailer sends a new revision of the incident)",
            "expired": "expired without a valid crime number and can no longer be referred"}


class ForceCrimeNumbers:
    def __init__(self, wiring: Wiring) -> None:
        self._wiring = wiring

    async def enter(self, principal: Principal, retailer: str, incident_id: str, raw: str, force_id: str | None,
                    event: AuditEvent) -> dict[str, Any]:
        """Send the gate the crime number ``principal`` (a force user) entered; what was sent. Raises
        :class:`CrimeNumberRefused` with the HTTP status that fits. ``event``, the alteration, goes in the same
        delivery as the command, so no alteration is made that the access log lacks (the web server records it again
        as it answers: the same event id, kept once)."""
        assert principal.role is Role.FORCE
        incident = await self._incident(retailer, incident_id)
        if incident is None or not principal.sees_forces([incident["force_id"]]):
            raise CrimeNumberRefused(404, f"no incident {retailer}/{incident_id} in your forces' areas")
        issuing = force_id or incident["force_id"]
        if issuing not in principal.forces:
            raise CrimeNumberRefused(403, f"{principal.name} may enter crime numbers issued by "
                                          f"{', '.join(principal.forces)} only, not by {issuing}")
        settled = _SETTLED.get(incident["eligibility"])
        if settled:
            number = incident["crime_ref_normalised"]
            raise CrimeNumberRefused(409, f"{retailer}/{incident_id} " + settled.format(number=number))
        reference = crime_numbers.check(issuing, raw)
        if reference.status is not CrimeNumberStatus.VALID:
            raise CrimeNumberRefused(422, f"not a valid crime number for {issuing}: {reference.reason}")
        update = CrimeNumberUpdate(retailer=retailer, incident_id=incident_id, crime_reference=raw,
                                   force_id=issuing)  # the gate checks it against the force checked here
        via = "crimelink's web server"  # the gate writes "<via> from <sender>"
        output = Output()
        command = update_command(update, datetime.now(UTC), via, f"force user {principal.name}",
                                 CrimeNumberSource.FORCE)
        output.add(self._wiring.names.gate_commands, update.key.encode(), command)
        event.rows = 1
        output.add(self._wiring.names.audit, event.event_id.encode(), json.dumps(event.record()).encode())
        await self._wiring.send(output)
        return {"retailer": retailer, "incident_id": incident_id, "crime_reference": reference.normalised,
                "force_id": issuing, "source": CrimeNumberSource.FORCE.value, "entered_by": principal.name,
                "was": incident["eligibility"], "status": "sent to the crime-number gate"}

    async def _incident(self, retailer: str, incident_id: str) -> dict[str, Any] | None:
        result = await self._wiring.store.read(lambda reader: reader.trusted_query(
            "SELECT force_id, eligibility, crime_ref_normalised FROM incidents_latest "
            "WHERE retailer = {r:String} AND incident_id = {i:String} LIMIT 1", {"r": retailer, "i": incident_id}))
        rows = result.as_dicts()
        return rows[0] if rows else None
