"""Faust's web driver without Faust's own pages.

Faust serves ``/router`` and ``/table/<name>/<key>/`` (the correlator's state, to anyone), and ``/`` with either its
statistics or a production index, whatever the settings say: ``web_stats_enabled=False`` swaps the statistics for
the index rather than removing both. No page of crimelink may be outside its door (``crimelink.streams.web.door``),
so this driver starts with no blueprints at all; every route it serves is a view crimelink installed.
"""

from __future__ import annotations

from typing import Any

from faust.web.drivers.aiohttp import Web

__all__ = ["CrimelinkWeb", "MAX_REQUEST_BYTES"]

MAX_REQUEST_BYTES = 512 * 1024
"""Largest request body read (aiohttp's ``client_max_size``): a query is at most 256 KiB."""


class CrimelinkWeb(Web):  # type: ignore[misc]  # faust is untyped
    default_blueprints: Any = []
    production_blueprints: Any = []
    debug_blueprints: Any = []
    optional_blueprints: Any = []
