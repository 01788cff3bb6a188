"""Alert webhooks against a real HTTP server on loopback: retried with backoff, and never blocking the caller."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from crimelink.sinks.webhooks import WebhookNotifier


async def _server(statuses: list[int], received: list[dict[str, object]]) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    return runner, f"http://127.0.0.1:{port}/hook"


def test_a_failing_webhook_is_retried_until_it_accepts() -> None:
    async def scenario() -> tuple[int, int, list[dict[str, object]]]:
        received: list[dict[str, object]] = []
        runner, url = await _server([500, 503], received)

        async def on_result(to: str, payload: bytes, ok: bool, detail: str) -> None:
            results.append((to, ok, detail))

        notifier = WebhookNotifier([url], attempts=4, first_delay=0.01, on_result=on_result)
        task = asyncio.create_task(notifier.run())
        notifier.submit(json.dumps({"alert_id": "A-1", "level": 1}).encode())
        for _ in range(200):
            if notifier.delivered:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await runner.cleanup()
        return notifier.delivered, notifier.failed, received

    results: list[tuple[str, bool, str]] = []
    delivered, failed, received = asyncio.run(scenario())
    assert (delivered, failed) == (1, 0)
    assert [body["alert_id"] for body in received] == ["A-1", "A-1", "A-1"]  # two refusals, then accepted
    [(to, ok, detail)] = results  # one disclosure, reported once, for the access log
    assert to.endswith("/hook") and ok and detail == "HTTP 200, attempt 3"


def test_an_unreachable_webhook_gives_up_without_blocking() -> None:
    async def scenario() -> tuple[int, int]:
        notifier = WebhookNotifier(["http://127.0.0.1:9/nothing-listens-here"], attempts=2, first_delay=0.01,
                                   queue_size=2)
        task = asyncio.create_task(notifier.run())
        for number in range(10):  # more than the queue holds: submit drops the oldest instead of waiting
            notifier.submit(json.dumps({"alert_id": f"A-{number}"}).encode())
        waiting = notifier._queue.qsize()  # noqa: SLF001
        for _ in range(300):
            if notifier.failed >= 1:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        return notifier.failed, waiting

    failed, waiting = asyncio.run(scenario())
    assert failed >= 1
    assert waiting == 2
