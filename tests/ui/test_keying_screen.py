"""The keying screen driven by the keyboard alone: NEWS2 chart, MAR, each validation,
a mistyped ID, reopening after the process was killed, double entry, reconciliation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from paperfallback.reentry.model import DiscrepancyKind, EntryPass, InstanceStatus
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm
from paperfallback.ui.keying import KeyingWindow

KEY = "test-key-not-secret"


def _printed(record_issued: Callable[..., list[IssuedForm]], form_id: str = "news2",
             **extra: Any) -> IssuedForm:
    fields: dict[str, Any] = {
        "patient_id": "p1", "patient_name": "AP GWŶN-ŁOPEZ, Siân", "ward_code": "AN",
        "nhs_number": "9990000018", "printed_at": datetime.now(UTC) - timedelta(hours=3),
    }
    fields.update(extra)
    return record_issued(form_id, **fields)[0]


def _type(qtbot: Any, text: str) -> None:
    """Type into the focused widget, then Enter: what a clerk (or a scanner) does."""
    widget = QApplication.focusWidget()
    assert widget is not None
    if text:
        qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _start(qtbot: Any, window: KeyingWindow, clerk: str, instance_id: str) -> None:
    window.clerk_edit.setFocus()
    _type(qtbot, clerk)
    assert QApplication.focusWidget() is window.id_edit
    _type(qtbot, instance_id)
    assert window.session is not None, window.id_message.text()


def _hhmm(hours_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return moment.astimezone().strftime("%d/%m/%Y %H:%M")


NEWS2_COLUMN = [  # paper order down one time column
    ("obs_time", None), ("resp_rate", "22"), ("spo2", "95"), ("spo2_scale", "1"),
    ("oxygen", "a"), ("o2_device", ""), ("o2_flow", ""), ("sbp", "120"), ("dbp", "80"),
    ("pulse", "95"), ("acvpu", "c"), ("temp", "38.2"), ("news2_total", "5"),
    ("monitoring_frequency", "1h"), ("escalation", "y"), ("initials", "SW"),
]


def test_key_news2_chart_with_keyboard_alone(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]], data_dir: Path,
) -> None:
    issued = _printed(record_issued)
    window = open_window()
    _start(qtbot, window, "Ann Wyn", issued.instance_id.replace("-", "").lower())
    for field_id, value in NEWS2_COLUMN:
        assert QApplication.focusWidget() is window.field("observations", 0, field_id)
        _type(qtbot, value if value is not None else _hhmm(2))
    # Enter on the last field of column 1 moves to the top of column 2.
    assert QApplication.focusWidget() is window.field("observations", 1, "obs_time")
    assert window.field("observations", 0, "oxygen").text() == "A"
    assert window.field("observations", 0, "acvpu").text() == "C"
    assert "NEWS2 total written as 5" in window.status_label.text()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return,
                   Qt.KeyboardModifier.ControlModifier)
    with EntriesStore.open(data_dir, KEY) as store:
        values = {e.address.field_id: e for e in store.entries(issued.instance_id)}
        assert values["pulse"].value == "95" and values["pulse"].keyed_by == "Ann Wyn"
        assert values["escalation"].value == "Y"
        assert "o2_device" not in values
        (flag,) = store.discrepancies(issued.instance_id)
        assert flag.kind is DiscrepancyKind.NEWS2_TOTAL and flag.detail["computed"] == "8"
        record = store.instance(issued.instance_id)
        assert record is not None and record.status is InstanceStatus.KEYED


def test_key_mar_with_keyboard_alone(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]], data_dir: Path,
) -> None:
    issued = _printed(record_issued, "mar", rows=("regular:rx-1@08:00", "regular:rx-1@20:00"))
    window = open_window()
    _start(qtbot, window, "Bob", issued.instance_id)
    assert QApplication.focusWidget() is window.field("allergy_box", 0, "allergy_checked_by")
    _type(qtbot, "BO")
    _type(qtbot, "72.4")  # weight
    # Printed without dates: the dates written over the day columns come first.
    assert QApplication.focusWidget() is window.field("regular.days", 0, "day_date_1")
    day_1 = (datetime.now(UTC) - timedelta(days=1)).strftime("%d/%m/%Y")
    _type(qtbot, day_1)
    for _ in range(6):
        _type(qtbot, "")  # days 2 to 7 not dated on the paper
    assert QApplication.focusWidget() is window.field("regular", 0, "reg_time")
    assert "dose time 20:00" in window.field("regular", 1, "reg_time").accessibleName()
    _type(qtbot, "0800")
    _type(qtbot, "BO")  # day 1 given
    _type(qtbot, "2")  # day 2: omission code 2 (nil by mouth)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F7)  # day 3 illegible
    assert window.field("regular", 0, "reg_given_3").text() == "?"
    with EntriesStore.open(data_dir, KEY) as store:
        values = {(e.address.section, e.address.field_id): e for e in
                  store.entries(issued.instance_id)}
    assert values[("allergy_box", "weight_kg")].value == "72.4"
    assert values[("regular", "reg_time")].value == "08:00"
    assert values[("regular", "reg_given_2")].value == "2"
    assert values[("regular", "reg_given_3")].state.value == "illegible"
    assert values[("regular.days", "day_date_1")].value == (
        datetime.now(UTC) - timedelta(days=1)).date().isoformat()


def test_each_validation_shows_next_to_the_field(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    issued = _printed(record_issued)
    window = open_window()
    _start(qtbot, window, "Ann", issued.instance_id)
    message = window.form_widget.messages["observations"]  # type: ignore[union-attr]
    cases = [
        ("obs_time", (datetime.now(UTC) + timedelta(hours=2)).astimezone().strftime(
            "%d/%m/%Y %H:%M"), "in the future"),
        ("obs_time", _hhmm(40), "more than 24 h before"),
        ("resp_rate", "l8", "not a number"),
        ("spo2", "101", "outside 50–100"),
        ("temp", "37.25", "decimals"),
        ("acvpu", "x", "not one of"),
    ]
    for field_id, text, expected in cases:
        edit = window.field("observations", 0, field_id)
        edit.setFocus()
        edit.clear()
        _type(qtbot, text)
        assert expected in message.text(), (field_id, message.text())
        assert QApplication.focusWidget() is edit  # Enter does not move past a bad value
        edit.clear()
    # Times in order: column 2 before column 1.
    window.field("observations", 0, "obs_time").setFocus()
    _type(qtbot, _hhmm(1))
    window.field("observations", 1, "obs_time").setFocus()
    _type(qtbot, _hhmm(2))
    assert "not after the previous column" in message.text()


def test_mistyped_id_is_caught_by_its_check_character(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    issued = _printed(record_issued)
    window = open_window()
    window.clerk_edit.setFocus()
    _type(qtbot, "Ann")
    wrong = issued.instance_id[:-1] + ("X" if issued.instance_id[-1] != "X" else "Y")
    _type(qtbot, wrong)
    assert window.session is None
    assert "check character" in window.id_message.text()
    window.id_edit.clear()
    _type(qtbot, issued.instance_id)
    assert window.session is not None


CRASHER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress
    from paperfallback.reentry.store import EntriesStore
    store = EntriesStore.open(Path(sys.argv[1]), sys.argv[2])
    for field, value in [("resp_rate", "18"), ("spo2", "96")]:
        store.save(FieldAddress(sys.argv[3], "observations", 0, field), EntryPass.FIRST,
                   value, EntryState.VALUE, clerk="Ann", form_id="news2")
    print("saved", flush=True)
    time.sleep(60)
""")


def test_reopen_after_crash_continues_where_it_stopped(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]], data_dir: Path,
) -> None:
    issued = _printed(record_issued)
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(data_dir), KEY,
                             issued.instance_id], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "saved"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    window = open_window()
    _start(qtbot, window, "Ann", issued.instance_id)
    assert window.field("observations", 0, "resp_rate").text() == "18"
    assert window.field("observations", 0, "spo2").text() == "96"
    assert QApplication.focusWidget() is window.field("observations", 0, "spo2_scale")


def test_double_entry_discrepancy_resolved_from_the_paper(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]], data_dir: Path,
) -> None:
    issued = _printed(record_issued)
    window = open_window()
    for clerk, pass_index, pulse in (("Ann", 0, "88"), ("Bob", 1, "83")):
        window.pass_box.setCurrentIndex(pass_index)
        window.id_edit.clear()
        window.clerk_edit.clear()
        _start(qtbot, window, clerk, issued.instance_id)
        _type(qtbot, _hhmm(2))
        _type(qtbot, "18")
        window.field("observations", 0, "pulse").setFocus()
        _type(qtbot, pulse)
        window.store.set_double_entry(issued.instance_id, True)
        window.finish_form()  # warns: required fields (SpO2, ...) left empty
        assert "required field(s) are empty: SpO2 (column 1)" in window.status_label.text()
        assert QApplication.focusWidget() is window.field("observations", 0, "spo2")
        window.finish_form()  # the clerk confirms: the paper has nothing there
    with EntriesStore.open(data_dir, KEY) as store:
        (difference,) = store.discrepancies(issued.instance_id)
        assert difference.kind is DiscrepancyKind.DOUBLE_ENTRY
        record = store.instance(issued.instance_id)
        assert record is not None and record.status is InstanceStatus.KEYED
    window.pass_box.setCurrentIndex(2)
    window.id_edit.clear()
    window.clerk_edit.clear()
    _start(qtbot, window, "Cai", issued.instance_id)
    pulse_edit = window.field("observations", 0, "pulse")
    assert QApplication.focusWidget() is pulse_edit  # only the difference is open
    assert window.field("observations", 0, "resp_rate").isReadOnly()
    pulse_edit.clear()
    _type(qtbot, "86")
    with EntriesStore.open(data_dir, KEY) as store:
        assert store.discrepancies(issued.instance_id) == []
        record = store.instance(issued.instance_id)
        assert record is not None and record.status is InstanceStatus.VERIFIED
        resolved = store.entries(issued.instance_id, EntryPass.RESOLVED)
        assert [(e.value, e.keyed_by) for e in resolved] == [("86", "Cai")]


def test_reconciliation_view(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    _printed(record_issued)
    _printed(record_issued, "mar")
    window = open_window()
    window.tabs.setCurrentIndex(1)
    assert "2 form(s)" in window.reconciliation.summary.text()
    assert "Not come back yet: 2" in window.reconciliation.summary.text()
    assert window.reconciliation.instances.rowCount() == 2
    assert isinstance(window.clerk_edit, QLineEdit)


def test_the_screen_scores_a_column_on_the_scale_printed_on_the_chart(
    qtbot: Any, open_window: Callable[[], KeyingWindow],
    record_issued: Callable[..., list[IssuedForm]], tmp_path: Path,
) -> None:
    """Issue 11: "Scale used" left blank scores on the scale printed on the chart (kept on
    the issued form), as the workbook, CSV/xlsx, FHIR and the next chart do; not on
    whatever the cache says today. SpO2 97 on O2 on Scale 2: 3 + oxygen 2 = 5."""
    issued = _printed(record_issued, spo2_scale=2)
    window = open_window()
    _start(qtbot, window, "Ann Wyn", issued.instance_id)
    column = {"obs_time": _hhmm(2), "resp_rate": "16", "spo2": "97", "spo2_scale": "",
              "oxygen": "o2", "sbp": "120", "pulse": "70", "acvpu": "a", "temp": "37.0",
              "news2_total": "5"}
    for field_id, _value in NEWS2_COLUMN:
        assert QApplication.focusWidget() is window.field("observations", 0, field_id)
        _type(qtbot, column.get(field_id, ""))
        if field_id == "news2_total":
            break
    assert window.form_widget is not None
    assert window.form_widget.scores[("observations", 0)].text() == "5 (medium), SpO2 scale 2"
    assert "NEWS2" not in window.status_label.text()
    window.grab().save(str(tmp_path / "keying-scale-2.png"))
