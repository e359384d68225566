"""One print job, one set of form IDs (#12.12): Preview, Print and Save PDF of the same
choice share the IDs of one render, recorded in the register once, when the job is first
printed or saved; a preview never printed or saved leaves nothing outstanding.

Printing goes through the real system print dialog (QPrintDialog, "Print to File (PDF)"),
driven by its keyboard like a nurse: type nothing but Enter."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pypdf
import pytest
from pf_ui_helpers import open_ward_dialog, register_list
from PySide6.QtCore import Qt, QTimer
from PySide6.QtPrintSupport import QPrintDialog
from PySide6.QtWidgets import QApplication, QLineEdit

from paperfallback.cli.main import main
from paperfallback.ui.prompts import Prompts

KEY = "test-key-not-secret"


def _ids_in(path: Path, pc_code: str) -> set[str]:
    """The form-instance IDs printed as text on the pages (``<pc code>-NNNNN-C``)."""
    text = "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)
    return set(re.findall(rf"\b{re.escape(pc_code)}-[0-9A-Z]{{5}}-[0-9A-Z]", text))


def _answer_print_dialog(qtbot: Any, out: Path, seen: list[str]) -> None:
    """When the real print dialog is up, name the PDF file and press Enter in it."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QPrintDialog):
            QTimer.singleShot(50, answer)
            return
        seen.append(dialog.windowTitle())
        name = dialog.findChild(QLineEdit, "filename")
        name.setText(str(out))
        qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Return)

    QTimer.singleShot(50, answer)


@pytest.fixture
def real_print_dialog(prompts: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's own Prompts.choose_printer: the system print dialog, modal."""
    monkeypatch.setattr(type(prompts), "choose_printer",
                        lambda self, parent, printer: Prompts.choose_printer(
                            self, parent, printer))


def _register_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["--data-dir", str(folder), "register", "list", "--json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_preview_print_and_save_share_one_id_set(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path,
        real_print_dialog: None, capsys: pytest.CaptureFixture[str]) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)  # Ctrl+P
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter: Preview
    qtbot.waitUntil(lambda: dialog.output is not None
                    and dialog.output.preview_dialog is not None, timeout=30_000)
    job = dialog.output
    ids = {i.instance_id for i in job.pack.issued}
    assert ids and register_list(tiny_cache, KEY) == []  # a preview records nothing
    job.preview_dialog.close()

    printed = tmp_path / "printed.pdf"
    seen: list[str] = []
    _answer_print_dialog(qtbot, printed, seen)
    dialog.activateWindow()  # back in the print dialog, as after closing the preview
    qtbot.waitUntil(dialog.isActiveWindow)
    qtbot.keyClick(dialog, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # Print…
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.outcome is not None,
                    timeout=30_000)
    assert seen == ["Print — choose the printer"]  # the real dialog was answered
    assert dialog.output is job  # not a new render with new IDs
    assert {i.instance_id for i in register_list(tiny_cache, KEY)} == ids

    prompts.save_to = str(tmp_path / "saved.pdf")
    dialog.activateWindow()  # the system dialog has gone (offscreen does not say so)
    qtbot.waitUntil(dialog.isActiveWindow)
    qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Save PDF…
    qtbot.waitUntil(lambda: job.saved_to is not None, timeout=30_000)
    assert dialog.output is job
    recorded = _register_json(tiny_cache, capsys)
    assert sorted(r["instance_id"] for r in recorded) == sorted(ids)  # once each
    pc_code = next(iter(ids)).split("-")[0]
    assert _ids_in(printed, pc_code) == _ids_in(Path(prompts.save_to), pc_code) == ids


def test_a_changed_choice_is_a_new_job(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None
                    and dialog.output.preview_dialog is not None, timeout=30_000)
    first = dialog.output
    first.preview_dialog.close()
    dialog.set_forms(["news2"])  # another choice: its own render and IDs
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    prompts.save_to = str(tmp_path / "news2.pdf")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.output is not first and dialog.output is not None
                    and dialog.output.saved_to is not None, timeout=30_000)
    saved = {i.instance_id for i in dialog.output.pack.issued}
    assert saved.isdisjoint({i.instance_id for i in first.pack.issued})
    assert {i.instance_id for i in register_list(tiny_cache, KEY)} == saved


def test_a_preview_never_printed_leaves_nothing_outstanding(
        tiny_cache: Path, make_window: Any, qtbot: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    for _ in range(2):  # preview twice, then close the dialog
        dialog.preview_button.click()
        qtbot.waitUntil(lambda: dialog.output is not None
                        and dialog.output.preview_dialog is not None, timeout=30_000)
        dialog.output.preview_dialog.close()
        dialog.output.preview_dialog = None
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert _register_json(tiny_cache, capsys) == []


def test_a_clinic_list_previewed_then_saved_is_one_job(
        demo_data_dir: Path, make_window: Any, prompts: Any, qtbot: Any,
        tmp_path: Path) -> None:
    window = make_window(demo_data_dir)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None
                    and dialog.output.preview_dialog is not None, timeout=30_000)
    job = dialog.output
    job.preview_dialog.close()
    prompts.save_to = str(tmp_path / "clinic.pdf")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None
                    and dialog.output.saved_to is not None, timeout=30_000)
    assert dialog.output is job
    assert [i.instance_id for i in register_list(demo_data_dir, KEY)] == [
        i.instance_id for i in job.pack.issued]
