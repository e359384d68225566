"""Send a rendered PDF to a printer without ballooning the spool.

Three paths, best first:

1. The print dialog chose "print to file" (QPrinter's PDF output): write the PDF as it is.
2. CUPS (Linux, macOS): hand the PDF itself to the queue with ``lp`` on its standard input,
   so the spool holds the same ~20 KB per page that was rendered. Painting each page as a
   full-resolution image instead makes about 4 MB per page, which a ward printer takes
   minutes to swallow.
3. Elsewhere (Windows GDI printers): rasterise page by page at the printer's resolution
   (at most RASTER_MAX_DPI), on the worker thread, never holding more than one page image.

Runs on a worker thread (``BackgroundTask``); the printer's settings are copied out of the
QPrinter on the UI thread first (``PrinterChoice``). Any failure raises ``PrintFailed`` with
a message a nurse can act on: a print must never fail silently.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

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
    job_id: str = ""
    spool_bytes: int = 0

    def describe(self) -> str:
        copies = f" × {self.copies} copies" if self.copies > 1 else ""
        if self.method == "pdf file":
            return f"Saved {self.pages} pages{copies} to {self.printer}."
        job = f" as job {self.job_id}" if self.job_id else ""
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


def send_pdf(pdf: bytes, pages: int, choice: PrinterChoice, control: TaskControl, *,
             title: str = "PaperFallback pack", use_cups: bool | None = None) -> PrintOutcome:
    """Print ``pdf`` (``pages`` pages) as ``choice`` says, by the best path available."""
    if choice.output_file:
        control.progress(0, 1, "Writing the PDF file…")
        try:
            with open(choice.output_file, "wb") as handle:
                handle.write(pdf)
        except OSError as exc:
            raise PrintFailed(f"could not write {choice.output_file}: {exc.strerror}") from exc
        return PrintOutcome(choice.output_file, "pdf file", pages, 1, spool_bytes=len(pdf))
    if not choice.name:
        raise PrintFailed("no printer is set up on this PC: ask IT to add the ward printer, or "
                          "use Save PDF and print it from another PC")
    if use_cups is None:
        use_cups = cups_available() and cups_queue_state(choice.name) is not None
    if use_cups:
        return _send_to_cups(pdf, pages, choice, control, title)
    return _rasterise(pdf, pages, choice, control)


def _send_to_cups(pdf: bytes, pages: int, choice: PrinterChoice, control: TaskControl,
                  title: str) -> PrintOutcome:
    state = cups_queue_state(choice.name)
    if state == "disabled":
        raise PrintFailed(f"the printer {choice.name} is switched off in the print system "
                          "(disabled). Choose another printer or ask IT to enable it")
    control.progress(0, 1, f"Sending to {choice.name}…")
    command = ["lp", "-d", choice.name, "-n", str(choice.copies), "-t", title]
    if choice.duplex:
        command += ["-o", "sides=two-sided-long-edge"]
    try:
        result = subprocess.run([*command, "-"], input=pdf, capture_output=True,
                                timeout=LP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PrintFailed(f"could not send to {choice.name}: {exc}") from exc
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip() or f"lp exit {result.returncode}"
        raise PrintFailed(f"the printer {choice.name} refused the pack: {reason}")
    match = re.search(r"request id is (\S+)", result.stdout.decode(errors="replace"))
    control.progress(1, 1, "Sent.")
    return PrintOutcome(choice.name, "cups", pages, choice.copies,
                        job_id=match.group(1) if match else "", spool_bytes=len(pdf))


def _rasterise(pdf: bytes, pages: int, choice: PrinterChoice,
               control: TaskControl) -> PrintOutcome:
    """One page image at a time, at the printer's own resolution (never higher)."""
    info = QPrinterInfo.printerInfo(choice.name)
    if info.isNull():
        raise PrintFailed(f"the printer {choice.name!r} is not available on this PC")
    printer = QPrinter(info, QPrinter.PrinterMode.HighResolution)
    printer.setResolution(min(choice.resolution_dpi or RASTER_MAX_DPI, RASTER_MAX_DPI))
    printer.setCopyCount(choice.copies)
    printer.setDocName("PaperFallback pack")
    data = QByteArray(pdf)
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    document.load(buffer)
    if document.status() != QPdfDocument.Status.Ready:
        raise PrintFailed("the rendered pack could not be read back for printing")
    painter = QPainter()
    if not painter.begin(printer):
        raise PrintFailed(f"the printer {choice.name} could not be opened")
    try:
        dpi = printer.resolution()
        count = document.pageCount()
        for page in range(count):
            control.progress(page, count, f"Printing page {page + 1} of {count}…")
            if page:
                printer.newPage()
            size_pt = document.pagePointSize(page)
            pixels = QSize(round(size_pt.width() * dpi / 72), round(size_pt.height() * dpi / 72))
            image = document.render(page, pixels).convertToFormat(
                QImage.Format.Format_RGB888)  # no alpha channel to spool
            painter.drawImage(_fit(printer, pixels), image)
            del image  # one page image at a time
    except BaseException:
        printer.abort()
        raise
    finally:
        painter.end()
        document.close()
    return PrintOutcome(choice.name, "raster", pages, choice.copies)


def _fit(printer: QPrinter, pixels: QSize) -> QRectF:
    """The page image scaled into the printable area, keeping its shape (never cropped:
    the banner and the QR code sit near the edges). Painter origin = printable area."""
    area = printer.pageLayout().paintRectPixels(printer.resolution())
    scale = min(area.width() / pixels.width(), area.height() / pixels.height())
    return QRectF(0, 0, pixels.width() * scale, pixels.height() * scale)
