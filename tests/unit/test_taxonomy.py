from crimelink.intake import taxonomy


def test_feed_codes_map_to_controlled_tactics() -> None:
    vocabulary = taxonomy.tactics()
    assert vocabulary.from_code("national_grocer", "dst01") == "DIST-ALARM"
    assert vocabulary.from_code("national_grocer", "NOPE") is None
    assert vocabulary.from_code("another_feed", "DST01") is None


def test_free_text_maps_to_tactics_and_keeps_the_phrase() -> None:
    found = taxonomy.tactics().from_text("x", "One kept LOOKOUT while the other used a foil-lined bag, then drove off")
    assert found == [("TEAM-LOOKOUT", "LOOKOUT"), ("CONC-FOIL", "foil-lined"), ("VEH-TRAVEL", "drove off")]


def test_phrases_match_whole_words_only() -> None:
    assert taxonomy.goods().from_text("x", "the begin of ginger") == []
    assert taxonomy.goods().from_text("x", "two bottles of gin") == [("ALCOHOL", "gin")]


def test_longest_phrase_wins() -> None:
    assert taxonomy.goods().from_text("x", "razor blades") == [("RAZORS", "razor blades")]


def test_text_whose_lower_case_is_longer_is_still_matched_with_its_own_phrases() -> None:
    # "İ" lower-cases to two characters, so offsets into the lower-cased text would be off by one.
    found = taxonomy.tactics().from_text("x", "İstanbul-born man kept LOOKOUT, then DROVE OFF")
    assert found == [("TEAM-LOOKOUT", "LOOKOUT"), ("VEH-TRAVEL", "DROVE OFF")]
