"""A retailer's system sending through the gateway, as the demo's gateway retailer and the gateway benchmark do:
records in batches, crime numbers one by one, every answer counted."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter

import httpx
import orjson

from crimelink.intake.feeds import adapters

__all__ = ["GatewayClient"]


class GatewayClient:
    """Not thread-safe: one sender thread per client."""

    def __init__(self, url: str, token: str, *, batch: int = 50, timeout: float = 30.0) -> None:
        self._client = httpx.Client(base_url=url, timeout=timeout, headers={"Authorization": f"Bearer {token}"})
        self._batch = batch
        self._pending: dict[str, list[bytes]] = {}
        self.outcomes: Counter[str] = Counter()
        """accepted, rejected, resent, crime-number accepted / refused, and each HTTP error status."""

    def submit(self, feed_format: str, payload: bytes) -> None:
        """Queue one record; a full batch is sent at once."""
        queued = self._pending.setdefault(feed_format, [])
        queued.append(payload)
        if len(queued) >= self._batch:
            self.flush(feed_format)

    def flush(self, feed_format: str | None = None) -> None:
        for name in [feed_format] if feed_format else list(self._pending):
            payloads, self._pending[name] = self._pending.get(name, []), []
            if payloads:
                self.send_batch(name, payloads)

    def send_batch(self, feed_format: str, payloads: list[bytes]) -> list[httpx.Response]:
        """``payloads`` in one request (a JSON array, or the CSV header once with every row), but for a record that
        cannot share a body (not JSON, or not one CSV row: the simulator makes some), which goes alone, as a
        retailer's broken serialiser would send it: its 400 then costs no other record."""
        csv_format = adapters()[feed_format].encoding == "csv"
        whole = [_whole(payload, csv_format) for payload in payloads]
        together = [payload for payload, fits in zip(payloads, whole, strict=True) if fits]
        responses = [self._post(f"/v1/feeds/{feed_format}/records", payload, "text/csv" if csv_format else
                                "application/json") for payload, fits in zip(payloads, whole, strict=True) if not fits]
        if together:
            if csv_format:
                header = together[0].split(b"\n", 1)[0]
                body = header + b"\n" + b"".join(payload.split(b"\n", 1)[1] for payload in together)
            else:
                body = b"[" + b",".join(together) + b"]"
            responses.append(self._post(f"/v1/feeds/{feed_format}/records", body,
                                        "text/csv" if csv_format else "application/json"))
        return responses

    def crime_number(self, incident_id: str, crime_reference: str) -> None:
        response = self._client.post(f"/v1/incidents/{incident_id}/crime-number",
                                     json={"crime_reference": crime_reference})
        self.outcomes["crime-number accepted" if response.status_code == 202 else
                      f"crime-number refused ({response.status_code})"] += 1

    def _post(self, path: str, body: bytes, content_type: str) -> httpx.Response:
        """Waits out a 429 or 503 as its Retry-After says, up to three times."""
        for _ in range(4):
            try:
                response = self._client.post(path, content=body, headers={"Content-Type": content_type})
            except httpx.HTTPError as error:
                self.outcomes[f"unreachable ({type(error).__name__})"] += 1
                time.sleep(1.0)
                continue
            if response.status_code not in (429, 503):
                break
            self.outcomes[f"HTTP {response.status_code}"] += 1
            time.sleep(float(response.headers.get("Retry-After", "1")))
        else:
            return httpx.Response(503)
        if response.status_code == 202:
            for record in response.json()["records"]:
                self.outcomes["resent" if record["resent"] else record["outcome"]] += 1
        else:
            self.outcomes[f"HTTP {response.status_code}"] += 1
        return response

    def close(self) -> None:
        self.flush()
        self._client.close()


def _whole(payload: bytes, csv_format: bool) -> bool:
    """Whether the record can go in a body with others: JSON that parses, or a header and one CSV row."""
    try:
        if csv_format:
            rows = list(csv.reader(io.StringIO(payload.decode("utf-8"))))
            return len([row for row in rows if any(cell.strip() for cell in row)]) == 2 and payload.endswith(b"\n")
        orjson.loads(payload)
    except (ValueError, csv.Error):
        return False
    return True
