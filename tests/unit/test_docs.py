"""The user's guide stays short and true: links resolve, and the pages that list code name what the code has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crimelink.sinks.tables import ALL

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_the_readme_is_a_short_guide() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_and_named_file_exists(page: Path) -> None:
    text = page.read_text()
    links = [target.split("#")[0] for target in re.findall(r"\]\(([^)]+)\)", text) if "://" not in target]
    missing = [link for link in links if link and not (page.parent / link).exists()]
    roots = "crimelink|streams|sinks|schemas|tests|bench|deploy|scripts"
    named = re.findall(rf"`((?:{roots})/[\w/.-]+\.(?:py|csv|json|xml|sql|yaml))", text)
    missing += [path for path in named if not (REPO / path).exists() and "pharmacy_webhook" not in path]
    assert missing == []


def test_every_table_is_described_in_the_data_page() -> None:
    page = (REPO / "docs" / "data.md").read_text()
    assert [table.name for table in ALL if f"| `{table.name}` |" not in page] == []


def test_every_engine_module_is_in_the_workarounds_page() -> None:
    page = (REPO / "docs" / "faust-workarounds.md").read_text()
    modules = [path.name for path in (REPO / "streams" / "engine").glob("*.py") if path.name != "__init__.py"]
    assert [name for name in modules if f"`{name}`" not in page] == []


def test_every_table_module_is_registered() -> None:
    """A table module left out of ``crimelink.sinks.tables.ALL`` would never be written by the sink."""
    import importlib

    names = [path.stem for path in (REPO / "sinks" / "tables").glob("*.py") if path.stem not in ("__init__", "base")]
    tables = [importlib.import_module(f"crimelink.sinks.tables.{name}").TABLE for name in names]
    assert sorted(table.name for table in tables) == sorted(table.name for table in ALL)


def test_every_stored_table_names_a_topic_of_record() -> None:
    from crimelink.settings import Settings
    from crimelink.sinks.tables import STORED
    from crimelink.streams.topics import TopicNames

    names = TopicNames(Settings())
    assert all(isinstance(getattr(names, table.topic or "", None), str) for table in STORED)
    assert {table.name for table in STORED} == {"incidents", "incident_identities", "dead_letters", "retailer_feedback",
                                                "links", "series", "alerts", "audit_log"}
