"""Alert webhooks: POST each alert's JSON to every configured URL, retried with backoff, off the stream's path.

``submit`` never blocks: deliveries happen in a background task, and when the queue is full the
oldest waiting alert is dropped with an error in the log (the alert itself is safe in Kafka and
ClickHouse; only that notification is lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp

__all__ = ["WebhookNotifier"]

log = logging.getLogger(__name__)


class WebhookNotifier:
    def __init__(self, urls: list[str], *, attempts: int = 5, first_delay: float = 1.0, timeout: float = 10.0,
                 queue_size: int = 1000,
                 on_result: Callable[[str, bytes, bool, str], Awaitable[None]] | None = None) -> None:
        self.urls = urls
        self._on_result = on_result
        self.attempts = attempts
        self.first_delay = first_delay
        self.timeout = timeout
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.delivered = 0
        self.failed = 0

    def submit(self, payload: bytes) -> None:
        if not self.urls:
            return
        if self._queue.full():
            self._queue.get_nowait()
            log.error("webhook queue full: dropped the oldest waiting alert notification")
        self._queue.put_nowait(payload)

    async def run(self) -> None:
        if not self.urls:
            return
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            while True:
                payload = await self._queue.get()
                await asyncio.gather(*(self._deliver(session, url, payload) for url in self.urls))

    async def _deliver(self, session: aiohttp.ClientSession, url: str, payload: bytes) -> None:
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                async with session.post(url, data=payload, headers={"Content-Type": "application/json"}) as response:
                    if response.status < 300:
                        self.delivered += 1
                        await self._report(url, payload, True, f"HTTP {response.status}, attempt {attempt}")
                        return
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                problem = repr(error)
            log.warning("webhook %s attempt %d/%d failed: %s", url, attempt, self.attempts, problem)
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        self.failed += 1
        log.error("webhook %s: giving up on an alert after %d attempts", url, self.attempts)
        await self._report(url, payload, False, f"gave up after {self.attempts} attempts: {problem}")

    async def _report(self, url: str, payload: bytes, ok: bool, detail: str) -> None:
        if self._on_result is not None:
            await self._on_result(url, payload, ok, detail)
