import pytest

from crimelink.intake.vehicles import normalise_registration


@pytest.mark.parametrize(
    "raw,expected,fmt",
    [
        ("ab12 cde", "AB12CDE", "current"),
        (" AB12-CDE ", "AB12CDE", "current"),
        ("A123 BCD", "A123BCD", "prefix"),
        ("ABC 123D", "ABC123D", "suffix"),
        ("1 ABC", "1ABC", "dateless"),
    ],
)
def test_valid_marks_are_normalised(raw: str, expected: str, fmt: str) -> None:
    mark = normalise_registration(raw)
    assert mark is not None
    assert (mark.normalised, mark.valid, mark.format, mark.repaired) == (expected, True, fmt, False)


@pytest.mark.parametrize("raw,expected", [("AB1O CDE", "AB10CDE"), ("AB12 C0E", "AB12COE"),
                                          ("AB12 CD1", "AB12CDI"), ("1B12 CDE", "IB12CDE")])
def test_zero_and_one_slips_are_repaired_only_in_the_current_format(raw: str, expected: str) -> None:
    mark = normalise_registration(raw)
    assert mark is not None
    assert mark.valid and mark.repaired and mark.normalised == expected


@pytest.mark.parametrize("raw,fmt", [("AB10 CDE", "current"), ("A012 CDE", "prefix")])
def test_a_mark_that_is_valid_as_given_is_not_repaired(raw: str, fmt: str) -> None:
    # "A012 CDE" could be a slip for "AO12 CDE", but it is a valid prefix mark: never guess.
    mark = normalise_registration(raw)
    assert mark is not None and not mark.repaired and mark.format == fmt


@pytest.mark.parametrize("raw", ["AB12 CDEF", "!!!", "12345678", "ABCDEFGH"])
def test_invalid_marks_are_flagged(raw: str) -> None:
    mark = normalise_registration(raw)
    assert mark is not None and not mark.valid


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_mark(raw: str | None) -> None:
    assert normalise_registration(raw) is None
