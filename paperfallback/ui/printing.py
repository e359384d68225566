"""Send a rendered PDF to a printer without ballooning the spool.

Three paths, best first:

1. The print dialog chose "print to file" (QPrinter's PDF output): write the PDF as it is.
2. CUPS (Linux, macOS): hand the PDF itself to the queue with ``lp`` on its standard input,
   so the spool holds the same ~20 KB per page that was rendered. Painting each page as a
   full-resolution image instead makes about 4 MB per page, which a ward printer takes
   minutes to swallow.
3. Elsewhere (Windows GDI printers): rasterise page by page at the printer's resolution
   (at most RASTER_MAX_DPI), on the worker thread, never holding more than one page image.

A ward pack reaches the printer part by part as it is drawn (``open_sender``: issue #15),
so the printer starts on the cover sheet while the patients' forms are still drawn.

Runs on a worker thread (``BackgroundTask``); the printer's settings are copied out of the
QPrinter on the UI thread first (``PrinterChoice``). Any failure raises ``PrintFailed`` with
a message a nurse can act on: a print must never fail silently.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.ui.background import TaskControl

LP_TIMEOUT_S = 120
# Rasterised pages: the printer's own resolution, but never above this. 300 dpi keeps small
# print and the QR code sharp; 600 dpi would quadruple the spool for no gain on a form.
RASTER_MAX_DPI = 300


class PrintFailed(PaperFallbackError):
    """The pack did not reach the printer; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class PrinterChoice:
    """What the worker needs from the QPrinter the user set up (QPrinter stays on the UI
    thread)."""

    name: str
    copies: int = 1
    output_file: str = ""  # "print to file" in the dialog
    resolution_dpi: int = 300
    duplex: bool = False

    @classmethod
    def from_printer(cls, printer: QPrinter, *, copies: int = 1) -> PrinterChoice:
        output = ""
        if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat:
            output = printer.outputFileName()
        return cls(
            name=printer.printerName(),
            copies=max(1, copies) * max(1, printer.copyCount()),
            output_file=output,
            resolution_dpi=printer.resolution(),
            duplex=printer.duplex() != QPrinter.DuplexMode.DuplexNone,
        )


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    printer: str
    method: str  # "pdf file", "cups", "raster"
    pages: int
    copies: int
    job_id: str = ""  # the first CUPS job
    spool_bytes: int = 0
    job_ids: tuple[str, ...] = ()  # every CUPS job, in order (one per part of a pack)

    def describe(self) -> str:
        copies = f" × {self.copies} copies" if self.copies > 1 else ""
        if self.method == "pdf file":
            return f"Saved {self.pages} pages{copies} to {self.printer}."
        job = f" as job {self.job_id}" if self.job_id else ""
        if len(self.job_ids) > 1:
            job = f" as {len(self.job_ids)} jobs ({self.job_ids[0]} to {self.job_ids[-1]})"
        return (f"Sent {self.pages} pages{copies} to {self.printer}{job}. Check that all "
                f"{self.pages * self.copies} pages come out.")


def cups_available() -> bool:
    return shutil.which("lp") is not None and shutil.which("lpstat") is not None


def cups_queue_state(name: str) -> str | None:
    """'idle', 'printing', 'disabled' ... for a CUPS queue, or None when CUPS does not know
    it (then it is not a CUPS printer)."""
    try:
        result = subprocess.run(["lpstat", "-p", name], capture_output=True, text=True,
                                timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0 or not result.stdout.strip():
        return None
    text = result.stdout.lower()
    if "disabled" in text:
        return "disabled"
    match = re.search(r" is (\w+)", text)
    return match.group(1) if match else "unknown"


class PartSender(Protocol):
    """One print job of a pack, fed the pack's parts in order as they are drawn."""

    streaming: bool  # False: give it the whole pack in one send (a file, CUPS copies)
    aborted: bool  # a failure discarded what was sent before (one job for the whole pack)

    def send(self, pdf: bytes, pages: int, label: str) -> None:
        """Print ``pdf`` (``pages`` pages; ``label`` names them, e.g. "pages 25-48 of
        145"), or raise PrintFailed; nothing after a failure is sent."""

    def close(self) -> None:
        """End the job: what was sent prints (also after a failure or a cancel)."""

    def outcome(self) -> PrintOutcome:
        """What was sent, once every part was."""


def open_sender(choice: PrinterChoice, control: TaskControl, *,
                title: str = "PaperFallback pack", use_cups: bool | None = None) -> PartSender:
    """The job ``choice`` asks for, by the best path available (raises PrintFailed when
    the printer cannot take one: none set up, unknown, switched off)."""
    if choice.output_file:
        return _FileSender(choice, control)
    if not choice.name:
        raise PrintFailed("no printer is set up on this PC: ask IT to add the ward printer, or "
                          "use Save PDF and print it from another PC")
    state = cups_queue_state(choice.name) if use_cups is not False and cups_available() \
        else None
    if use_cups or (use_cups is None and state is not None):
        return _CupsSender(choice, control, title, state)
    return _RasterSender(choice, control)


def send_pdf(pdf: bytes, pages: int, choice: PrinterChoice, control: TaskControl, *,
             title: str = "PaperFallback pack", use_cups: bool | None = None) -> PrintOutcome:
    """Print ``pdf`` (``pages`` pages) as ``choice`` says, as one job."""
    sender = open_sender(choice, control, title=title, use_cups=use_cups)
    try:
        sender.send(pdf, pages, "")
    finally:
        sender.close()
    return sender.outcome()


class _FileSender:
    """"Print to file" in the dialog: the whole pack, written as it is."""

    streaming = False
    aborted = False

    def __init__(self, choice: PrinterChoice, control: TaskControl) -> None:
        self.choice = choice
        self.control = control
        self.pages = self.size = 0

    def send(self, pdf: bytes, pages: int, label: str) -> None:
        self.control.progress(0, 1, "Writing the PDF file…")
        try:
            with open(self.choice.output_file, "wb") as handle:
                handle.write(pdf)
        except OSError as exc:
            raise PrintFailed(f"could not write {self.choice.output_file}: "
                              f"{exc.strerror}") from exc
        self.pages, self.size = pages, len(pdf)

    def close(self) -> None:
        return

    def outcome(self) -> PrintOutcome:
        return PrintOutcome(self.choice.output_file, "pdf file", self.pages, 1,
                            spool_bytes=self.size)


class _CupsSender:
    """One ``lp`` job per part, in order: CUPS starts a job only once its document is
    complete (a PDF's cross-reference table is at its end), and holds a multi-document
    job (IPP Create-Job + Send-Document) until its last document has arrived, so only
    separate jobs let the printer start on the cover sheet while the patients are drawn.
    With more than one copy the pack goes as one job once drawn, so CUPS collates whole
    packs (parts sent with ``-n`` would come out part 1, part 1, part 2, part 2, …)."""

    aborted = False

    def __init__(self, choice: PrinterChoice, control: TaskControl, title: str,
                 state: str | None) -> None:
        self.choice = choice
        self.control = control
        self.title = title
        self.streaming = choice.copies == 1
        self.job_ids: list[str] = []
        self.pages = self.size = 0
        self._check_queue(state)

    def _check_queue(self, state: str | None = None) -> None:
        """Before each part: a queue switched off (paused) part-way would hold the rest."""
        if (state or cups_queue_state(self.choice.name)) == "disabled":
            raise PrintFailed(f"the printer {self.choice.name} is switched off in the print "
                              "system (disabled). Choose another printer or ask IT to enable it")

    def send(self, pdf: bytes, pages: int, label: str) -> None:
        if self.job_ids:
            self._check_queue()
        name = self.choice.name
        self.control.progress(0, 0, f"Sending {label or f'{pages} pages'} to {name}…")
        command = ["lp", "-d", name, "-n", str(self.choice.copies), "-t",
                   f"{self.title} {label}".strip()]
        if self.choice.duplex:
            command += ["-o", "sides=two-sided-long-edge"]
        result = run_lp([*command, "-"], pdf)
        if result.returncode != 0:
            reason = result.stderr.decode(errors="replace").strip() or (
                f"lp exit {result.returncode}")
            raise PrintFailed(f"the printer {name} refused the pages: {reason}")
        match = re.search(r"request id is (\S+)", result.stdout.decode(errors="replace"))
        self.job_ids.append(match.group(1) if match else "")
        self.pages += pages
        self.size += len(pdf)

    def close(self) -> None:
        return  # each part is a finished job already

    def outcome(self) -> PrintOutcome:
        ids = tuple(i for i in self.job_ids if i)
        return PrintOutcome(self.choice.name, "cups", self.pages, self.choice.copies,
                            job_id=ids[0] if ids else "", spool_bytes=self.size, job_ids=ids)


def run_lp(command: list[str], pdf: bytes) -> subprocess.CompletedProcess[bytes]:
    """``lp`` with the PDF on its standard input (the one place the app calls it)."""
    try:
        return subprocess.run(command, input=pdf, capture_output=True,
                              timeout=LP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PrintFailed(f"could not send to {command[2]}: {exc}") from exc


class _RasterSender:
    """One QPrinter job for the whole pack, one page image at a time at the printer's own
    resolution (never higher). The job opens on the first part, so a spooler that starts
    printing while spooling (Windows' default) starts on the cover sheet."""

    streaming = True
    aborted = False

    def __init__(self, choice: PrinterChoice, control: TaskControl) -> None:
        info = QPrinterInfo.printerInfo(choice.name)
        if info.isNull():
            raise PrintFailed(f"the printer {choice.name!r} is not available on this PC")
        self.choice = choice
        self.control = control
        self.printer = QPrinter(info, QPrinter.PrinterMode.HighResolution)
        self.printer.setResolution(min(choice.resolution_dpi or RASTER_MAX_DPI, RASTER_MAX_DPI))
        self.printer.setCopyCount(choice.copies)
        self.printer.setDocName("PaperFallback pack")
        self.painter: QPainter | None = None
        self.pages = 0

    def send(self, pdf: bytes, pages: int, label: str) -> None:
        self.control.progress(0, 0, f"Printing {label or f'{pages} pages'}…")
        data = QByteArray(pdf)
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        document = QPdfDocument()
        document.load(buffer)
        if document.status() != QPdfDocument.Status.Ready:
            raise PrintFailed("the rendered pack could not be read back for printing")
        if self.painter is None:
            painter = QPainter()
            if not painter.begin(self.printer):
                raise PrintFailed(f"the printer {self.choice.name} could not be opened")
            self.painter = painter
        try:
            dpi = self.printer.resolution()
            for page in range(document.pageCount()):
                if self.pages:
                    self.printer.newPage()
                size_pt = document.pagePointSize(page)
                pixels = QSize(round(size_pt.width() * dpi / 72),
                               round(size_pt.height() * dpi / 72))
                image = document.render(page, pixels).convertToFormat(
                    QImage.Format.Format_RGB888)  # no alpha channel to spool
                self.painter.drawImage(_fit(self.printer, pixels), image)
                del image  # one page image at a time
                self.pages += 1
        except BaseException:  # a page half drawn: the print system discards the job
            self.printer.abort()
            self.aborted = True
            raise
        finally:
            document.close()

    def close(self) -> None:
        if self.painter is not None:
            self.painter.end()
            self.painter = None

    def outcome(self) -> PrintOutcome:
        return PrintOutcome(self.choice.name, "raster", self.pages, self.choice.copies)


def _fit(printer: QPrinter, pixels: QSize) -> QRectF:
    """The page image scaled into the printable area, keeping its shape (never cropped:
    the banner and the QR code sit near the edges). Painter origin = printable area."""
    area = printer.pageLayout().paintRectPixels(printer.resolution())
    scale = min(area.width() / pixels.width(), area.height() / pixels.height())
    return QRectF(0, 0, pixels.width() * scale, pixels.height() * scale)
