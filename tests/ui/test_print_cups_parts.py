"""The app prints a ward pack part by part as it is drawn (issue #15): one CUPS job per
part, in order, the first sent before the last part is drawn; and what the nurse sees when
the print system fails part-way (the queue stops accepting jobs, is switched off, the
printer is removed) or she cancels between parts. Every fault is caused for real on the
cups-pdf queue, and the jobs are read back from the files cups-pdf wrote."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest
from pf_ui_helpers import job_pdf, open_ward_dialog, register_list

import paperfallback.render.pack as pack_module
import paperfallback.render.pack_parts as pack_parts
import paperfallback.ui.printing as printing
from paperfallback.register import COVER_FORM_ID

pytestmark = pytest.mark.cups
KEY = "test-key-not-secret"
PPD = "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd"
GONE = "PaperFallbackGone"  # a queue a test adds, prints to, and removes part-way


class Spool:
    """What happened, in order: 'drawn' per part drawn, 'sent' per lp job accepted,
    'refused' per lp job refused; ``after_send(n)`` runs on the worker after the n-th."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.after_send: Callable[[int], None] = lambda _n: None

    def sent(self) -> int:
        return self.events.count("sent")


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch) -> Spool:
    record = Spool()
    draw, run_lp = pack_module._draw, printing.run_lp

    def drawn(*args: Any, **kwargs: Any) -> bytes:
        data = draw(*args, **kwargs)
        record.events.append("drawn")
        return data

    def lp(command: list[str], pdf: bytes) -> Any:
        result = run_lp(command, pdf)
        record.events.append("sent" if result.returncode == 0 else "refused")
        if result.returncode == 0:
            record.after_send(record.sent())
        return result

    monkeypatch.setattr(pack_module, "_draw", drawn)
    monkeypatch.setattr(printing, "run_lp", lp)
    return record


@pytest.fixture
def part_per_patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny ward in several parts: the cover sheet, then one patient a part."""
    monkeypatch.setattr(pack_parts, "PART_PAGES", 1)


@pytest.fixture
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("stopping and removing a CUPS queue needs root")


def _print_to(dialog: Any, qtbot: Any, prompts: Any, queue: str) -> Any:
    """Print… (or Print the rest…) to ``queue``; wait until the print has ended."""
    prompts.printer_setup = lambda printer: printer.setPrinterName(queue)
    before = len(prompts.messages)
    output = dialog.output
    dialog.print_button.click()
    qtbot.waitUntil(lambda: not dialog.runner.busy() and dialog.output is not None
                    and not dialog.output.printing and (
                        dialog.output is not output or len(prompts.messages) > before + 1
                        or dialog.output.outcome is not None), timeout=60_000)
    return dialog.output


def _jobs_read_back(folder: Path, job_ids: tuple[str, ...]) -> list[pypdf.PdfReader]:
    return [pypdf.PdfReader(job_pdf(folder, job)) for job in job_ids]


def _first_page_text(reader: pypdf.PdfReader) -> str:
    return reader.pages[0].extract_text() or ""


def test_a_ward_pack_goes_to_the_queue_part_by_part_in_order(
        cups_queue: str, cups_pdf_folder: Path, tiny_cache: Path, make_window: Any,
        prompts: Any, qtbot: Any, spool: Spool, part_per_patient: None) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    dialog.set_forms(["news2", "mar"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    output = _print_to(dialog, qtbot, prompts, cups_queue)
    outcome = output.outcome
    assert outcome is not None, output.error
    parts = output.pack.parts
    assert len(parts) >= 4  # the cover sheet, then each patient
    assert len(outcome.job_ids) == len(parts)
    numbers = [int(job.rsplit("-", 1)[1]) for job in outcome.job_ids]
    assert numbers == sorted(numbers)  # queued in the pack's order
    # Streamed: the first part reached CUPS before the last part was drawn.
    assert spool.events.index("sent") < len(spool.events) - 1 - spool.events[::-1].index(
        "drawn")
    readers = _jobs_read_back(cups_pdf_folder, outcome.job_ids)
    assert [len(r.pages) for r in readers] == [p.pages for p in parts]
    assert sum(len(r.pages) for r in readers) == dialog.page_count == outcome.pages
    for reader, part in zip(readers, parts, strict=True):  # each job holds its own forms
        assert part.issued[0].instance_id in _first_page_text(reader)
    assert {i.instance_id for i in register_list(tiny_cache, KEY)} == {
        i.instance_id for i in output.pack.issued}
    assert f"as {len(parts)} jobs" in dialog.status_label.text()


@pytest.mark.parametrize("fault", ["stops accepting jobs", "is switched off", "is removed"])
def test_a_fault_part_way_prints_nothing_more_and_offers_the_rest(
        fault: str, cups_queue: str, cups_pdf_folder: Path, tiny_cache: Path,
        make_window: Any, prompts: Any, qtbot: Any, spool: Spool, part_per_patient: None,
        as_root: None, tmp_path: Path) -> None:
    queue = cups_queue
    if fault == "is removed":
        subprocess.run(["lpadmin", "-p", GONE, "-E", "-v", "cups-pdf:/", "-P", PPD],
                       check=True, capture_output=True)
        queue = GONE
    cause, undo = {
        "stops accepting jobs": (["cupsreject", queue], ["cupsaccept", queue]),
        "is switched off": (["cupsdisable", queue], ["cupsenable", queue]),
        "is removed": (["lpadmin", "-x", queue], ["lpadmin", "-x", queue]),
    }[fault]
    spool.after_send = lambda n: subprocess.run(cause, check=True) if n == 1 else None
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    dialog.set_forms(["news2"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    try:
        output = _print_to(dialog, qtbot, prompts, queue)
    finally:
        subprocess.run(undo, check=False, capture_output=True)
    parts, total = output.pack.parts, output.pack.page_count
    assert output.outcome is None and spool.sent() == 1  # nothing after the fault
    title, text = prompts.kinds("error")[-1][1:]
    assert title == "The pack was only PARTLY printed"
    rest = f"pages {parts[1].first_page}-{total}"
    assert f"Page 1 went to {queue} (the cover sheet).\n" in text
    assert f"Pages {parts[1].first_page}-{total} did NOT print (Bed 1 to Bed " in text
    assert {"stops accepting jobs": "not accepting", "is switched off": "switched off",
            "is removed": "does not exist"}[fault] in text
    assert f"PARTLY PRINTED: {rest} did NOT print" in window.statusBar().currentMessage()
    # Only the forms that reached the printer are in the register: the cover sheet.
    assert [i.form_id for i in register_list(tiny_cache, KEY)] == [COVER_FORM_ID]
    assert dialog.print_button.text() == "&Print the rest…"
    assert dialog.save_button.text() == "&Save the rest…"

    if fault == "stops accepting jobs":  # Save the rest… as a PDF file
        prompts.save_to = str(tmp_path / "rest.pdf")
        dialog.save_button.click()
        qtbot.waitUntil(lambda: output.saved_to is not None, timeout=30_000)
        assert len(pypdf.PdfReader(tmp_path / "rest.pdf").pages) == total - parts[0].pages
        assert f"Saved {rest}" in dialog.status_label.text()
    else:  # Print the rest… on the same queue once it is back, or on another printer
        again = _print_to(dialog, qtbot, prompts, cups_queue)
        assert again is output and output.outcome is not None, output.error
        assert len(output.outcome.job_ids) == len(parts) - 1  # the rest, not the cover again
        readers = _jobs_read_back(cups_pdf_folder, output.outcome.job_ids)
        assert [len(r.pages) for r in readers] == [p.pages for p in parts[1:]]
        assert parts[1].issued[0].instance_id in _first_page_text(readers[0])
    assert {i.instance_id for i in register_list(tiny_cache, KEY)} == {
        i.instance_id for i in output.pack.issued}
    assert dialog.print_button.text() == "&Print…"


def test_cancel_between_parts_stops_the_sending(
        cups_queue: str, tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any,
        spool: Spool, part_per_patient: None) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    dialog.set_forms(["news2"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    prompts.printer_setup = lambda printer: printer.setPrinterName(cups_queue)

    def press_cancel(n: int) -> None:  # the nurse presses Cancel while part 1 is sent
        task = dialog.runner.task
        if n == 1 and task is not None:
            task.control.cancel()

    spool.after_send = press_cancel
    dialog.print_button.click()
    qtbot.waitUntil(lambda: not dialog.runner.busy(), timeout=60_000)
    assert spool.sent() == 1 and dialog.output is None
    text = dialog.status_label.text()
    assert text.startswith("Cancelled after page 1 went to PaperFallbackPDF (the cover "
                           "sheet): the pages after that were not printed."), text
    assert "were not printed" in text
    assert [i.form_id for i in register_list(tiny_cache, KEY)] == [COVER_FORM_ID]
    assert not prompts.kinds("error")  # the nurse cancelled: no error box
    assert dialog.print_button.isEnabled()


def test_a_printer_without_cups_gets_one_job_as_the_parts_are_drawn(
        cups_queue: str, cups_pdf_folder: Path, tiny_cache: Path, make_window: Any,
        prompts: Any, qtbot: Any, part_per_patient: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The QPrinter path (Windows printers): one job, fed a page image at a time from
    each part; here the cups-pdf queue stands for the Windows printer."""
    monkeypatch.setattr(printing, "cups_available", lambda: False)
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    dialog.set_forms(["news2"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)

    def low_resolution(printer: Any) -> None:
        printer.setPrinterName(cups_queue)
        printer.setResolution(72)

    since = time.time() - 1
    prompts.printer_setup = low_resolution
    dialog.print_button.click()
    qtbot.waitUntil(lambda: not dialog.runner.busy() and dialog.output is not None,
                    timeout=60_000)
    outcome = dialog.output.outcome
    assert outcome is not None, dialog.output.error
    assert outcome.method == "raster" and outcome.pages == dialog.page_count
    assert len(dialog.output.pack.parts) >= 3
    deadline = time.monotonic() + 60
    found: list[Path] = []
    while time.monotonic() < deadline and not found:
        found = [p for p in cups_pdf_folder.glob("PaperFallback_pack*-job_*.pdf")
                 if p.stat().st_mtime >= since]
        time.sleep(0.2)
    assert found, "the QPrinter job did not reach the queue"
    newest = max(found, key=lambda p: p.stat().st_mtime)
    time.sleep(0.5)
    assert len(pypdf.PdfReader(newest).pages) == dialog.page_count  # one job, every page
