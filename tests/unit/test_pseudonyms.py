"""Keyed pseudonyms (crimelink.pseudonyms): stable for one key, useless without it, searchable by what is typed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from crimelink.pseudonyms import PSEUDONYM, Pseudonymiser
from crimelink.settings import ClickHouseSettings, Settings
from crimelink.sinks.clickhouse import ClickHouseStore

KEY = b"k" * 32


def test_the_same_value_gives_the_same_pseudonym_and_another_key_another() -> None:
    one, other = Pseudonymiser(KEY), Pseudonymiser(b"o" * 32)
    assert one.registration("ab12 cde") == one.registration("AB12CDE") == Pseudonymiser(KEY).registration("AB12CDE")
    assert one.registration("AB12CDE") != other.registration("AB12CDE")
    assert one.registration("AB12CDE") != one.registration("AB12CDF")
    assert one.of("feature", "AB12CDE") != one.registration("AB12CDE")  # kinds never collide
    assert PSEUDONYM.fullmatch(one.registration("AB12CDE"))
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonymiser(b"short")


def test_a_description_keeps_no_clear_value_and_its_combination_is_one_pseudonym() -> None:
    pseudonyms = Pseudonymiser(KEY)
    description = {"gender": "male", "build": "slim", "complexion": "pale", "eye_colour": "blue", "ethnicity": None,
                   "distinguishing_features": ["Neck  tattoo", "limp"], "descriptor_count": 5}
    kept = pseudonyms.description(description)
    text = json.dumps(kept)
    for clear in ("male", "slim", "pale", "blue", "tattoo", "limp"):
        assert clear not in text
    assert kept["ethnicity"] is None and kept["descriptor_count"] == 5
    assert kept["build"] == pseudonyms.of("descriptor", "build=slim") != pseudonyms.of("descriptor", "gender=slim")
    assert kept["distinguishing_features"] == [pseudonyms.of("feature", "limp"), pseudonyms.of("feature", "neck tattoo")]
    reordered = {**description, "distinguishing_features": ["limp", "neck tattoo"]}
    assert pseudonyms.description(reordered)["combination"] == kept["combination"]
    assert pseudonyms.description({**description, "build": "heavy"})["combination"] != kept["combination"]


def test_an_analysts_search_hashes_what_they_type() -> None:
    pseudonyms = Pseudonymiser(KEY)
    sql = "SELECT 1 WHERE has(v, pseudonym('registration', 'kx19 trv')) OR f = PSEUDONYM( 'feature' , 'o''brien' )"
    expanded = pseudonyms.expand_sql(sql)
    assert f"'{pseudonyms.registration('KX19TRV')}'" in expanded and "kx19" not in expanded
    assert f"'{pseudonyms.of('feature', 'o' + chr(39) + 'brien')}'" in expanded
    with pytest.raises(ValueError, match="takes a kind of"):
        pseudonyms.expand_sql("SELECT pseudonym('name', 'Smith')")


def test_the_key_is_made_once_privately_unless_set(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, clickhouse=ClickHouseSettings(dsn=f"chdb://{tmp_path / 'ch'}"))
    first = ClickHouseStore.from_settings(settings)
    assert stat.S_IMODE(settings.pseudonym_key_file.stat().st_mode) == 0o600
    again = ClickHouseStore.from_settings(settings)
    assert first.pseudonyms.registration("AB12CDE") == again.pseudonyms.registration("AB12CDE")
    set_key = settings.model_copy(update={"clickhouse": ClickHouseSettings(dsn=f"chdb://{tmp_path / 'ch'}",
                                                                          pseudonym_key="s" * 32)})
    assert ClickHouseStore.from_settings(set_key).pseudonyms.registration("AB12CDE") == Pseudonymiser(
        b"s" * 32).registration("AB12CDE")
    for store in (first, again):
        store.close()
