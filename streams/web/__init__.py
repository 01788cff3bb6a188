"""The worker's web server: the door (who is calling, from where, may they), the endpoints behind it, and the pages.

With the embedded store this is the only way in while the worker runs: chDB lets one process open the data
directory, and that process is the worker. Faust's own pages (``/router``, ``/table``, ``/stats``, ``/graph``) are
switched off (``crimelink.streams.engine.web_pages``).
"""

from __future__ import annotations

from typing import Any

from crimelink.access.sessions import SessionStore
from crimelink.access.users import UserRegistry
from crimelink.streams.audit import FLUSH_SECONDS, AuditTrail
from crimelink.streams.erasure import IncidentEraser
from crimelink.streams.force_crime_numbers import ForceCrimeNumbers
from crimelink.streams.web.door import Door, check_listen_address
from crimelink.streams.web.views import install_views
from crimelink.streams.wiring import Wiring

__all__ = ["install", "check_listen_address"]


def install(app: Any, wiring: Wiring, trail: AuditTrail, eraser: IncidentEraser) -> Door:
    """Adds the door and every endpoint to ``app``'s web server; returns the door."""
    settings = wiring.settings
    door = Door(settings.web, UserRegistry(settings.users_file),
                SessionStore(settings.web.session_hours * 3600), trail)
    install_views(app, door, wiring.store, eraser, ForceCrimeNumbers(wiring))

    @app.timer(FLUSH_SECONDS)
    async def write_queued_refusals() -> None:
        await trail.flush()

    @app.on_before_shutdown.connect
    async def _last_refusals(sender: Any, **_: Any) -> None:
        await trail.flush()

    return door
