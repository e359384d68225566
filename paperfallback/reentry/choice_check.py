"""Ticks on a returned page: offered to the clerk to confirm, and checked against the key.

``scan.choice_marks`` says what the tick squares of each choice / tickbox field show. Here
that reading meets keying, with one rule for every path (the keying screen, ``scans
check``):

- a clear tick is a *suggestion*: shown in the field for the clerk to confirm or overwrite,
  never saved as keyed until confirmed (hazard TICK-1);
- an unclear reading (two ticks, a filled-in box, a faint mark) is a note to look at the
  paper, never a value (TICK-2);
- a keyed value that differs from a clear tick, or a clear tick with nothing keyed, is a
  ``paper_mark`` discrepancy for a person ("Sex keyed M (Male) but the tick is in F
  (Female)"), like a NEWS2 band mark; keying the ticked value closes it.

The reading comes from the image only, never from another pass, so blind double entry
stays blind: each pass is offered the same suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paperfallback.formspec import FieldSpec, FormCatalogue
from paperfallback.formspec.vocabulary import TICKED_VALUE
from paperfallback.reentry.layout import FormLayout
from paperfallback.reentry.model import DiscrepancyKind, Entry, EntryState, FieldAddress
from paperfallback.reentry.printed import issued_layout
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workflow import final_entries
from paperfallback.register.store import IssuedForm
from paperfallback.scan.choice_marks import ChoiceMark, FormMarks, read_form_marks
from paperfallback.scan.store import ScanStore

SCAN_SOURCE = "scan-confirmed"  # the audit source of a value the clerk confirmed from a tick


@dataclass(frozen=True, slots=True)
class ScanSuggestion:
    """What the tick squares of one field say, for the clerk keying it."""

    address: FieldAddress
    page: int
    value: str | None  # the canonical value ticked; None when the paper is unclear
    text: str  # what the field shows and Enter confirms: the printed code, or "Y"
    shown: str  # "F – Female", "ticked"
    note: str  # unclear: what to look at on the paper

    @property
    def status(self) -> str:
        """The line the screen shows for the field."""
        if self.value is None:
            return f"From the scan (page {self.page}): {self.note}"
        return (f"From the scan (page {self.page}): {self.shown} — Enter confirms, "
                "typing overwrites")


@dataclass(frozen=True, slots=True)
class ChoiceFinding:
    """A clear tick that disagrees with what was keyed."""

    address: FieldAddress
    page: int
    place: str  # 'Outcome (row 3)', as the screen and the paper name the field
    keyed: str | None  # canonical; None: nothing keyed
    keyed_shown: str | None
    marked: str
    marked_shown: str

    @property
    def message(self) -> str:
        if self.keyed is None:
            return f"{self.place}: nothing keyed but the tick is in {self.marked_shown}"
        return f"{self.place} keyed {self.keyed_shown} but the tick is in {self.marked_shown}"

    def to_json(self) -> dict[str, Any]:
        return {"form_id": self.address.instance_id, "section": self.address.section,
                "row": self.address.index, "field": self.address.field_id,
                "page": self.page, "keyed": self.keyed, "marked": self.marked,
                "message": self.message}


@dataclass
class ChoiceReport:
    findings: list[ChoiceFinding] = field(default_factory=list)
    fields_read: int = 0  # choice / tickbox fields whose squares were read
    unclear: list[tuple[str, ChoiceMark]] = field(default_factory=list)  # (place, reading)
    pages_unregistered: list[int] = field(default_factory=list)


def spoken(spec: FieldSpec, value: str) -> str:
    """A canonical value as a person reads it: 'O2 (Oxygen)', 'ticked'."""
    if spec.type == "tickbox":
        return "ticked" if value == TICKED_VALUE else "not ticked"
    choice = spec.choice(value)
    if choice is None or choice.label.casefold() == choice.code.casefold():
        return value
    return f"{choice.code} ({choice.label})"


def _spec(layout: FormLayout, mark: ChoiceMark) -> FieldSpec | None:
    """The keyed field a reading belongs to; None for one the keying layout lacks."""
    try:
        section = layout.section(mark.section)
        spec = section.field(mark.field)
    except KeyError:
        return None
    if mark.index >= section.count or spec.type not in ("choice", "tickbox"):
        return None
    return spec


def suggestions(layout: FormLayout, marks: FormMarks, instance_id: str
                ) -> dict[FieldAddress, ScanSuggestion]:
    """Every field whose squares carry a mark: a value to confirm, or a note."""
    found: dict[FieldAddress, ScanSuggestion] = {}
    for mark in marks.marks:
        spec = _spec(layout, mark)
        if spec is None or (mark.value is None and not mark.note):
            continue
        address = FieldAddress(instance_id, mark.section, mark.index, mark.field)
        if mark.value is None:
            found[address] = ScanSuggestion(address, mark.page, None, "", "", mark.note)
            continue
        text = "Y" if spec.type == "tickbox" else mark.value
        found[address] = ScanSuggestion(address, mark.page, mark.value, text,
                                        spoken(spec, mark.value), "")
    return found


def compare(layout: FormLayout, mark: ChoiceMark, instance_id: str, entry: Entry | None
            ) -> ChoiceFinding | None:
    """The one rule: a clear tick against the value keyed for its field. None when they
    agree, when the tick is unclear or absent, or when the clerk keyed the paper as
    illegible / not recorded (they looked at it already)."""
    spec = _spec(layout, mark)
    if spec is None or mark.value is None:
        return None
    if entry is not None and entry.state is not EntryState.VALUE:
        return None
    keyed = entry.value if entry is not None else None
    if keyed == mark.value:
        return None
    address = FieldAddress(instance_id, mark.section, mark.index, mark.field)
    return ChoiceFinding(address, mark.page,
                         layout.place_of(mark.section, mark.index, mark.field), keyed,
                         spoken(spec, keyed) if keyed is not None else None, mark.value,
                         spoken(spec, mark.value))


def record(store: EntriesStore, address: FieldAddress, finding: ChoiceFinding | None, *,
           clerk: str) -> None:
    """Raise the finding as an open discrepancy, or close the one this field had when
    the keyed value now agrees with the tick."""
    if finding is None:
        store.close_discrepancy(DiscrepancyKind.PAPER_MARK, address, by=clerk or "system",
                                note="keyed value now agrees with the tick on the paper")
        return
    store.raise_discrepancy(DiscrepancyKind.PAPER_MARK, address,
                            {"message": finding.message, "page": str(finding.page),
                             "marked": finding.marked, "keyed": finding.keyed or ""})


def check_choice_marks(issued: IssuedForm, catalogue: FormCatalogue, scans: ScanStore,
                       entries: EntriesStore, *, raise_discrepancies: bool = True,
                       marks: FormMarks | None = None) -> ChoiceReport:
    """Compare every clear tick on the returned pages with the value that counts (the
    resolved one, else the first keying, as exported); unclear readings are listed for a
    person. A form nobody has keyed yet is not checked."""
    form = catalogue.get(issued.form_id)
    layout = issued_layout(form, issued)
    marks = marks if marks is not None else read_form_marks(issued, scans)
    report = ChoiceReport(pages_unregistered=list(marks.pages_unregistered))
    keyed = {e.address: e for e in final_entries(entries, issued.instance_id)}
    # Like the NEWS2 band check (only keyed columns), a table row is checked once
    # something in it was keyed; a row nobody has keyed yet is not 'missing a value'.
    rows_keyed = {(a.section, a.index) for a in keyed}
    for mark in marks.marks:
        if _spec(layout, mark) is None:
            continue
        report.fields_read += 1
        if mark.note:
            report.unclear.append((layout.place_of(mark.section, mark.index, mark.field), mark))
            continue
        if not keyed or (layout.section(mark.section).repeats
                         and (mark.section, mark.index) not in rows_keyed):
            continue
        address = FieldAddress(issued.instance_id, mark.section, mark.index, mark.field)
        finding = compare(layout, mark, issued.instance_id, keyed.get(address))
        if finding is not None:
            report.findings.append(finding)
    if raise_discrepancies:
        for finding in report.findings:
            record(entries, finding.address, finding, clerk="")
    return report
