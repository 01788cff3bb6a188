import pytest

from crimelink.referral.crime_numbers import check, eligibility_for, normalise
from crimelink.schemas.incident import CrimeNumberStatus, Eligibility


@pytest.mark.parametrize(
    "force,raw,status,normalised",
    [
        ("northamptonshire", "12345678901", CrimeNumberStatus.VALID, "12345678901"),
        ("northamptonshire", " 1234 5678 901 ", CrimeNumberStatus.VALID, "12345678901"),
        ("northamptonshire", "1234567890", CrimeNumberStatus.INVALID, None),
        ("northamptonshire", "NT/12345678/25", CrimeNumberStatus.INVALID, None),
        ("kent", "46/ab/012345/25", CrimeNumberStatus.VALID, "46/AB/012345/25"),
        ("kent", "46-AB-012345-25", CrimeNumberStatus.VALID, "46/AB/012345/25"),
        ("kent", "NFRC250312345678", CrimeNumberStatus.VALID, "NFRC250312345678"),
        ("sussex", "SX/12345678/25", CrimeNumberStatus.VALID, "SX/12345678/25"),
        ("sussex", "1234", CrimeNumberStatus.INVALID, None),
        ("sussex", "INC-12345", CrimeNumberStatus.INCIDENT_NUMBER, None),
        ("sussex", "log 0412 of 14/03/2025", CrimeNumberStatus.INCIDENT_NUMBER, None),
        ("kent", "CAD 123456", CrimeNumberStatus.INCIDENT_NUMBER, None),
        ("sussex", None, CrimeNumberStatus.MISSING, None),
        ("sussex", "   ", CrimeNumberStatus.MISSING, None),
    ],
)
def test_rule_table(force: str, raw: str | None, status: CrimeNumberStatus, normalised: str | None) -> None:
    reference = check(force, raw)
    assert reference.status is status, reference.reason
    assert reference.normalised == normalised
    assert reference.raw == raw
    assert reference.reason


def test_invalid_reference_says_what_was_expected() -> None:
    reference = check("northamptonshire", "12345")
    assert "11 digits" in reference.reason


def test_normalise_folds_case_spaces_and_separators() -> None:
    assert normalise(" 46 ab-012345.25 ") == "46AB/012345/25"


@pytest.mark.parametrize(
    "raw,eligibility",
    [("12345678901", Eligibility.REFERABLE), ("123", Eligibility.INVALID), (None, Eligibility.PENDING),
     ("INC 99", Eligibility.PENDING)],
)
def test_eligibility_follows_the_reference(raw: str | None, eligibility: Eligibility) -> None:
    assert eligibility_for(check("northamptonshire", raw))[0] is eligibility
