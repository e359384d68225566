"""Print a pack part by part, each part as soon as it is drawn (issue #15), and keep count
of what reached the printer, so a print that stops part-way says which pages did not print
and the register records exactly the forms that are on paper.

A ``PrintRun`` is written by the worker thread and read on the UI thread once the task has
ended, whatever the ending (success, failure, cancel): the parts sent before a cancel or a
crash are still known.

When a part cannot be sent (the queue refused it, was switched off, the printer went), no
later part is sent (the pages must not come out with a gap), but the rest of the pack is
still drawn, with the same form IDs, so the nurse can print the rest on another printer or
save it as a PDF.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.register import COVER_FORM_ID, IssuedForm
from paperfallback.ui.background import Cancelled, TaskControl
from paperfallback.ui.pack_jobs import (
    PackChoice,
    PackPart,
    RenderedPack,
    RenderPlace,
    join_parts,
    render_job,
)
from paperfallback.ui.printing import PartSender, PrinterChoice, PrintOutcome, open_sender


@dataclass
class PrintRun:
    """How far one print of a pack got."""

    printer: str
    parts: list[PackPart] = field(default_factory=list)  # to send, in order
    sent: int = 0  # parts[:sent] reached the printer
    failure: str = ""  # why the part after them did not
    lost: bool = False  # the failure discarded the parts sent before (one raster job)
    outcome: PrintOutcome | None = None  # every part was sent
    pack: RenderedPack | None = None  # the whole pack, once drawn

    @property
    def sent_forms(self) -> list[IssuedForm]:
        return [form for part in self.parts[:self.sent] for form in part.issued]

    @property
    def sent_pages(self) -> tuple[int, int] | None:
        """First and last page (of the pack) sent, or None."""
        if not self.sent:
            return None
        return self.parts[0].first_page, self.parts[self.sent - 1].last_page

    def deliver(self, sender: PartSender | None, parts: Sequence[PackPart],
                pdf: bytes | None = None) -> None:
        """Send ``parts`` (drawn; appended to this run) as one job, unless a part before
        them failed; a failure is noted, not raised (the rest is still drawn)."""
        self.parts.extend(parts)
        if sender is None or self.failure or not parts:
            return
        first, last = parts[0].first_page, parts[-1].last_page
        try:
            sender.send(pdf if pdf is not None else join_parts(parts), last - first + 1,
                        f"pages {first}-{last}")
        except Cancelled:
            raise
        except Exception as exc:  # any fault stops the sending; the nurse is told
            self.failure = str(exc) if isinstance(exc, PaperFallbackError) else repr(exc)
            if sender.aborted:
                self.lost, self.sent = True, 0
            return
        self.sent += len(parts)


def print_parts_job(parts: Sequence[PackPart], printer: PrinterChoice, run: PrintRun, *,
                    title: str) -> Callable[[TaskControl], PrintRun]:
    """Print parts already drawn (a pack previewed first, or the rest of one)."""

    def job(control: TaskControl) -> PrintRun:
        try:
            sender = open_sender(printer, control, title=title)
        except PaperFallbackError as exc:  # PrintFailed: no printer, unknown, switched off
            run.parts.extend(parts)
            run.failure = str(exc)
            return run
        try:
            if sender.streaming:
                for part in parts:
                    control.check()
                    run.deliver(sender, [part])
            else:
                run.deliver(sender, parts)
        finally:
            sender.close()
        if not run.failure:
            run.outcome = sender.outcome()
        return run

    return job


def draw_and_print_job(choice: PackChoice, place: RenderPlace, printer: PrinterChoice,
                       run: PrintRun) -> Callable[[TaskControl], PrintRun]:
    """Draw ``choice`` and send each part to ``printer`` as soon as it is drawn."""

    def job(control: TaskControl) -> PrintRun:
        sender: PartSender | None = None
        try:
            sender = open_sender(printer, control, title=choice.title)
        except PaperFallbackError as exc:  # still drawn: Save PDF or another printer
            run.failure = str(exc)
        streaming = sender is not None and sender.streaming
        try:
            pack = render_job(choice, place, on_part=(
                (lambda part: run.deliver(sender, [part])) if streaming else None))(control)
            if not streaming:
                run.deliver(sender, pack.parts, pack.pdf)
        finally:
            if sender is not None:
                sender.close()
        run.pack = pack
        if sender is not None and not run.failure:
            run.outcome = sender.outcome()
        return run

    return job


LOST_TEXT = ("The print system cancelled the whole job: pages that came out before the "
             "fault are not recorded. Do not use them; print the pack again.\n\n")


def page_range(first: int, last: int) -> str:
    """'page 3' or 'pages 3-7' (typed as a nurse would read it off the status bar)."""
    return f"page {first}" if first == last else f"pages {first}-{last}"


def _beds(parts: Sequence[PackPart]) -> str:
    """' (the cover sheet, Bed 1 to Bed 9)': where the pages belong on the ward."""
    forms = [f for part in parts for f in part.issued]
    beds = [f.bed if f.bed.casefold().startswith("bed") else f"bed {f.bed}"
            for f in forms if f.bed]
    where = ["the cover sheet"] if any(f.form_id == COVER_FORM_ID for f in forms) else []
    if beds:
        where.append(beds[0] if beds[0] == beds[-1] else f"{beds[0]} to {beds[-1]}")
    if any(f.patient_id is None and f.scope in ("patient", "blank") for f in forms):
        where.append("blank forms")
    return f" ({', '.join(where)})" if where else ""


def partly_printed_text(run: PrintRun, total: int) -> str:
    """What the nurse is told when some parts reached the printer and the rest did not."""
    sent, unsent = run.parts[:run.sent], run.parts[run.sent:]
    done = page_range(sent[0].first_page, sent[-1].last_page)
    rest = page_range(unsent[0].first_page if unsent else sent[-1].last_page + 1, total)
    return (f"{done.capitalize()} went to {run.printer}{_beds(sent)}.\n"
            f"{rest.capitalize()} did NOT print{_beds(unsent)}: "
            f"{run.failure.rstrip('.')}.\n\n"
            f"Print the rest… sends {rest} to this or another printer; Save the rest… saves "
            f"them as a PDF file. The forms on {done} are recorded as printed; the others "
            "only once they are printed or saved.")


def stopped_text(run: PrintRun, reason: str) -> str:
    """A print stopped before the pack was drawn (cancelled, or the drawing failed)."""
    if not run.sent:
        return f"{reason}: nothing was printed."
    done = page_range(run.parts[0].first_page, run.parts[run.sent - 1].last_page)
    return (f"{reason} after {done} went to {run.printer}{_beds(run.parts[:run.sent])}: the "
            f"pages after that were not printed. The forms on {done} are recorded as "
            "printed; Print again prints the whole pack with new form IDs.")
