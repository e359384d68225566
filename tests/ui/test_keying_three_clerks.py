"""One form keyed as three clerks on the screen: first, blind second, resolver (issue #13
item 6); and the smaller keying-screen items (9, 10, 13): MAR rows named by their drug,
a scanned QR payload, a refused value selected, the clerk remembered, required fields
named by label, paper column numbers, Enter on a reconciliation row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from paperfallback.cli.context import AppContext
from paperfallback.reentry.model import EntryPass, InstanceStatus
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, format_downtime_number
from paperfallback.ui.keying import KeyingWindow

KEY = "test-key-not-secret"


def _type(qtbot: Any, text: str) -> None:
    widget = QApplication.focusWidget()
    assert widget is not None
    if text:
        qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _hhmm(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).astimezone().strftime(
        "%d/%m/%Y %H:%M")


def _open(qtbot: Any, window: KeyingWindow, clerk: str, pass_index: int, typed: str) -> bool:
    window.pass_box.setCurrentIndex(pass_index)
    window.clerk_edit.setText(clerk)
    window.id_edit.setText(typed)
    window.id_edit.setFocus()
    qtbot.keyClick(window.id_edit, Qt.Key.Key_Return)
    return window.opened is not None and window.opened.clerk == clerk


def _key_column(qtbot: Any, window: KeyingWindow, pulse: str) -> None:
    window.field("observations", 0, "obs_time").setFocus()
    for value in (_hhmm(2), "22", "95", "1", "a", "", "", "120", "80", pulse, "c", "38.2",
                  "5"):
        _type(qtbot, value)


def test_one_form_keyed_by_three_clerks(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]], data_dir: Path,
) -> None:
    (issued,) = record_issued("news2", patient_id="p1", patient_name="WYN, Ann",
                              printed_at=datetime.now(UTC) - timedelta(hours=3))
    window = open_window()
    # 1. Ann keys the first pass; her own NEWS2 total check is shown to her.
    assert _open(qtbot, window, "Ann", 0, issued.instance_id)
    _key_column(qtbot, window, "95")
    window.store.set_double_entry(issued.instance_id, True)
    assert "NEWS2 total written as 5" in window.status_label.text()
    window.finish_form()
    window.finish_form()
    # 2. Bob cannot open the first keying (he would see and change Ann's values) ...
    window.id_edit.clear()
    assert not _open(qtbot, window, "Bob", 0, issued.instance_id)
    assert "Ann keyed the first pass" in window.id_message.text()
    # ... he keys the second pass blind: nothing of Ann's is on his screen.
    assert _open(qtbot, window, "Bob", 1, issued.instance_id)
    assert window.field("observations", 0, "pulse").text() == ""
    assert window.field("observations", 0, "resp_rate").text() == ""
    assert "NEWS2" not in window.status_label.text()
    assert "discrepanc" not in window.status_label.text()
    _key_column(qtbot, window, "83")
    assert "NEWS2 total written as" not in window.status_label.text()
    window.finish_form()
    window.finish_form()
    assert "Second keying of" in window.status_label.text()
    assert "verified" not in window.status_label.text()
    # 3. Cai resolves from the paper: only the difference is open, with both keyings.
    assert _open(qtbot, window, "Cai", 2, issued.instance_id)
    pulse = window.field("observations", 0, "pulse")
    assert QApplication.focusWidget() is pulse
    assert "'95' / '83'" in pulse.toolTip()
    assert window.field("observations", 0, "resp_rate").isReadOnly()
    assert window.field("observations", 0, "resp_rate").text() == "22"
    pulse.clear()
    _type(qtbot, "86")
    with EntriesStore.open(data_dir, KEY) as store:
        record = store.instance(issued.instance_id)
        assert record is not None and record.status is InstanceStatus.VERIFIED
        assert record.first_clerk == "Ann" and record.second_clerk == "Bob"
        first = {e.address.field_id: e.keyed_by
                 for e in store.entries(issued.instance_id, EntryPass.FIRST)}
        assert set(first.values()) == {"Ann"}


def test_refused_value_is_selected_and_required_fields_named_by_label(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = record_issued("downtime-registration", scope="blank",
                              printed_at=datetime.now(UTC) - timedelta(hours=1),
                              downtime_number=format_downtime_number("T1", 9))
    window = open_window()
    assert _open(qtbot, window, "Ann", 0, issued.instance_id)
    edit = next(e for e in window.form_widget.order  # type: ignore[union-attr]
                if e.spec.type == "date")
    edit.setFocus()
    _type(qtbot, "31/02/1950")
    assert edit.property("invalid")
    assert edit.selectedText() == "31/02/1950"  # the next typing replaces it
    qtbot.keyClicks(edit, "01/02/1950")
    assert edit.text() == "01/02/1950"
    window.finish_form()
    text = window.status_label.text()
    assert "required field(s) are empty" in text
    assert "dt_" not in text and "Registered by (initials)" in text


def test_clerk_name_is_remembered(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = record_issued("news2", patient_id="p1")
    window = open_window()
    assert _open(qtbot, window, "Ann Wyn", 0, issued.instance_id)
    window.close()
    again = open_window()
    assert again.clerk_edit.text() == "Ann Wyn"


def test_scanned_qr_payload_opens_the_form(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = record_issued("news2", patient_id="p1", prefilled_columns=7)
    window = open_window()
    window.clerk_edit.setFocus()
    _type(qtbot, "Ann")
    _type(qtbot, f"{issued.instance_id}/1")  # what a barcode scanner types
    assert window.opened is not None and window.opened.instance_id == issued.instance_id
    assert "page 1" in window.form_title.text()
    # The first blank column is column 8 on the paper (7 pre-filled): the same on screen.
    assert "column 8" in window.field("observations", 0, "pulse").accessibleName()


def test_enter_on_a_reconciliation_row_opens_it(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = record_issued("news2", patient_id="p1", patient_name="AP GWŶN-ŁOPEZ, Siân")
    window = open_window()
    window.clerk_edit.setText("Ann")
    window.tabs.setCurrentIndex(1)
    view = window.reconciliation
    view.refresh()
    patient_column = 3
    item = view.instances.item(0, patient_column)
    assert view.instances.columnWidth(patient_column) >= view.instances.fontMetrics(
    ).horizontalAdvance(item.text())
    view.instances.setFocus()
    view.instances.setCurrentCell(0, 0)
    qtbot.keyClick(view.instances, Qt.Key.Key_Return)
    assert window.tabs.currentIndex() == 0
    assert window.opened is not None and window.opened.instance_id == issued.instance_id


def test_mar_rows_show_the_drug_as_printed(
    qtbot: Any, open_window: Callable[[], KeyingWindow], demo_data_dir: Path,
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    ctx = AppContext(data_dir_option=str(demo_data_dir))
    try:
        cache = ctx.open_cache()
        patient = next(r.patient for r in cache.patients()
                       if any(rx.kind == "regular" for rx in
                              cache.patient_record(r.patient.id).prescriptions))
        rxs = [rx for rx in cache.patient_record(patient.id).prescriptions
               if rx.kind == "regular"]
    finally:
        ctx.close()
    rows = tuple(f"regular:{rx.id}@08:00" for rx in rxs)
    (issued,) = record_issued("mar", patient_id=patient.id, rows=rows)
    window = open_window()
    assert _open(qtbot, window, "Ann", 0, issued.instance_id)
    widget = window.form_widget
    assert widget is not None
    for index, rx in enumerate(rxs):
        header = widget.row_headers[("regular", index)].text()
        for part in (rx.drug, rx.dose, rx.route, "08:00"):
            assert part and part in header, (part, header)
        assert rx.drug in window.field("regular", index, "reg_time").accessibleName()


def test_a_name_only_match_is_confirmed_on_the_screen(
    qtbot: Any, open_window: Callable[[], KeyingWindow], demo_data_dir: Path,
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    ctx = AppContext(data_dir_option=str(demo_data_dir))
    try:
        cache = ctx.open_cache()
        rows = [r.patient for r in cache.patients() if r.patient.nhs_number]
        keys = [(p.family.casefold(), p.given.casefold(), p.birth_date) for p in rows]
        person = next(p for p, k in zip(rows, keys, strict=True) if keys.count(k) == 1)
    finally:
        ctx.close()
    (issued,) = record_issued("downtime-registration", scope="blank",
                              printed_at=datetime.now(UTC) - timedelta(hours=1),
                              downtime_number=format_downtime_number("T1", 3))
    window = open_window()
    assert _open(qtbot, window, "Ann", 0, issued.instance_id)
    for field_id, value in (("dt_family", person.family), ("dt_given", person.given),
                            ("dt_birth_date", person.birth_date.strftime("%d/%m/%Y"))):
        edit = window.field("identity", 0, field_id)
        edit.setFocus()
        edit.setText(value)  # names may hold letters QTest cannot type (ŵ, ł)
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    window.finish_form()
    window.finish_form()  # required arrival fields left empty: finish anyway
    assert window.same_patient_button.isVisible()
    assert person.display_name in window.status_label.text()
    assert "not exported until confirmed" in window.status_label.text()
    qtbot.mouseClick(window.same_patient_button, Qt.MouseButton.LeftButton)
    assert not window.same_patient_button.isVisible()
    assert "Confirmed" in window.status_label.text()
    record = window.store.instance(issued.instance_id)
    assert record is not None and "confirmed by Ann" in record.patient_match
