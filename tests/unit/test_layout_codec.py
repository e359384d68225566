"""The scan layout as the register keeps it (register.layout_codec, issue #15): packed
small, read back to the same boxes, older plain records still read, damage reported."""

from __future__ import annotations

import json
import logging

import pytest

from paperfallback.register.layout_codec import (
    PREFIX,
    BoxRecord,
    LayoutUnreadable,
    decode_layout,
    encode_layout,
)
from paperfallback.scan.omr import scan_layout

GRIDS = [{"page": 1, "chart": "observations", "x": 120.5, "left": 40.0, "col_w": 18.25,
          "row_h": 11.9, "columns": 24, "prefilled": 3,
          "blocks": [{"row": 2, "field": "resp_rate", "top": 700.0}]}]


def _fluid_balance_like(pages: int = 2) -> list[BoxRecord]:
    """288 hour cells per page, a choice with tick squares, a Welsh section name."""
    records: list[BoxRecord] = []
    for page in range(1, pages + 1):
        for hour in range(24):
            for col, field_id in enumerate(("in_oral", "in_iv", "out_urine", "out_other",
                                            "in_total", "out_total", "balance", "initials",
                                            "in_ng", "out_drain", "out_vomit", "note")):
                records.append((page, "hours", field_id, hour, "number",
                                (40.0 + col * 41.333, 760.0 - hour * 22.5, 41.333, 22.5),
                                ()))
    records.append((1, "ymweliad ŵyr", "sex", None, "choice", (40.0, 100.0, 200.0, 14.0),
                    (("M", (42.0, 98.0, 7.0, 7.0)), ("F", (80.0, 98.0, 7.0, 7.0)))))
    return records


def test_packed_layout_reads_back_the_same_boxes() -> None:
    records = _fluid_balance_like()
    text = encode_layout((595.2756, 841.8898, 28.3465), GRIDS, records)
    assert text.startswith(PREFIX)
    layout = decode_layout(text)
    assert layout["page"] == [595.28, 841.89, 28.35]
    assert layout["grids"] == GRIDS
    assert len(layout["fields"]) == len(records)
    first = layout["fields"][0]
    assert first == {"page": 1, "section": "hours", "field": "in_oral", "row": 0,
                     "kind": "number", "box": [40.0, 760.0, 41.33, 22.5], "options": []}
    choice = layout["fields"][-1]
    assert choice["section"] == "ymweliad ŵyr" and choice["row"] is None
    assert choice["options"] == [{"value": "M", "box": [42.0, 98.0, 7.0, 7.0]},
                                 {"value": "F", "box": [80.0, 98.0, 7.0, 7.0]}]


def test_packed_layout_is_many_times_smaller_than_one_object_per_box() -> None:
    records = _fluid_balance_like()
    text = encode_layout((595.28, 841.89, 28.35), GRIDS, records)
    plain = json.dumps(decode_layout(text), separators=(",", ":"), ensure_ascii=False)
    assert len(text) * 10 < len(plain), (len(text), len(plain))


def test_a_layout_recorded_before_packing_still_reads() -> None:
    old = json.dumps({"page": [595.28, 841.89, 28.35], "grids": GRIDS, "fields": [
        {"page": 1, "section": "allergy_box", "field": "weight_kg", "row": None,
         "kind": "number", "box": [40.0, 700.0, 80.0, 14.0], "options": []}]})
    layout = scan_layout({"scan_layout": old})
    assert layout is not None
    assert layout["fields"][0]["field"] == "weight_kg"
    assert layout["grids"] == GRIDS


@pytest.mark.parametrize("damaged", [
    PREFIX + "not base64 !!",
    PREFIX + "aGVsbG8=",  # base64 of "hello": not deflated
    "{not json",
    "[1, 2]",
])
def test_a_damaged_layout_is_named_and_scan_back_falls_back_to_whole_pages(
        damaged: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(LayoutUnreadable, match="layout"):
        decode_layout(damaged)
    with caplog.at_level(logging.WARNING):
        assert scan_layout({"scan_layout": damaged}) is None
    assert "scan layout not used" in caplog.text


def test_a_truncated_packed_layout_is_reported_not_guessed() -> None:
    text = encode_layout((595.28, 841.89, 28.35), GRIDS, _fluid_balance_like())
    with pytest.raises(LayoutUnreadable, match="damaged"):
        decode_layout(text[: len(text) // 2])


def test_every_single_changed_character_is_detected() -> None:
    """zlib's checksum (and inflate itself) catch a changed byte anywhere in the record:
    no damaged layout decodes to boxes in other places."""
    text = encode_layout((595.28, 841.89, 28.35), GRIDS, _fluid_balance_like(1))
    body = text[len(PREFIX):]
    for at in range(0, len(body) - 2, 7):  # every 7th character, each changed once
        swapped = "B" if body[at] != "B" else "C"
        damaged = PREFIX + body[:at] + swapped + body[at + 1:]
        with pytest.raises(LayoutUnreadable):
            decode_layout(damaged)
