"""Every ``CRIMELINK_GC_FREEZE_SECONDS``, what survived is left out of later garbage collections
(``crimelink.runtime.freeze_survivors``), in the worker and in each intake worker alike."""

from __future__ import annotations

from crimelink.runtime import freeze_survivors
from crimelink.settings import get_settings
from streams.app import app

__all__: list[str] = []

_seconds = get_settings().gc_freeze_seconds

if _seconds:
    @app.timer(interval=_seconds)
    async def freeze_what_survived() -> None:
        freeze_survivors()
