"""A real print system: print a pack through the app to a CUPS PDF queue and read the
spooled result back (text and QR code still readable; the PDF itself was spooled, not
page images)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pypdf
import pytest
from pf_ui_helpers import job_pdf
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter

from paperfallback.register import Register
from paperfallback.render.qr import parse_qr_payload
from paperfallback.settings import Settings
from paperfallback.ui.print_dialog import PrintDialog

pytestmark = pytest.mark.cups


def test_print_a_pack_through_the_cups_pdf_queue(
        cups_queue: str, cups_pdf_folder: Path, tiny_cache: Path, make_window: Any,
        prompts: Any, qtbot: Any) -> None:
    import pymupdf  # renders the spooled page for the QR decoder
    import zxingcpp
    from PIL import Image

    window = make_window(tiny_cache)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, PrintDialog)
    dialog.set_forms(["news2"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)

    def choose_queue(printer: QPrinter) -> None:
        printer.setPrinterName(cups_queue)

    prompts.printer_setup = choose_queue
    dialog.print_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None and (
        dialog.output.outcome is not None or bool(dialog.output.error)), timeout=60_000)
    outcome = dialog.output.outcome
    assert outcome is not None, dialog.output.error
    assert outcome.method == "cups" and outcome.job_id.startswith(cups_queue)
    parts = dialog.output.pack.parts  # the cover sheet, then the patients: one job each
    assert len(outcome.job_ids) == len(parts) == 2
    assert outcome.spool_bytes == sum(len(p.pdf) for p in parts)  # the PDF, not images
    assert outcome.spool_bytes / outcome.pages < 100_000
    assert "Sent" in dialog.status_label.text()

    spooled = job_pdf(cups_pdf_folder, outcome.job_ids[1])  # the patients' part
    reader = pypdf.PdfReader(spooled)
    assert len(reader.pages) == dialog.page_count - 1
    issued = dialog.output.pack.issued
    ids = {i.instance_id for i in issued}
    news2 = next(i for i in issued if i.patient_id == "p1")
    # Job 1 is the cover sheet; job 2 starts with bed 1's NEWS2 chart. (cups-pdf re-distils the
    # PDF with Ghostscript, whose text layer garbles some non-ASCII letters for extraction;
    # the printed glyphs are intact, so check the ASCII identifiers here.)
    text = reader.pages[0].extract_text() or ""
    assert "999 000 0018" in text
    assert "RM100001" in text
    assert news2.instance_id in text
    assert "Data as of" in text

    page = pymupdf.open(spooled)[0].get_pixmap(dpi=150)
    image = Image.frombytes("RGB", (page.width, page.height), page.samples)
    codes = [r.text for r in zxingcpp.read_barcodes(image)]
    assert [parse_qr_payload(c) for c in codes] == [(news2.instance_id, 1)], codes

    with Register.open(tiny_cache, "test-key-not-secret", Settings.load(tiny_cache)) as reg:
        assert {i.instance_id for i in reg.list()} == ids
    remembered = Settings.load(tiny_cache).ward_printers
    assert remembered.get("AN") == cups_queue  # the ward's printer is offered next time


def test_a_disabled_queue_is_reported_not_silently_dropped(
        cups_queue: str, tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("disabling a CUPS queue needs root")
    window = make_window(tiny_cache)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    dialog.set_forms(["news2"])
    prompts.printer_setup = lambda printer: printer.setPrinterName(cups_queue)
    subprocess.run(["cupsdisable", cups_queue], check=True)
    try:
        dialog.print_button.click()
        qtbot.waitUntil(lambda: bool(prompts.kinds("error")), timeout=60_000)
    finally:
        subprocess.run(["cupsenable", cups_queue], check=False)
    assert prompts.kinds("error")[0][1] == "The pack was NOT printed"
    assert "disabled" in prompts.kinds("error")[0][2]
    with Register.open(tiny_cache, "test-key-not-secret", Settings.load(tiny_cache)) as reg:
        assert reg.list() == []
