"""NEWS2 flags reach the ward by patient, read as a nurse acts on them, and close only
with a named reviewer and a note (the paper values are never touched)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.model import DiscrepancyKind, FieldAddress
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.reentry.ward_flags import acknowledge_news2, open_news2_flags
from paperfallback.register import IssuedForm

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
COLUMN = {"obs_time": "1400", "resp_rate": "22", "spo2": "95", "oxygen": "A", "sbp": "120",
          "pulse": "95", "acvpu": "C", "temp": "38.2"}  # scores 8 (RCP NEWS2 2017, chart 1)


def _key(data_dir: Path, instance_id: str, patient_id: str | None, total: str) -> EntriesStore:
    issued = IssuedForm(instance_id=instance_id, form_id="news2", form_version="1.0",
                        scope="patient", page_count=1, printed_at=NOW - timedelta(hours=6),
                        pc_id="pc", patient_id=patient_id)
    store = EntriesStore.open(data_dir, "k")
    session = KeyingSession(store, form_layout(load_catalogue().get("news2")), issued,
                            clerk="Ann", ctx=KeyingContext(printed_at=issued.printed_at, now=NOW))
    for field_id, value in {**COLUMN, "news2_total": total}.items():
        session.enter("observations", 0, field_id, value)
    return store


def test_flags_by_patient_in_words_for_the_ward(data_dir: Path) -> None:
    store = _key(data_dir, "T1-00001-X", "p1", "2")
    try:
        (flag,) = open_news2_flags(store)["p1"]
        assert (flag.handwritten, flag.computed) == ("2", "8")
        assert flag.describe(today=date(2026, 11, 24)) == (
            "Paper chart total 2, computed 8 from the keyed values at 14:00 on form "
            "T1-00001-X: review")
        assert "at 24-Nov 14:00" in flag.describe(today=date(2026, 11, 25))
    finally:
        store.close()


def test_unmatched_blank_form_has_no_ward_row(data_dir: Path) -> None:
    store = _key(data_dir, "T1-00002-X", None, "3")
    try:
        assert open_news2_flags(store) == {}
        assert len(store.discrepancies()) == 1  # still open for the clerk
    finally:
        store.close()


def test_acknowledge_needs_a_name_and_a_note_and_keeps_the_paper(data_dir: Path) -> None:
    store = _key(data_dir, "T1-00001-X", "p1", "2")
    try:
        (flag,) = open_news2_flags(store)["p1"]
        with pytest.raises(InputError, match="your name"):
            acknowledge_news2(store, flag.discrepancy_id, by="  ", note="seen")
        with pytest.raises(InputError, match="note"):
            acknowledge_news2(store, flag.discrepancy_id, by="Siân Wyn", note="")
        acknowledge_news2(store, flag.discrepancy_id, by=" Siân Wyn ", note="Escalated to FY1")
        assert open_news2_flags(store) == {}
        (closed,) = store.discrepancies(open_only=False)
        assert (closed.closed_by, closed.note) == ("Siân Wyn", "Escalated to FY1")
        total = store.entry(FieldAddress("T1-00001-X", "observations", 0, "news2_total"),
                            store.entries("T1-00001-X")[0].entry_pass)
        assert total is not None and total.value == "2"  # the paper total is untouched
        with pytest.raises(InputError, match="already closed"):
            acknowledge_news2(store, flag.discrepancy_id, by="Siân Wyn", note="again")
    finally:
        store.close()


def test_a_double_entry_difference_is_not_acknowledged_here(data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, "k")
    try:
        ident = store.raise_discrepancy(DiscrepancyKind.DOUBLE_ENTRY,
                                        FieldAddress("T1-00003-X", "observations", 0, "pulse"),
                                        {"first": "95", "second": "59"})
        with pytest.raises(InputError, match="resolve it from the paper"):
            acknowledge_news2(store, ident, by="Ann", note="seen")
        assert len(store.discrepancies()) == 1
    finally:
        store.close()
