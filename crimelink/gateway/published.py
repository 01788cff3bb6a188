"""The committed copy of the gateway's OpenAPI document, ``deploy/openapi/gateway-v1.json``: ``crimelink schema``
writes it, and a test fails when it drifts from what the app serves at ``/v1/openapi.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["OPENAPI_FILE", "render_openapi"]

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "deploy" / "openapi" / "gateway-v1.json"


def render_openapi() -> dict[Path, str]:
    """The committed OpenAPI document's path and text."""
    from crimelink.gateway.app import create_app
    from crimelink.settings import GatewaySettings, Settings

    # the defaults, not this environment's settings: the committed document is the same wherever it is made
    document: dict[str, Any] = create_app(Settings(gateway=GatewaySettings.model_construct())).openapi()
    return {OPENAPI_FILE: json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"}
