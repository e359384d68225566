"""A ward pack printed part by part, where no print system is at hand (the CUPS tests in
test_print_cups_parts.py cause the same faults for real): a printer that takes the first
parts and fails on the next, and a one-job (QPrinter) printer whose fault discards the
whole job. The register holds exactly the forms that are on paper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdf
import pytest
from pf_ui_helpers import open_ward_dialog, register_list

import paperfallback.render.pack_parts as pack_parts
import paperfallback.ui.pack_print as pack_print
from paperfallback.register import COVER_FORM_ID
from paperfallback.ui.printing import PrintFailed, PrintOutcome

KEY = "test-key-not-secret"


class ScriptedPrinter:
    """Takes parts until the ``fail_at``-th (from 1), which it refuses."""

    streaming = True

    def __init__(self, fail_at: int, *, one_job: bool = False) -> None:
        self.fail_at = fail_at
        self.one_job = one_job
        self.aborted = False
        self.received: list[tuple[int, str]] = []

    def send(self, pdf: bytes, pages: int, label: str) -> None:
        if len(self.received) + 1 == self.fail_at:
            self.aborted = self.one_job
            raise PrintFailed("the printer Ward3 went offline")
        assert len(pypdf.PdfReader(__import__("io").BytesIO(pdf)).pages) == pages
        self.received.append((pages, label))

    def close(self) -> None:
        return

    def outcome(self) -> PrintOutcome:
        return PrintOutcome("Ward3", "cups", sum(p for p, _ in self.received), 1)


@pytest.fixture
def printers(monkeypatch: pytest.MonkeyPatch) -> list[ScriptedPrinter]:
    """Each print gets the next scripted printer (fail_at 0: never fails)."""
    queue: list[ScriptedPrinter] = []
    monkeypatch.setattr(pack_print, "open_sender", lambda *_a, **_k: queue.pop(0))
    monkeypatch.setattr(pack_parts, "PART_PAGES", 1)  # the cover, then a patient a part
    return queue


def _print(dialog: Any, qtbot: Any, prompts: Any) -> None:
    prompts.printer_setup = lambda printer: printer.setPrinterName("Ward3")
    dialog.print_button.click()
    qtbot.waitUntil(lambda: not dialog.runner.busy() and dialog.output is not None
                    and not dialog.output.printing, timeout=60_000)


def test_a_printer_failing_part_way_then_the_rest_saved(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path,
        printers: list[ScriptedPrinter]) -> None:
    first = ScriptedPrinter(fail_at=3)
    printers.append(first)
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    dialog.set_forms(["news2"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    _print(dialog, qtbot, prompts)
    output = dialog.output
    parts = output.pack.parts
    assert [pages for pages, _ in first.received] == [parts[0].pages, parts[1].pages]
    assert first.received[1][1] == f"pages {parts[1].first_page}-{parts[1].last_page}"
    title, text = prompts.kinds("error")[-1][1:]
    assert title == "The pack was only PARTLY printed"
    assert f"Pages 1-{parts[1].last_page} went to " in text
    assert " (the cover sheet, Bed 1).\n" in text
    assert f"Pages {parts[2].first_page}-{dialog.page_count} did NOT print" in text
    assert "went offline" in text
    recorded = {i.instance_id for i in register_list(tiny_cache, KEY)}
    assert recorded == {f.instance_id for p in parts[:2] for f in p.issued}

    prompts.save_to = str(tmp_path / "rest")  # Save the rest… (".pdf" is added)
    assert dialog.save_button.text() == "&Save the rest…"
    dialog.save_button.click()
    qtbot.waitUntil(lambda: output.saved_to is not None, timeout=30_000)
    saved = pypdf.PdfReader(tmp_path / "rest.pdf")
    assert len(saved.pages) == dialog.page_count - parts[1].last_page
    assert parts[2].issued[0].instance_id in (saved.pages[0].extract_text() or "")
    assert {i.instance_id for i in register_list(tiny_cache, KEY)} == {
        i.instance_id for i in output.pack.issued}
    assert dialog.save_button.text() == "&Save PDF…"


def test_a_one_job_printer_whose_fault_discards_the_job_records_nothing(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any,
        printers: list[ScriptedPrinter]) -> None:
    printers.append(ScriptedPrinter(fail_at=2, one_job=True))
    printers.append(ScriptedPrinter(fail_at=0))
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot)
    _print(dialog, qtbot, prompts)
    title, text = prompts.kinds("error")[-1][1:]
    assert title == "The pack was NOT printed"
    assert "cancelled the whole job" in text and "Do not use them" in text
    assert register_list(tiny_cache, KEY) == []
    assert dialog.print_button.text() == "&Print…"  # the whole pack, same IDs
    _print(dialog, qtbot, prompts)  # on another printer: every part, in order
    assert dialog.output.outcome is not None
    assert len(printers) == 0
    assert {i.instance_id for i in register_list(tiny_cache, KEY)} == {
        i.instance_id for i in dialog.output.pack.issued}
    assert dialog.output.pack.issued[0].form_id == COVER_FORM_ID
