"""Feed adapters, discovered by module: drop a module that defines ``ADAPTER`` here to add a format."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from crimelink.errors import UnknownFeedFormat
from crimelink.intake.feeds.base import FeedAdapter, IncidentDraft

__all__ = ["FeedAdapter", "IncidentDraft", "adapters", "adapter_for"]


@lru_cache(maxsize=1)
def adapters() -> dict[str, FeedAdapter]:
    """Every registered adapter by format name."""
    found: dict[str, FeedAdapter] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        adapter = getattr(module, "ADAPTER", None)
        if isinstance(adapter, FeedAdapter):
            if adapter.name in found:
                raise ValueError(f"two adapters claim the feed format {adapter.name!r}")
            found[adapter.name] = adapter
    return found


def adapter_for(name: str) -> FeedAdapter:
    try:
        return adapters()[name]
    except KeyError:
        raise UnknownFeedFormat(name, list(adapters())) from None
