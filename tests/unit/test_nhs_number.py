"""NHS number validation: Modulus 11 (NHS Data Dictionary)."""

from __future__ import annotations

import pytest

from paperfallback.domain.errors import InvalidNhsNumber
from paperfallback.domain.nhs_number import (
    check_digit,
    format_nhs_number,
    is_test_number,
    is_valid,
    normalise,
)


def test_valid_number_from_the_test_range() -> None:
    # 999 000 0018: weights 10..2 over 999000001 give 9*10+9*9+9*8+1*2 = 245; 245 % 11 = 3 ->
    # check digit 11 - 3 = 8.
    assert normalise("9990000018") == "9990000018"
    assert is_test_number("9990000018")


def test_spaces_and_hyphens_are_accepted() -> None:
    assert normalise(" 999 000 0018 ") == "9990000018"
    assert normalise("999-000-0018") == "9990000018"


def test_wrong_check_digit_is_rejected_with_reason() -> None:
    with pytest.raises(InvalidNhsNumber, match="wrong check digit"):
        normalise("9990000017")


def test_check_digit_ten_means_no_valid_number() -> None:
    # 999000000: total 9*10+9*9+9*8 = 243; 243 % 11 = 1 -> 11 - 1 = 10: no valid number.
    assert check_digit("999000000") is None
    for last in "0123456789":
        assert not is_valid("999000000" + last)
    with pytest.raises(InvalidNhsNumber, match="no check digit exists"):
        normalise("9990000000")


def test_check_digit_eleven_becomes_zero() -> None:
    nine = next(
        f"{n:09d}" for n in range(999_000_000, 999_000_200)
        if sum(int(d) * w for d, w in zip(f"{n:09d}", range(10, 1, -1), strict=True)) % 11 == 0
    )
    assert check_digit(nine) == 0
    assert is_valid(nine + "0")


@pytest.mark.parametrize(
    "raw", ["999000001", "99900000188", "", "   ", "99900O0018", "９９９０００００１８"]
)
def test_wrong_length_or_non_digits_are_rejected(raw: str) -> None:
    assert not is_valid(raw)
    with pytest.raises(InvalidNhsNumber):
        normalise(raw)


def test_display_format_is_3_3_4() -> None:
    assert format_nhs_number("9990000018") == "999 000 0018"
    assert format_nhs_number(None) == ""
