"""A real print system: print a pack through the app to a CUPS PDF queue and read the
spooled result back (text and QR code still readable; the PDF itself was spooled, not
page images)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter

from paperfallback.register import Register
from paperfallback.render.qr import parse_qr_payload
from paperfallback.settings import Settings
from paperfallback.ui.print_dialog import PrintDialog

QUEUE = "PaperFallbackPDF"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cups


def _scheduler_running() -> bool:
    result = subprocess.run(["lpstat", "-r"], capture_output=True, text=True, check=False)
    return "scheduler is running" in result.stdout


@pytest.fixture(scope="session")
def cups_queue() -> str:
    """The CUPS PDF queue, started with .ci/setup-system when this machine can; else skip."""
    if not shutil.which("lp") or not shutil.which("lpstat"):
        pytest.skip("CUPS client tools (lp, lpstat) are not installed")
    missing = not _scheduler_running() or subprocess.run(
        ["lpstat", "-p", QUEUE], capture_output=True, check=False).returncode != 0
    if missing and shutil.which("cupsd") and os.geteuid() == 0:
        subprocess.run([str(ROOT / ".ci" / "setup-system")], capture_output=True,
                       check=False, timeout=300)
    if not _scheduler_running():
        pytest.skip("the CUPS scheduler (cupsd) is not running and could not be started")
    if subprocess.run(["lpstat", "-p", QUEUE], capture_output=True, check=False).returncode:
        pytest.skip(f"no CUPS queue {QUEUE} (cups-pdf); run .ci/setup-system as root")
    return QUEUE


@pytest.fixture
def cups_pdf_folder(cups_queue: str) -> Iterator[Path]:
    """Where cups-pdf writes this user's jobs (cups-pdf.conf: Out ${HOME}/PDF)."""
    folder = Path(pwd.getpwuid(os.getuid()).pw_dir) / "PDF"
    yield folder


def _new_pdf(folder: Path, since: float, timeout_s: float = 60) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [p for p in folder.glob("*.pdf") if p.stat().st_mtime >= since] if (
            folder.is_dir()) else []
        if found:
            newest = max(found, key=lambda p: p.stat().st_mtime)
            size = newest.stat().st_size
            time.sleep(0.3)  # cups-pdf writes then closes: wait for a stable size
            if size and newest.stat().st_size == size:
                return newest
        time.sleep(0.2)
    raise AssertionError(f"cups-pdf wrote no PDF into {folder} within {timeout_s} s")


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
    since = time.time() - 1
    dialog.print_button.click()
    qtbot.waitUntil(lambda: dialog.output is not None and (
        dialog.output.outcome is not None or bool(dialog.output.error)), timeout=60_000)
    outcome = dialog.output.outcome
    assert outcome is not None, dialog.output.error
    assert outcome.method == "cups" and outcome.job_id.startswith(cups_queue)
    assert outcome.spool_bytes == len(dialog.output.pack.pdf)  # the PDF itself, not images
    assert outcome.spool_bytes / outcome.pages < 100_000
    assert "Sent" in dialog.status_label.text()

    spooled = _new_pdf(cups_pdf_folder, since)
    reader = pypdf.PdfReader(spooled)
    assert len(reader.pages) == dialog.page_count
    issued = dialog.output.pack.issued
    ids = {i.instance_id for i in issued}
    news2 = next(i for i in issued if i.patient_id == "p1")
    # Page 1 is the cover sheet; page 2 is bed 1's NEWS2 chart. (cups-pdf re-distils the
    # PDF with Ghostscript, whose text layer garbles some non-ASCII letters for extraction;
    # the printed glyphs are intact, so check the ASCII identifiers here.)
    text = reader.pages[1].extract_text() or ""
    assert "999 000 0018" in text
    assert "RM100001" in text
    assert news2.instance_id in text
    assert "Data as of" in text

    page = pymupdf.open(spooled)[1].get_pixmap(dpi=150)
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
