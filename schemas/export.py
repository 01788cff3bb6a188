"""Render the canonical incident's JSON Schema (``crimelink schema`` writes it into the repo)."""

from __future__ import annotations

import json
from pathlib import Path

from crimelink.schemas.incident import Incident

__all__ = ["SCHEMA_FILE", "render_schema"]

SCHEMA_FILE = Path(__file__).resolve().parent / "incident.schema.json"


def render_schema() -> str:
    document = Incident.model_json_schema(mode="serialization")
    document["$id"] = "https://crimelink.invalid/schemas/incident.schema.json"
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
