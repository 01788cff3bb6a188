"""``crimelink gateway``: the retailer gateway's app under uvicorn, refusing to listen beyond loopback without TLS."""

from __future__ import annotations

from crimelink.settings import Settings

__all__ = ["serve"]


def serve(settings: Settings, loglevel: str = "warning") -> None:
    import uvicorn

    from crimelink.gateway import create_app
    from crimelink.streams.kafka_io import wait_for_broker

    settings.gateway.check_listen_address()
    wait_for_broker(settings.effective_kafka)  # a clear error, not uvicorn's traceback, without a broker
    gateway = settings.gateway
    print(f"crimelink gateway on {gateway.url} (Kafka {settings.effective_kafka_bootstrap}; worker reads at "
          f"{gateway.worker_url or settings.web.url}; API document {gateway.url}/v1/openapi.json)", flush=True)
    uvicorn.run(create_app(settings), host=gateway.host, port=gateway.port, log_level=loglevel, access_log=False,
                server_header=False, proxy_headers=False, timeout_graceful_shutdown=int(settings.worker.shutdown_seconds),
                ssl_certfile=str(gateway.tls_cert) if gateway.tls else None,
                ssl_keyfile=str(gateway.tls_key) if gateway.tls else None)
