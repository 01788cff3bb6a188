"""How domain code keeps pydantic models in a state mapping (a Faust table in the worker, a dict in tests).

Each value is one JSON string: cheaper to hold, to write and to changelog than a nested dict.
Values written as dicts by earlier versions are still in changelogs, so both load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, overload

from pydantic import BaseModel

__all__ = ["load_stored"]

M = TypeVar("M", bound=BaseModel)


@overload
def load_stored(model: type[M], raw: str | Mapping[str, Any]) -> M: ...
@overload
def load_stored(model: type[M], raw: None) -> None: ...
def load_stored(model: type[M], raw: str | Mapping[str, Any] | None) -> M | None:
    if raw is None:
        return None
    return model.model_validate_json(raw) if isinstance(raw, str) else model.model_validate(raw)
