"""Settings for IT: guarded behind a confirmation, saved to settings.json in the data folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from paperfallback.settings import Settings
from paperfallback.ui.settings_dialog import SettingsDialog


def _open(window: Any, qtbot: Any) -> SettingsDialog:
    qtbot.keyClick(window, Qt.Key.Key_S,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, SettingsDialog)
    return dialog


def test_settings_need_a_confirmation(tiny_cache: Path, make_window: Any, prompts: Any,
                                      qtbot: Any) -> None:
    prompts.confirm_answer = False
    window = make_window(tiny_cache)
    window.open_dialog = None
    qtbot.keyClick(window, Qt.Key.Key_S,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert prompts.kinds("confirm")[0][1] == "Settings for IT staff"
    assert window.open_dialog is None


def test_settings_are_saved_and_applied(tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    assert window.current_ward_code() == "AN"
    dialog = _open(window, qtbot)
    dialog.site_edit.setText("RQ6")
    dialog.ward_combo.setCurrentIndex(dialog.ward_combo.findData("BV"))
    dialog.pc_code_edit.setText("k7")
    dialog.stale_spin.setValue(45)
    dialog.refresh_edit.setText(r"\\server\drop\ward")
    dialog.printer_combo.setEditText("Ward printer")
    dialog.forms_ward_combo.setCurrentIndex(dialog.forms_ward_combo.findData("BV"))
    for i in range(dialog.forms_list.count()):
        item = dialog.forms_list.item(i)
        on = item.data(Qt.ItemDataRole.UserRole) in ("news2", "handover")
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    saved = json.loads((tiny_cache / "settings.json").read_text(encoding="utf-8"))
    assert saved["site_code"] == "RQ6"
    assert saved["ward"] == "BV"
    assert saved["pc_code"] == "K7"
    assert saved["stale_minutes"] == 45
    assert saved["refresh_source"] == r"\\server\drop\ward"
    assert saved["default_printer"] == "Ward printer"
    assert sorted(saved["ward_forms"]["BV"]) == ["handover", "news2"]
    assert Settings.load(tiny_cache).forms_for_ward("BV") == saved["ward_forms"]["BV"]
    assert window.current_ward_code() == "BV"  # the window moved to the PC's new ward
    assert window.settings.stale_minutes == 45


def test_a_bad_pc_code_is_refused(tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    before = (tiny_cache / "settings.json").read_bytes()
    dialog = _open(window, qtbot)
    dialog.pc_code_edit.setText("UU!")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert "Not saved" in dialog.error_label.text()
    assert "PC code" in dialog.error_label.text()
    assert (tiny_cache / "settings.json").read_bytes() == before  # nothing saved
    assert dialog.isVisible()


def test_a_ward_that_matches_no_ward_is_refused(
        tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    before = (tiny_cache / "settings.json").read_bytes()
    dialog = _open(window, qtbot)
    assert dialog.ward_combo.itemText(0) == "(all wards)"
    dialog.ward_combo.setEditText("Aneurin")  # a start of a name is not a ward
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    error = dialog.error_label.text()
    assert "Not saved" in error and "'Aneurin'" in error
    assert "Aneurin Ward (AN)" in error and "Bevan Ward (BV)" in error
    assert (tiny_cache / "settings.json").read_bytes() == before
    dialog.ward_combo.setEditText("bevan ward")  # a full name, any case: saved as its code
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert Settings.load(tiny_cache).ward == "BV"
    assert window.current_ward_code() == "BV"
