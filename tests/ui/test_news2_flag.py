"""A paper NEWS2 total that differs from its keyed values reaches the ward: a "!" in the
ward list's NEWS2 column with a plain tooltip; a named review with a note (keyboard only,
from the main window or the reconciliation view) closes it and the mark goes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from paperfallback.cache.staleness import uk_time, utc_now
from paperfallback.cli.context import AppContext
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.register import IssuedForm
from paperfallback.ui.keying import KeyingWindow
from paperfallback.ui.news2_review import News2ReviewDialog
from paperfallback.ui.patient_model import Column

KEY = "test-key-not-secret"
# Scores 8 (RCP NEWS2 2017, chart 1: 2+1+0+0+1+3+1); the nurse wrote 2.
COLUMN = {"resp_rate": "22", "spo2": "95", "oxygen": "A", "sbp": "120", "pulse": "95",
          "acvpu": "C", "temp": "38.2", "news2_total": "2"}


def _key_flagged_chart(folder: Path, record_issued: Callable[..., list[IssuedForm]],
                       patient_id: str = "p2") -> tuple[IssuedForm, str]:
    """Key one NEWS2 column whose handwritten total differs; returns the form and the
    column's time as the ward list names it ('HH:MM' today, 'DD-Mon HH:MM' when the half
    hour before the test crossed midnight)."""
    issued = record_issued("news2", patient_id=patient_id, ward_code="AN")[0]
    when = (utc_now() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    with EntriesStore.open(folder, KEY) as store:
        session = KeyingSession(store, form_layout(load_catalogue().get("news2")), issued,
                                clerk="Ann", ctx=KeyingContext(issued.printed_at))
        session.enter("observations", 0, "obs_time", when.isoformat())
        for field_id, value in COLUMN.items():
            session.enter("observations", 0, field_id, value)
        assert len(store.discrepancies()) == 1
    local = uk_time(when)
    today = uk_time(utc_now()).date()
    return issued, f"{local:%H:%M}" if local.date() == today else f"{local:%d-%b %H:%M}"


def _rows(window: Any) -> dict[str, int]:
    return {window.model.row_summary(r).patient_id: r for r in range(window.model.rowCount())}


def test_the_ward_list_marks_the_patient_with_a_plain_tooltip(
        tiny_cache: Path, record_issued: Any, make_window: Any) -> None:
    issued, hhmm = _key_flagged_chart(tiny_cache, record_issued)
    window = make_window(tiny_cache)
    rows = _rows(window)
    flagged = window.model.index(rows["p2"], Column.NEWS2)
    assert flagged.data().startswith("! ")
    tip = flagged.data(Qt.ItemDataRole.ToolTipRole)
    assert (f"Paper chart total 2, computed 8 from the keyed values at {hhmm} on form "
            f"{issued.instance_id}: review") in tip
    assert "Ctrl+R" in tip
    assert flagged.data(Qt.ItemDataRole.FontRole).bold()
    assert window.model.index(rows["p2"], Column.NEWS2).data(
        Qt.ItemDataRole.BackgroundRole) is not None  # never plain white
    assert not window.model.index(rows["p1"], Column.NEWS2).data().startswith("!")
    assert window.flags_label.isVisible() and window.review_button.isVisible()
    assert "1 patient on this ward: a paper NEWS2 total differs" in window.flags_label.text()
    window.ward_combo.setCurrentIndex(window.ward_combo.findData("BV"))  # another ward
    assert not window.flags_label.isVisible()


def test_a_flag_keyed_while_the_window_is_open_shows_on_the_next_tick(
        tiny_cache: Path, record_issued: Any, make_window: Any) -> None:
    window = make_window(tiny_cache)
    window.select_patients(["p2"])
    assert not window.flags_label.isVisible()
    _key_flagged_chart(tiny_cache, record_issued)  # a clerk keys it in the keying window
    window.refresh_status()  # the 30-second timer
    assert window.model.index(_rows(window)["p2"], Column.NEWS2).data().startswith("! ")
    assert window.flags_label.isVisible()
    assert window.selected_patient_ids() == ["p2"]  # the nurse's selection is kept


def test_review_from_the_ward_list_with_the_keyboard_alone(
        tiny_cache: Path, record_issued: Any, make_window: Any, qtbot: Any) -> None:
    issued, _hhmm = _key_flagged_chart(tiny_cache, record_issued)
    window = make_window(tiny_cache)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, News2ReviewDialog)
    qtbot.waitUntil(dialog.isActiveWindow)
    assert window.selected_patient_ids() == ["p2"]  # Ctrl+R picked the flagged patient
    assert QApplication.focusWidget() is dialog.name_edit
    qtbot.keyClicks(dialog.name_edit, "Sian Wyn, staff nurse")  # QTest types ASCII only
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)  # no note yet: refused, stays open
    assert dialog.isVisible() and "note" in dialog.error_label.text()
    assert QApplication.focusWidget() is dialog.note_edit
    qtbot.keyClicks(dialog.note_edit, "Re-scored 8, FY1 informed")
    qtbot.keyClick(dialog.note_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    with EntriesStore.open(tiny_cache, KEY) as store:
        assert store.discrepancies() == []
        (closed,) = store.discrepancies(issued.instance_id, open_only=False)
        assert closed.closed_by == "Sian Wyn, staff nurse"
        assert closed.note == "Re-scored 8, FY1 informed"
    rows = _rows(window)
    assert not window.model.index(rows["p2"], Column.NEWS2).data().startswith("!")
    assert not window.flags_label.isVisible()
    assert window.selected_patient_ids() == ["p2"]
    # Back on the list with the patient still selected (the window's focus widget: the
    # offscreen platform does not re-activate the window when the dialog closes).
    qtbot.waitUntil(lambda: window.focusWidget() is window.table)
    assert window.reviewer == "Sian Wyn, staff nurse"  # offered again next time


def test_a_search_hiding_the_patient_and_escape_records_nothing(
        tiny_cache: Path, record_issued: Any, make_window: Any, qtbot: Any) -> None:
    _key_flagged_chart(tiny_cache, record_issued)
    window = make_window(tiny_cache)
    qtbot.keyClicks(window.search_edit, "jones")  # the flagged patient is not listed
    assert window.visible_patient_ids() == ["p3"]
    qtbot.keyClick(window.search_edit, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, News2ReviewDialog)
    qtbot.waitUntil(dialog.isActiveWindow)
    assert window.search_edit.text() == "" and window.selected_patient_ids() == ["p2"]
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    with EntriesStore.open(tiny_cache, KEY) as store:
        assert len(store.discrepancies()) == 1
    assert window.model.index(_rows(window)["p2"], Column.NEWS2).data().startswith("!")


def test_the_clerk_records_the_review_in_the_reconciliation_view(
        tiny_cache: Path, record_issued: Any, make_window: Any, qtbot: Any) -> None:
    issued, _hhmm = _key_flagged_chart(tiny_cache, record_issued)
    ctx = AppContext(data_dir_option=str(tiny_cache))
    keying = KeyingWindow(ctx)
    qtbot.addWidget(keying)
    try:
        keying.show()
        keying.activateWindow()
        qtbot.waitUntil(keying.isActiveWindow)
        keying.clerk_edit.setText("Ann Clerk")
        keying.tabs.setCurrentIndex(1)
        view = keying.reconciliation
        assert view.discrepancies.rowCount() == 1
        assert not view.review_button.isEnabled()  # nothing selected yet
        view.discrepancies.setFocus()
        view.discrepancies.selectRow(0)
        assert view.review_button.isEnabled()
        qtbot.keyClick(view.discrepancies, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        dialog = view.review_dialog
        assert isinstance(dialog, News2ReviewDialog)
        assert dialog.name_edit.text() == "Ann Clerk"  # the clerk's name, offered
        assert issued.instance_id in dialog.flag_list.item(0).text()
        qtbot.keyClicks(dialog.note_edit, "Ward told (Sister Ozturk), chart re-scored")
        qtbot.keyClick(dialog.note_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: view.discrepancies.rowCount() == 0)
        assert not view.review_button.isEnabled()
    finally:
        keying.close()
        ctx.close()
    window = make_window(tiny_cache)  # the ward sees it gone too
    assert not window.model.index(_rows(window)["p2"], Column.NEWS2).data().startswith("!")
