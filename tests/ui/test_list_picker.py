"""Clinic and theatre lists: pick from the cache, then the same preview/print/save path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdf
from PySide6.QtCore import Qt

from paperfallback.register import Register
from paperfallback.settings import Settings
from paperfallback.ui.list_picker import ListPickerDialog


def _text(path: Path) -> str:
    return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(path).pages)


def test_clinic_list_for_a_chosen_clinic_and_day(
        demo_data_dir: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(demo_data_dir)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, ListPickerDialog) and dialog.kind == "clinic"
    clinics = window.store.clinics()
    assert dialog.place_combo.count() == len(clinics) > 0
    clinic = clinics[-1]
    day = window.store.appointment_days(clinic)[-1]
    dialog.select(clinic, day)
    booked = len(window.store.appointments(clinic, day))
    assert dialog.summary_label.text().startswith(f"{booked} appointment")
    prompts.save_to = str(tmp_path / "clinic.pdf")
    qtbot.waitUntil(dialog.isActiveWindow)
    qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.saved_to is not None,
                    timeout=30_000)
    text = _text(tmp_path / "clinic.pdf")
    assert clinic in text
    assert day.strftime("%d-%b-%Y") in text
    with Register.open(demo_data_dir, "test-key-not-secret", Settings()) as register:
        issued = register.list()
    assert [(i.form_id, i.clinic, i.session_date) for i in issued] == [
        ("clinic-list", clinic, day)]


def test_theatre_list_preview(demo_data_dir: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(demo_data_dir)
    window.theatre_button.click()
    dialog = window.open_dialog
    assert isinstance(dialog, ListPickerDialog) and dialog.kind == "theatre"
    assert dialog.chosen_day() is not None
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.preview_dialog
                    is not None, timeout=30_000)
    preview = dialog.output.preview_dialog
    assert preview.page_count >= 1
    assert dialog.chosen_place() in preview.windowTitle()
    preview.close()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
