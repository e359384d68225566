"""Preview, print or save one rendered pack, recording its forms in the register only
once they have really been printed (spooled without error) or saved.

One ``PackOutput`` is one print job: Preview, Print and Save PDF of the same choice reuse
it (``is_job_for``), so they share one set of form IDs, recorded once; a changed choice or
a new extract is a new job, rendered anew with new IDs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtPrintSupport import QPrinter, QPrinterInfo
from PySide6.QtWidgets import QWidget

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.settings import Settings
from paperfallback.ui.background import TaskControl
from paperfallback.ui.pack_jobs import PackChoice, RenderedPack, RenderPlace, record_issued
from paperfallback.ui.preview import PreviewDialog
from paperfallback.ui.printing import PrinterChoice, PrintOutcome, send_pdf

if TYPE_CHECKING:
    from paperfallback.ui.main_window import MainWindow



def extract_time(window: MainWindow) -> object:
    """When the extract the window shows was imported (a new one means a new job)."""
    status = window.status
    return status.imported_at if status is not None else None


def remembered_printer(settings: Settings, ward_code: str) -> str:
    return settings.ward_printers.get(ward_code) or settings.default_printer


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

    # ---- save -------------------------------------------------------------------------

    def save(self, parent: QWidget) -> bool:
        suggested = str(Path.home() / f"{self.pack.choice.file_stem}.pdf")
        path = self.window.prompts.save_path(parent, "Save the pack as a PDF file", suggested)
        if not path:
            return False
        target = Path(path if path.lower().endswith(".pdf") else f"{path}.pdf")
        try:
            target.write_bytes(self.pack.pdf)
            record_issued(self.place, self.pack)
        except (OSError, PaperFallbackError) as exc:
            self.error = f"NOT SAVED: {getattr(exc, 'strerror', None) or exc}"
            self.window.prompts.error(parent, "The PDF was not saved", self.error)
            return False
        self.saved_to = target
        self._finish(f"Saved {self.pack.page_count} pages to {target}.")
        return True

    # ---- print ------------------------------------------------------------------------

    def print(self, parent: QWidget) -> None:
        if self.printing:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(self.pack.choice.title)
        wanted = remembered_printer(self.place.settings, self.pack.choice.ward_code)
        if wanted and wanted in QPrinterInfo.availablePrinterNames():
            printer.setPrinterName(wanted)
        if not self.window.prompts.choose_printer(parent, printer):
            return
        choice = PrinterChoice.from_printer(printer)
        pdf, pages, title = self.pack.pdf, self.pack.page_count, self.pack.choice.title

        def job(control: TaskControl) -> PrintOutcome:
            return send_pdf(pdf, pages, choice, control, title=title)

        def succeeded(outcome: Any) -> None:
            self.printing = False
            self.outcome = outcome
            try:
                record_issued(self.place, self.pack)
            except PaperFallbackError as exc:
                self.window.prompts.error(
                    parent, "Printed, but not recorded",
                    f"The pack was printed but the register could not record it: {exc}. "
                    "Tell IT; keep the paper.")
            if not choice.output_file:
                self._remember_printer(choice.name)
            self._finish(outcome.describe())

        def failed(exc: BaseException) -> None:
            self.printing = False
            reason = str(exc) if isinstance(exc, PaperFallbackError) else repr(exc)
            self.error = f"NOT PRINTED: {reason}"
            self.window.statusBar().showMessage(self.error)
            self.window.prompts.error(parent, "The pack was NOT printed",
                                      f"{self.error}\n\nTry another printer, or Save PDF.")

        self.printing = True
        self.window.statusBar().showMessage(f"Sending {pages} pages to "
                                            f"{choice.output_file or choice.name}…")
        self.window.run_task(job, on_success=succeeded, on_failure=failed)

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
