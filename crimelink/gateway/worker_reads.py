"""Incident status and backlogs, read through the worker's API with the calling retailer's own token: the worker
checks the token again, keeps the retailer to its own data and writes the access log, as for any other reader. The
gateway itself holds no ClickHouse connection (the embedded store belongs to the worker)."""

from __future__ import annotations

from typing import Any

import httpx

from crimelink.errors import CrimelinkError

__all__ = ["WorkerReads", "WorkerUnavailable", "WorkerRefused"]


class WorkerUnavailable(CrimelinkError):
    """The worker did not answer; the gateway answers 503."""


class WorkerRefused(CrimelinkError):
    """The worker refused the read (its status and message are passed on)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class WorkerReads:
    def __init__(self, base_url: str, timeout: float = 10.0, ca_file: str | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=ca_file or True,
                                         headers={"Accept": "application/json"})
        self.base_url = base_url

    async def get(self, path: str, token: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        params = {key: value for key, value in (query or {}).items() if value not in (None, "")}
        try:
            response = await self._client.get(path, params=params, headers={
                "Authorization": f"Bearer {token}", "X-Justification": "retailer gateway: the retailer's own records"})
        except httpx.HTTPError as error:
            raise WorkerUnavailable(f"the crimelink worker at {self.base_url} did not answer ({type(error).__name__})"
                                    ) from None
        if response.status_code >= 500:
            raise WorkerUnavailable(f"the crimelink worker answered {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise WorkerUnavailable(f"the crimelink worker answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            raise WorkerRefused(response.status_code, str(document.get("error", "refused"))[:500])
        return document  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self._client.aclose()
