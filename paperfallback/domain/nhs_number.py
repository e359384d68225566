"""NHS numbers: Modulus 11 validation and display.

Source: NHS Data Dictionary, "NHS Number" (check digit by Modulus 11; a remainder
giving 10 means the number is invalid, 11 means a check digit of 0).
Synthetic data uses the reserved test range 999 000 0000 - 999 999 9999.
"""

from __future__ import annotations

from paperfallback.domain.errors import InvalidNhsNumber

TEST_RANGE_LOW = 9_990_000_000
TEST_RANGE_HIGH = 9_999_999_999
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(first_nine: str) -> int | None:
    """Return the Modulus 11 check digit for nine digits, or None when none exists (10)."""
    if len(first_nine) != 9 or not first_nine.isdigit() or not first_nine.isascii():
        raise InvalidNhsNumber(f"expected 9 digits, got {first_nine!r}")
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    if digit == 10:
        return None
    return digit


def normalise(raw: str) -> str:
    """Return the 10 digits of an NHS number typed with or without spaces or hyphens.

    Raises InvalidNhsNumber with the reason when it is not a valid NHS number.
    """
    digits = raw.strip().replace(" ", "").replace("-", "")
    if not digits:
        raise InvalidNhsNumber("NHS number is empty")
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidNhsNumber(f"NHS number {raw!r} must contain only digits")
    if len(digits) != 10:
        raise InvalidNhsNumber(f"NHS number {raw!r} must have 10 digits, not {len(digits)}")
    expected = check_digit(digits[:9])
    if expected is None:
        raise InvalidNhsNumber(f"NHS number {raw!r} is not valid (no check digit exists)")
    if expected != int(digits[9]):
        raise InvalidNhsNumber(f"NHS number {raw!r} has a wrong check digit")
    return digits


def is_valid(raw: str) -> bool:
    """True when ``raw`` is a valid NHS number (spaces allowed)."""
    try:
        normalise(raw)
    except InvalidNhsNumber:
        return False
    return True


def is_test_number(digits: str) -> bool:
    """True for numbers in the reserved synthetic test range."""
    return digits.isdigit() and TEST_RANGE_LOW <= int(digits) <= TEST_RANGE_HIGH


def format_nhs_number(digits: str | None) -> str:
    """Show an NHS number as 3-3-4 digits, as printed on NHS documents."""
    if not digits:
        return ""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
