"""Printing through the real dialogs: live page count, Save PDF, print to a PDF printer,
preview, cancel, failure, and the register recording only what was printed or saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdf
from pf_ui_helpers import open_ward_dialog, register_list
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter

from paperfallback.ui.print_dialog import PrintDialog

KEY = "test-key-not-secret"


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)


def test_save_the_ward_pack_through_the_dialog(
        demo_data_dir: Path, make_window: Any, prompts: Any, qtbot: Any,
        tmp_path: Path) -> None:
    window = make_window(demo_data_dir)
    ward = window.current_ward_code()
    dialog = open_ward_dialog(window, qtbot)
    assert dialog.all_radio.isChecked()
    assert sorted(dialog.checked_forms()) == sorted(window.settings.forms_for_ward(ward))
    counted = dialog.page_count
    assert counted is not None and counted > window.model.rowCount()
    assert f"{counted} pages" in dialog.count_label.text()
    assert register_list(demo_data_dir, KEY) == []  # counting issues nothing

    prompts.save_to = str(tmp_path / "ward pack.pdf")
    qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.saved_to is not None,
                    timeout=60_000)
    saved = Path(prompts.save_to)
    assert len(pypdf.PdfReader(saved).pages) == counted == dialog.output.pack.page_count
    issued = register_list(demo_data_dir, KEY)
    assert {i.instance_id for i in issued} == {i.instance_id for i in dialog.output.pack.issued}
    patients = {i.patient_id for i in issued if i.form_id == "news2"}
    assert patients == {window.model.row_summary(r).patient_id
                        for r in range(window.model.rowCount())}
    first = window.model.row_summary(0)
    assert first.name in _pdf_text(saved)
    assert f"Saved {counted} pages" in dialog.status_label.text()


def test_print_selected_patients_to_a_pdf_printer(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(tiny_cache)
    qtbot.keyClicks(window.search_edit, "rm100002")  # keyboard only: search, Enter
    qtbot.keyClick(window.search_edit, Qt.Key.Key_Return)
    assert window.table.hasFocus()
    assert window.selected_patient_ids() == ["p2"]
    qtbot.keyClick(window.table, Qt.Key.Key_Return)  # Enter on a patient
    dialog = window.open_dialog
    assert isinstance(dialog, PrintDialog)
    assert dialog.selected_radio.isChecked()
    dialog.set_forms(["news2", "mar"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    out = tmp_path / "printed.pdf"

    def to_file(printer: QPrinter) -> None:
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(out))

    prompts.printer_setup = to_file
    dialog.print_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.outcome is not None,
                    timeout=30_000)
    assert dialog.output.outcome.method == "pdf file"
    assert len(pypdf.PdfReader(out).pages) == dialog.page_count
    issued = register_list(tiny_cache, KEY)
    assert sorted(i.form_id for i in issued) == ["mar", "news2"]
    assert {i.patient_id for i in issued} == {"p2"}
    assert "ÖZTÜRK" in _pdf_text(out)


def test_nothing_is_recorded_without_printing(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    prompts.printer_ok = False  # the nurse cancels the system print dialog
    dialog.print_button.click()
    qtbot.waitUntil(lambda: bool(prompts.kinds("printer")), timeout=30_000)
    # The printer is chosen before the pages are drawn (they go to it as they are drawn):
    # cancelling the printer choice draws nothing.
    assert dialog.output is None and not dialog.runner.busy()
    prompts.save_to = None  # and cancels Save PDF
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(prompts.kinds("save")), timeout=30_000)
    assert register_list(tiny_cache, KEY) == []


def test_preview_shows_every_page_with_thumbnails_and_zoom(
        tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    qtbot.keyClick(dialog.preview_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.preview_dialog
                    is not None, timeout=30_000)
    preview = dialog.output.preview_dialog
    assert preview.page_count == dialog.page_count
    qtbot.waitUntil(preview.thumbnails_done, timeout=30_000)
    assert not preview.thumbs.item(preview.page_count - 1).icon().isNull()
    before = preview.view.zoomFactor()
    preview.zoom_in_button.click()
    assert preview.view.zoomFactor() > before
    preview.thumbs.setCurrentRow(2)
    assert "Page 3 of" in preview.page_label.text()
    assert register_list(tiny_cache, KEY) == []  # a preview prints nothing
    preview.close()


def test_cancel_a_long_render(demo_data_dir: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(demo_data_dir)
    dialog = open_ward_dialog(window, qtbot)
    dialog.copies_spin.setValue(5)
    progressed: list[int] = []
    dialog.preview_button.click()
    task = dialog.runner.task
    assert task is not None and dialog.cancel_button.isVisible()
    task.progress.connect(lambda done, _total, _text: progressed.append(done))
    qtbot.waitUntil(lambda: bool(progressed), timeout=60_000)
    assert not dialog.preview_button.isEnabled()
    with qtbot.waitSignal(task.cancelled, timeout=30_000):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Escape cancels the render first
    assert dialog.isVisible()
    assert "Cancelled" in dialog.status_label.text()
    assert dialog.output is None
    assert dialog.preview_button.isEnabled()
    assert register_list(demo_data_dir, KEY) == []


def test_a_failed_print_says_so_and_records_nothing(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    def unwritable(printer: QPrinter) -> None:  # a printer that cannot take the job
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(tiny_cache / "no such folder" / "x.pdf"))

    prompts.printer_setup = unwritable
    dialog.print_button.click()
    qtbot.waitUntil(lambda: bool(prompts.kinds("error")), timeout=30_000)
    title, text = prompts.kinds("error")[0][1:]
    assert title == "The pack was NOT printed"
    assert "NOT PRINTED" in text
    assert "NOT PRINTED" in window.statusBar().currentMessage()
    assert register_list(tiny_cache, KEY) == []


def test_blank_forms_of_several_kinds(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(tiny_cache)
    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, PrintDialog) and dialog.kind == "blank"
    dialog.set_forms(["downtime-registration", "news2"])
    dialog.blank_spin.setValue(2)
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    prompts.save_to = str(tmp_path / "blank.pdf")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.saved_to is not None,
                    timeout=30_000)
    assert len(pypdf.PdfReader(tmp_path / "blank.pdf").pages) == dialog.page_count
    issued = register_list(tiny_cache, KEY)
    assert sorted(i.form_id for i in issued) == [
        "downtime-registration", "downtime-registration", "news2", "news2"]
    numbers = [i.downtime_number for i in issued if i.form_id == "downtime-registration"]
    assert len(set(numbers)) == 2 and all(numbers)


def test_blank_forms_need_no_cache(data_dir: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(data_dir)
    assert window.pages.currentWidget() is window.first_run_page
    window.print_blank_button.click()
    dialog = window.open_dialog
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    assert dialog.page_count >= 5


def test_closing_the_window_mid_render_stops_the_threads(
        demo_data_dir: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(demo_data_dir)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    dialog.copies_spin.setValue(5)
    dialog.preview_button.click()
    task = dialog.runner.task
    assert task is not None and task.is_running()
    window.close()
    assert not task.is_running()
    assert window.store is None
