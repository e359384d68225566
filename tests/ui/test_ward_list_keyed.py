"""The ward list's latest NEWS2 includes observations keyed back from paper, marked "P"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from paperfallback.cache.staleness import utc_now
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.ui.patient_model import Column
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"


def test_keyed_news2_shows_with_a_p_and_says_so(
        tiny_cache: Path, record_issued: Any, make_window: Any) -> None:
    issued = record_issued("news2", patient_id="p2", ward_code="AN")[0]
    conn = WorkStore.open(tiny_cache, KEY)
    try:
        session = KeyingSession(EntriesStore(conn), form_layout(load_catalogue().get("news2")),
                                issued, clerk="Ann", ctx=KeyingContext(issued.printed_at))
        when = (utc_now() - timedelta(minutes=5)).replace(second=0, microsecond=0)
        session.enter("observations", 0, "obs_time", when.isoformat())
        session.enter("observations", 0, "news2_total", "6")
    finally:
        conn.close()
    window = make_window(tiny_cache)
    rows = {window.model.row_summary(r).patient_id: r for r in range(window.model.rowCount())}
    keyed = window.model.index(rows["p2"], Column.NEWS2)
    # only the total was keyed, so it cannot be checked: "?" as on the printed chart
    assert keyed.data().startswith("P 6?")
    assert "keyed from paper" in keyed.data(Qt.ItemDataRole.ToolTipRole)
    assert "not checked" in keyed.data(Qt.ItemDataRole.ToolTipRole)
    cached = window.model.index(rows["p1"], Column.NEWS2)  # the EPR's NEWS2: no marker
    assert cached.data().startswith("6")
