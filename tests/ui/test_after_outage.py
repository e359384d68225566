"""The "When the EPR is back" buttons open re-entry and run the export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from paperfallback.ui.after_outage import ExportDialog


def test_reenter_forms_opens_the_keying_window(
        tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    from paperfallback.ui.keying import KeyingWindow

    window = make_window(tiny_cache)
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    keying = [w for w in window._child_windows if isinstance(w, KeyingWindow)]
    assert len(keying) == 1 and keying[0].isVisible()
    keying[0].close()


def test_export_writes_a_fhir_bundle(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(tiny_cache)
    qtbot.keyClick(window, Qt.Key.Key_E,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, ExportDialog)
    assert dialog.chosen_format() == "fhir"
    prompts.save_to = str(tmp_path / "bundle.json")
    dialog.export_button.click()
    qtbot.waitUntil(lambda: bool(dialog.result_lines) or bool(prompts.kinds("error")),
                    timeout=30_000)
    assert not prompts.kinds("error")
    bundle = json.loads((tmp_path / "bundle.json").read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    assert "Nothing new to export" in dialog.status_label.text()
