"""The ceiling: a bare Faust agent that only consumes the raw topics (take(1000)), nothing else.

Run by bench/throughput.py as a subprocess: BARE_TOPICS, BARE_EXPECT, BARE_BOOTSTRAP (with the CRIMELINK_KAFKA_*
login variables on a secured broker), BARE_OUT, and BARE_SCHEME:
``kafka`` for Faust as shipped, or crimelink's transport (``crimelink.streams.engine.transport``: the same, with the fetch wait
crimelink's worker uses), so the ceiling has the one advantage crimelink has.
"""

from __future__ import annotations

import json
import os
import time

import faust

from crimelink.settings import KafkaSettings
from crimelink.streams.engine.transport import SCHEME
from crimelink.streams.kafka_auth import faust_credentials

login = KafkaSettings(bootstrap=os.environ["BARE_BOOTSTRAP"])  # the rest of the login from CRIMELINK_KAFKA_*
broker = f"{os.environ.get('BARE_SCHEME', SCHEME)}://{login.bootstrap}"
app = faust.App(f"bare-{os.getpid()}", broker=broker, broker_credentials=faust_credentials(login), store="memory://",
                web_enabled=False, consumer_auto_offset_reset="earliest", topic_allow_declare=False,
                datadir=os.environ.get("BARE_DATADIR", "bare-data"))
app.fetch_max_wait_ms = login.fetch_max_wait_ms  # as the worker reads it (crimelink.streams.engine.transport)
topic = app.topic(*os.environ["BARE_TOPICS"].split(","), value_serializer="raw", key_serializer="raw")
expect = int(os.environ["BARE_EXPECT"])
seen = {"count": 0, "first": 0.0}


@app.agent(topic)
async def consume(stream):  # type: ignore[no-untyped-def]
    async for values in stream.take(1000, within=0.5):
        if not seen["count"]:
            seen["first"] = time.perf_counter()
        seen["count"] += len(values)
        if seen["count"] >= expect:
            elapsed = time.perf_counter() - seen["first"]
            with open(os.environ["BARE_OUT"], "w") as handle:
                json.dump({"count": seen["count"], "seconds": elapsed}, handle)
            os._exit(0)


if __name__ == "__main__":
    from faust.worker import Worker

    Worker(app, loglevel="error", quiet=True).execute_from_commandline()
