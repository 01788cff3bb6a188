"""A fourth feed format is one new module in crimelink/intake/feeds and nothing else: a topic, the normaliser, its
published JSON Schema and the retailer gateway's API."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import crimelink.intake.feeds as feeds
from crimelink.gateway import create_app
from crimelink.intake.feed_schemas import feed_schema
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.incident import Incident
from crimelink.settings import Settings
from crimelink.streams.topics import TopicNames

MODULE = '''
"""Pharmacy chain webhook: {"id", "branch", "when" (epoch seconds), "pence", "what"}."""
from datetime import UTC, datetime

from pydantic import BaseModel

from crimelink.intake.feeds.base import FeedAdapter, IncidentDraft, goods_line, parse_json


class PharmacyRecord(BaseModel):  # the wire contract: parsed here, published as the format's JSON Schema
    id: int
    branch: str
    when: int
    pence: int = 0
    what: str = ""


class PharmacyWebhook(FeedAdapter):
    name = "pharmacy_webhook"
    description = "Pharmacy chain webhook, epoch seconds"
    example = b'{"id": 7, "branch": "BC0001", "when": 1740830400, "pence": 1299, "what": "Aftershave"}'

    def record_schema(self):
        return PharmacyRecord.model_json_schema()

    def parse(self, raw):
        doc = parse_json(PharmacyRecord, raw)
        return IncidentDraft(retailer="brightchem", incident_id=str(doc.id), store_id=doc.branch,
                             occurred_start=datetime.fromtimestamp(doc.when, UTC), occurred_end=None,
                             source_local_time=str(doc.when), goods=[goods_line(self.name, None, 1, doc.pence, doc.what)])


ADAPTER = PharmacyWebhook()
'''


@pytest.fixture
def extra_feed_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "pharmacy_webhook.py").write_text(textwrap.dedent(MODULE))
    feeds.__path__.append(str(tmp_path))
    feeds.adapters.cache_clear()
    yield tmp_path
    feeds.__path__.remove(str(tmp_path))
    sys.modules.pop("crimelink.intake.feeds.pharmacy_webhook", None)
    feeds.adapters.cache_clear()


def test_a_dropped_in_module_gets_a_topic_and_normalises(extra_feed_dir: Path) -> None:
    assert "pharmacy_webhook" in feeds.adapters()
    names = TopicNames(Settings())
    assert names.raw["pharmacy_webhook"] == "crimelink.raw.pharmacy_webhook"
    assert names.raw["pharmacy_webhook"] in names.all()
    raw = json.dumps({"id": 7, "branch": "BC0001", "when": 1740830400, "pence": 1299, "what": "Aftershave"}).encode()
    result = Normaliser(StoreRegistry.load()).normalise(
        RawRecord("pharmacy_webhook", raw, names.raw["pharmacy_webhook"], 0, 0, datetime.now(UTC)))
    assert isinstance(result, Incident)
    assert (result.incident_id, result.goods[0].category, result.occurred.start.isoformat()) == (
        "7", "PERFUME", "2025-03-01T12:00:00+00:00")
    assert feed_schema("pharmacy_webhook")["examples"] == [json.loads(raw)]
    document = create_app(Settings()).openapi()
    assert "pharmacy_webhook" in document["paths"]["/v1/feeds/{feed_format}/records"]["post"]["parameters"][0][
        "schema"]["enum"]
    assert document["components"]["schemas"]["pharmacy_webhook"]["required"] == ["id", "branch", "when"]
