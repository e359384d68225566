"""Preview, print or save one rendered pack, recording its forms in the register only
once they have really been printed (spooled without error) or saved.

One ``PackOutput`` is one print job: Preview, Print and Save PDF of the same choice reuse
it (``is_job_for``), so they share one set of form IDs, recorded once; a changed choice or
a new extract is a new job, rendered anew with new IDs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtPrintSupport import QPrinter, QPrinterInfo
from PySide6.QtWidgets import QWidget

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.settings import Settings
from paperfallback.ui.pack_jobs import (
    PackChoice,
    PackPart,
    RenderedPack,
    RenderPlace,
    join_parts,
    record_forms,
)
from paperfallback.ui.pack_print import (
    LOST_TEXT,
    PrintRun,
    page_range,
    partly_printed_text,
    print_parts_job,
)
from paperfallback.ui.preview import PreviewDialog
from paperfallback.ui.printing import PrinterChoice, PrintOutcome

if TYPE_CHECKING:
    from paperfallback.ui.main_window import MainWindow



def extract_time(window: MainWindow) -> object:
    """When the extract the window shows was imported (a new one means a new job)."""
    status = window.status
    return status.imported_at if status is not None else None


def remembered_printer(settings: Settings, ward_code: str) -> str:
    return settings.ward_printers.get(ward_code) or settings.default_printer


def ask_printer(window: MainWindow, parent: QWidget, settings: Settings,
                choice: PackChoice) -> PrinterChoice | None:
    """The system print dialog, on the ward's printer when it is known; None: cancelled."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setDocName(choice.title)
    wanted = remembered_printer(settings, choice.ward_code)
    if wanted and wanted in QPrinterInfo.availablePrinterNames():
        printer.setPrinterName(wanted)
    if not window.prompts.choose_printer(parent, printer):
        return None
    return PrinterChoice.from_printer(printer)


def record_sent(window: MainWindow, place: RenderPlace, run: PrintRun, parent: QWidget) -> None:
    """Record the forms whose pages reached the printer, and only those (keying finds
    every form on paper; none that never printed)."""
    try:
        record_forms(place, run.sent_forms)
    except PaperFallbackError as exc:
        window.prompts.error(
            parent, "Printed, but not recorded",
            f"The pages were printed but the register could not record them: {exc}. "
            "Tell IT; keep the paper.")


class PackOutput:
    """One rendered pack and what the user does with it."""

    def __init__(self, window: MainWindow, place: RenderPlace, pack: RenderedPack, *,
                 on_finished: Callable[[str], None] | None = None,
                 extract: object = None) -> None:
        self.window = window
        self.extract = extract  # extract_time() when the render started
        self.place = place
        self.pack = pack
        self.on_finished = on_finished
        self.outcome: PrintOutcome | None = None
        self.saved_to: Path | None = None
        self.error: str = ""
        self.printing = False
        self.preview_dialog: PreviewDialog | None = None
        self.printed_parts = 0  # of pack.parts, on paper (or saved) after a partial print

    def is_job_for(self, choice: PackChoice) -> bool:
        """Preview, Print or Save of ``choice`` is this job again (same pages, same IDs)."""
        return self.pack.choice == choice and self.extract == extract_time(self.window)

    # ---- preview ----------------------------------------------------------------------

    def preview(self, parent: QWidget) -> PreviewDialog:
        dialog = PreviewDialog(parent, title=self.pack.choice.title, pdf=self.pack.pdf,
                               on_print=self.print, on_save=self.save)
        self.preview_dialog = dialog
        dialog.show()
        return dialog

    @property
    def rest(self) -> tuple[PackPart, ...]:
        """The parts not printed when a print stopped part-way (else nothing): what Print
        and Save PDF then offer ("Print the rest…", "Save the rest…")."""
        done = self.printed_parts
        return self.pack.parts[done:] if 0 < done < len(self.pack.parts) else ()

    # ---- save -------------------------------------------------------------------------

    def save(self, parent: QWidget) -> bool:
        rest = self.rest
        stem = self.pack.choice.file_stem
        if rest:
            stem += f" pages {rest[0].first_page}-{rest[-1].last_page}"
        path = self.window.prompts.save_path(
            parent, "Save the rest of the pack as a PDF file" if rest
            else "Save the pack as a PDF file", str(Path.home() / f"{stem}.pdf"))
        if not path:
            return False
        target = Path(path if path.lower().endswith(".pdf") else f"{path}.pdf")
        try:
            target.write_bytes(join_parts(rest) if rest else self.pack.pdf)
            record_forms(self.place, [f for p in rest for f in p.issued] if rest
                         else self.pack.issued)
        except (OSError, PaperFallbackError) as exc:
            self.error = f"NOT SAVED: {getattr(exc, 'strerror', None) or exc}"
            self.window.prompts.error(parent, "The PDF was not saved", self.error)
            return False
        self.saved_to = target
        if rest:
            self.printed_parts = len(self.pack.parts)  # the rest is in the file now
            self._finish(f"Saved {page_range(rest[0].first_page, rest[-1].last_page)} "
                         f"({sum(p.pages for p in rest)} pages) to {target}.")
        else:
            self._finish(f"Saved {self.pack.page_count} pages to {target}.")
        return True

    # ---- print ------------------------------------------------------------------------

    def print(self, parent: QWidget) -> None:
        """Print the pack (or the rest of it, after a print that stopped part-way)."""
        if self.printing:
            return
        choice = ask_printer(self.window, parent, self.place.settings, self.pack.choice)
        if choice is None:
            return
        rest = self.rest
        parts = rest or self.pack.parts
        before = self.printed_parts if rest else 0
        run = PrintRun(choice.output_file or choice.name)
        job = print_parts_job(parts, choice, run, title=self.pack.choice.title)

        def ended(exc: BaseException | None) -> None:
            self.printing = False
            self.after_run(run, parent, choice, before=before, crash=exc)

        self.printing = True
        pages = sum(p.pages for p in parts)
        self.window.statusBar().showMessage(f"Sending {pages} pages to "
                                            f"{choice.output_file or choice.name}…")
        self.window.run_task(job, on_success=lambda _run: ended(None), on_failure=ended)

    def after_run(self, run: PrintRun, parent: QWidget, choice: PrinterChoice, *,
                  before: int = 0, crash: BaseException | None = None) -> None:
        """After a print of this pack (whole, part by part, or the rest): record the forms
        that reached the printer and tell the nurse; a partial print leaves the rest to
        print or save (``rest``)."""
        if crash is not None and not run.failure:
            run.failure = str(crash) if isinstance(crash, PaperFallbackError) else repr(crash)
        record_sent(self.window, self.place, run, parent)
        self.printed_parts = max(self.printed_parts, before + run.sent)
        if run.outcome is not None and not run.failure:
            self.outcome = run.outcome
            self.error = ""
            if not choice.output_file:
                self._remember_printer(choice.name)
            self._finish(run.outcome.describe())
            return
        if run.sent:
            rest = page_range(run.parts[run.sent].first_page, self.pack.page_count)
            self.error = f"PARTLY PRINTED: {rest} did NOT print"
            title = "The pack was only PARTLY printed"
            text = partly_printed_text(run, self.pack.page_count)
        else:
            self.error = f"NOT PRINTED: {run.failure}"
            title = "The pack was NOT printed"
            text = f"{self.error}\n\n" + (LOST_TEXT if run.lost else "") + (
                "Try another printer, or Save PDF.")
        self.window.statusBar().showMessage(self.error)
        self.window.prompts.error(parent, title, text)
        if self.on_finished is not None:
            self.on_finished(self.error)

    def _remember_printer(self, name: str) -> None:
        """The ward's printer is offered first next time (settings.json, ward_printers)."""
        ward = self.pack.choice.ward_code
        if not name or not ward:
            return
        folder = self.place.data_dir
        try:
            settings = Settings.load(folder)
            if settings.ward_printers.get(ward) == name:
                return
            settings.ward_printers[ward] = name
            if not settings.default_printer:
                settings.default_printer = name
            settings.save(folder)
            self.place.settings.ward_printers[ward] = name
        except (PaperFallbackError, OSError):
            return  # remembering is a convenience; the print itself succeeded

    def _finish(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 30_000)
        if self.on_finished is not None:
            self.on_finished(message)
