"""The keying window shows the ticks read off a returned page as values to confirm
(issue #16 item 4): dashed blue in the field, saved only when the clerk presses Enter on
it; typing overwrites it; an unclear reading says to look at the paper."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from paperfallback.reentry.choice_check import SCAN_SOURCE
from paperfallback.reentry.model import DiscrepancyKind, EntryPass, FieldAddress
from paperfallback.register import IssuedForm, format_downtime_number
from paperfallback.scan.choice_marks import ChoiceMark, FormMarks, OptionReading
from paperfallback.scan.omr import BoxState


def _mark(section: str, field: str, codes: list[str], ticked: list[str],
          value: str | None, note: str = "") -> ChoiceMark:
    return ChoiceMark(1, section, field, None, "choice", tuple(
        OptionReading(c, 0.4 if c in ticked else 0.0,
                      BoxState.TICKED if c in ticked else BoxState.EMPTY) for c in codes),
        value, note)


MARKS = FormMarks([
    _mark("identity", "dt_sex", ["M", "F", "O", "U"], ["F"], "F"),
    _mark("arrival", "dt_mode", ["AMB", "WALK", "GP", "OTH"], ["AMB"], "AMB"),
    _mark("arrival", "dt_triage", ["1", "2", "3", "4", "5"], ["2", "3"], None,
          "ticks in 2 and 3: check the paper"),
], pages_read=[1])


def test_a_tick_read_from_the_scan_is_shown_and_saved_only_on_confirm(
    qtbot: Any, data_dir: Path, tmp_path: Path,
    record_issued: Callable[..., list[IssuedForm]], open_window: Callable[[], Any],
) -> None:
    (issued,) = record_issued("downtime-registration", scope="blank", patient_id=None,
                              downtime_number=format_downtime_number("T1", 1))
    window = open_window()
    window.service._read_marks = lambda _issued: MARKS  # the reader has its own tests
    window.clerk_edit.setText("Ann Wyn")
    window.id_edit.setText(issued.instance_id)
    assert window.open_typed_id(), window.id_message.text()
    sex = window.field("identity", 0, "dt_sex")
    mode = window.field("arrival", 0, "dt_mode")
    triage = window.field("arrival", 0, "dt_triage")
    assert sex.text() == "F" and "dashed" in sex.styleSheet() and sex.pending()
    assert "From the scan (page 1): F (Female)" in sex.toolTip()
    assert triage.text() == "" and triage.placeholderText() == "see the paper"
    assert "2 value(s) read from the ticks" in window.status_label.text()
    store = window.store
    # Passing over a suggestion (Tab, focus elsewhere) saves nothing.
    sex.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is sex)
    message = window.form_widget.messages["identity"]
    assert "Enter confirms" in message.text()
    qtbot.keyClick(sex, Qt.Key.Key_Tab)
    assert store.entries(issued.instance_id) == []
    window.grab().save(str(Path("/tmp/keying-tick-suggestions.png")))
    # Enter on it confirms: saved as keyed by this clerk, from the scan.
    sex.setFocus()
    qtbot.keyClick(sex, Qt.Key.Key_Return)
    (saved,) = store.entries(issued.instance_id, EntryPass.FIRST)
    assert (saved.address.field_id, saved.value, saved.keyed_by, saved.source) == (
        "dt_sex", "F", "Ann Wyn", SCAN_SOURCE)
    assert not sex.pending() and "dashed" not in sex.styleSheet()
    assert "confirmed from the scan" in message.text()
    # Typing over a suggestion keys what the paper says; against a clear tick it is flagged.
    mode.setFocus()
    mode.selectAll()
    qtbot.keyClicks(mode, "WALK")
    qtbot.keyClick(mode, Qt.Key.Key_Return)
    keyed = store.entry(FieldAddress(issued.instance_id, "arrival", 0, "dt_mode"),
                        EntryPass.FIRST)
    assert keyed is not None and keyed.value == "WALK" and keyed.source == "screen"
    (flag,) = store.discrepancies(issued.instance_id)
    assert flag.kind is DiscrepancyKind.PAPER_MARK
    assert flag.describe() == ("Mode of arrival keyed WALK (Walk-in) but the tick is in AMB "
                               "(Ambulance)")
    assert flag.describe() in window.status_label.text()
    assert "value(s) read from the ticks" not in window.status_label.text()
