"""Characters that str.isdigit() accepts but int() refuses ("¹", "²") are not numbers:
found by the workbook fuzz test (hypothesis, cell '¹' in a row-index column)."""

from __future__ import annotations

from paperfallback.reentry.workbook_cells import whole_number
from paperfallback.render.qr import parse_qr_payload


def test_a_superscript_digit_is_not_a_whole_number() -> None:
    assert whole_number("¹") is None
    assert whole_number(" 12 ") == 12


def test_a_scanned_payload_with_a_superscript_page_has_no_page() -> None:
    assert parse_qr_payload("T1-00001-K/²") == ("T1-00001-K", None)
    assert parse_qr_payload("T1-00001-K/2") == ("T1-00001-K", 2)
