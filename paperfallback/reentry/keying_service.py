"""The keying workflow of a printed form, without Qt: which form a typed or scanned ID
means, who may key which pass, what each clerk is shown, finishing a pass with the
required-field policy, and identifying the patient of a blank copy.

The keying window, the workbook importer and the ``entries`` commands all go through
this module, so the double-entry rules hold wherever the values come from. The window
only shows what :class:`OpenForm` returns.

Blind double entry (hazard R-ENT-6, issue #13 item 6): a form's pass has one owner, the
first clerk who keyed a value in it; nobody else can open that pass. A clerk who keyed
the first pass cannot key the second, and neither keying clerk can resolve. Until the
differences are resolved nothing from another pass is shown: no value, no NEWS2 total,
no discrepancy. Only the resolver sees both keyings, for the fields that differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.domain.records import Patient
from paperfallback.formspec import FormCatalogue, FormSpec
from paperfallback.reentry.choice_check import (
    SCAN_SOURCE,
    ScanSuggestion,
    compare,
    record,
    suggestions,
)
from paperfallback.reentry.layout import PATIENT_SECTION, FormLayout
from paperfallback.reentry.model import (
    Discrepancy,
    DiscrepancyKind,
    Entry,
    EntryPass,
    EntryState,
    FieldAddress,
    InstanceStatus,
)
from paperfallback.reentry.page_start import first_on_page
from paperfallback.reentry.patients import (
    PatientMatch,
    confirm_match,
    identify_blank_form,
    is_unconfirmed,
)
from paperfallback.reentry.printed import is_blank_copy, issued_layout
from paperfallback.reentry.printed_rows import printed_rows
from paperfallback.reentry.session import FieldOutcome, KeyingSession
from paperfallback.reentry.store import EntriesStore, InstanceRecord
from paperfallback.reentry.typed_id import LocatedForm, locate_form
from paperfallback.reentry.validation import KeyingContext, entry_state_of
from paperfallback.reentry.workflow import (
    double_entry_required,
    final_entries,
    finish_pass,
    open_differences,
    resolve,
)
from paperfallback.register import IssuedForm, Register
from paperfallback.scan.choice_marks import FormMarks, read_form_marks
from paperfallback.scan.store import ScanStore

PASS_NAMES = {EntryPass.FIRST: "first keying", EntryPass.SECOND: "blind second keying",
              EntryPass.RESOLVED: "resolving differences from the paper"}


def _same_person(a: str, b: str) -> bool:
    return bool(a.strip()) and a.strip().casefold() == b.strip().casefold()


def check_pass_allowed(record: InstanceRecord | None, instance_id: str, clerk: str,
                       entry_pass: EntryPass) -> None:
    """Refuse a pass this clerk may not key (blind double entry, fixed pass owners)."""
    if record is None:
        if entry_pass is EntryPass.RESOLVED:
            raise InputError(f"nothing has been keyed for form {instance_id}: there is "
                             "nothing to resolve")
        return
    first, second = record.first_clerk, record.second_clerk
    if entry_pass is EntryPass.FIRST and first and not _same_person(first, clerk):
        raise InputError(
            f"{first} keyed the first pass of {instance_id}; another clerk cannot open it. "
            "For double entry choose the blind second keying.")
    if entry_pass is EntryPass.SECOND:
        if _same_person(first, clerk):
            raise InputError(
                f"{clerk} keyed the first pass of {instance_id}: the second keying must be "
                "done blind by another clerk")
        if second and not _same_person(second, clerk):
            raise InputError(f"{second} is keying the second pass of {instance_id}; "
                             "another clerk cannot open it")
    if entry_pass is EntryPass.RESOLVED and (_same_person(first, clerk)
                                             or _same_person(second, clerk)):
        raise InputError(f"{clerk} keyed {instance_id}: a third person must resolve the "
                         "differences from the paper")


@dataclass(frozen=True, slots=True)
class Finished:
    """What finishing a pass did: ``done`` False when the clerk must confirm first."""

    done: bool
    message: str
    status: InstanceStatus | None = None
    missing: tuple[FieldAddress, ...] = ()
    patient: str = ""  # who a blank copy was identified as
    to_confirm: str = ""  # a name-only match the clerk must confirm (or reject)


@dataclass
class OpenForm:
    """One form opened by one clerk for one pass: what the screen may show and do."""

    service: KeyingService
    issued: IssuedForm
    form: FormSpec
    session: KeyingSession
    page: int | None = None
    _warned_missing: bool = field(default=False, repr=False)
    _warned_pending: bool = field(default=False, repr=False)
    _marks: FormMarks | None = field(default=None, repr=False)

    # ---- what the screen shows -----------------------------------------------------------

    @property
    def entry_pass(self) -> EntryPass:
        return self.session.entry_pass

    @property
    def layout(self) -> FormLayout:
        return self.session.layout

    @property
    def clerk(self) -> str:
        return self.session.clerk

    @property
    def instance_id(self) -> str:
        return self.issued.instance_id

    @property
    def blank_copy(self) -> bool:
        return is_blank_copy(self.form, self.issued)

    def title(self) -> str:
        who = self.issued.patient_name or ("blank form: identify the patient"
                                           if self.blank_copy else self.issued.ward_code)
        page = f" — page {self.page} of {self.issued.page_count}" if self.page else ""
        return f"{self.form.title} — {self.instance_id} — {who}{page}"

    def opened_message(self) -> str:
        return f"Opened {self.instance_id} ({PASS_NAMES[self.entry_pass]})."

    def start_point(self) -> FieldAddress | None:
        """Where the cursor goes: the scanned page's part of the form (where the renderer
        recorded drawing it: its first field, or after the last one keyed on that page;
        for a copy printed before that, a chart's columns on that page), else where
        keying stopped."""
        if self.page:
            found = first_on_page(self.session.addresses(), set(self.session.values()),
                                  self.issued, self.layout, self.page)
            if found is not None:
                return found
        if self.page and self.page > 1:
            for section in self.layout.sections:
                index = section.first_index_on_page(self.page)
                if index is not None and section.fields:
                    return self.session.address(section.id, index, section.fields[0].id)
        return self.session.resume_point()

    def differing(self) -> list[FieldAddress]:
        """Resolve pass: the fields whose two keyings differ and await the paper."""
        if self.entry_pass is not EntryPass.RESOLVED:
            return []
        return open_differences(self.service.store, self.instance_id)

    def editable(self, address: FieldAddress) -> bool:
        if self.entry_pass is EntryPass.RESOLVED:
            return address in set(self.differing())
        return True

    def shown_values(self) -> dict[FieldAddress, Entry]:
        """The values on screen: this pass's own only, until resolution; the resolver
        also sees the agreed values (read-only) and what was resolved already."""
        store = self.service.store
        own = {e.address: e for e in store.entries(self.instance_id, self.entry_pass)}
        if self.entry_pass is not EntryPass.RESOLVED:
            return own
        shown = {e.address: e for e in store.entries(self.instance_id, EntryPass.FIRST)}
        for address in self.differing():
            shown.pop(address, None)
        shown.update(own)
        return shown

    def hints(self) -> dict[FieldAddress, str]:
        """Resolve pass: both keyings of each difference, to check against the paper."""
        if self.entry_pass is not EntryPass.RESOLVED:
            return {}
        recorded = {d.address: d for d in self.service.store.discrepancies(
            self.instance_id, open_only=False) if d.kind is DiscrepancyKind.DOUBLE_ENTRY}
        return {a: (f"The two keyings differ ({recorded[a].detail.get('first')!r} / "
                    f"{recorded[a].detail.get('second')!r}): type what the paper says")
                for a in self.differing() if a in recorded}

    def row_texts(self) -> dict[tuple[str, int], str]:
        """What each pre-filled table row was printed with (a MAR row: medicine, dose,
        route and dose time), so a dose is keyed against the right drug."""
        cache = self.service.cache()
        rows = printed_rows(self.form, self.issued, cache)
        return {k: r.text for k, r in rows.items() if r.text}

    def visible_discrepancies(self) -> list[Discrepancy]:
        """Discrepancies this clerk may see: the first pass sees the totals its own values
        raised (NEWS2, running totals); the blind second pass sees none; the resolver all."""
        items = self.service.store.discrepancies(self.instance_id)
        if self.entry_pass is EntryPass.RESOLVED:
            return items
        if self.entry_pass is EntryPass.SECOND:
            return []
        return [d for d in items if d.kind is not DiscrepancyKind.DOUBLE_ENTRY]

    def status_text(self) -> str:
        record = self.service.store.instance(self.instance_id)
        status = record.status.value if record else "printed"
        if self.entry_pass is EntryPass.SECOND and record is not None and \
                record.status is not InstanceStatus.DRAFT:
            status = "second keying done" if record.second_done else "second keying"
        text = f"Status: {status}."
        pending = len(self.pending_suggestions())
        if pending:
            text += (f" {pending} value(s) read from the ticks on the scan to confirm (shown "
                     "dashed blue: Enter confirms, typing overwrites).")
        shown = self.visible_discrepancies()
        if shown:
            text += f" {len(shown)} open discrepancy(ies): " + "; ".join(
                f"{self.where(d.address)}: {d.describe()}" for d in shown[:3])
        return text

    def where(self, address: FieldAddress) -> str:
        """A field named as the paper names it: 'SpO2 (column 8)'."""
        return self.layout.place_of(address.section, address.index, address.field_id)

    # ---- keying --------------------------------------------------------------------------

    def enter(self, section_id: str, index: int, field_id: str, text: str) -> FieldOutcome:
        """Save what the clerk typed (or ? / -); the resolver's value resolves a difference."""
        if self.entry_pass is not EntryPass.RESOLVED:
            return self._check_tick(self.session.enter(section_id, index, field_id, text))
        address = self.session.address(section_id, index, field_id)
        if not self.editable(address):
            raise InputError(f"{self.where(address)}: the two keyings agree here; only "
                             "differences are resolved")
        state = entry_state_of(text)
        value = None
        shown = "[illegible]" if state is EntryState.ILLEGIBLE else "[not recorded]"
        if state is None:
            parsed = self.session.check(section_id, index, field_id, text)
            value, shown, state = parsed.canonical, parsed.shown, EntryState.VALUE
        status = resolve(self.service.store, address, value, state, by=self.clerk,
                         form_id=self.layout.form_id)
        return self._check_tick(FieldOutcome(address, state, shown, True,
                                             f"Resolved from the paper; form is "
                                             f"{status.value}"))

    # ---- ticks read from the returned page (issue #16 item 4) -----------------------------

    def scan_marks(self) -> FormMarks:
        """The tick squares of the returned pages, read once per opened form."""
        if self._marks is None:
            self._marks = self.service.read_marks(self.issued)
        return self._marks

    def scan_suggestions(self) -> dict[FieldAddress, ScanSuggestion]:
        """Fields whose printed tick squares carry a mark and that this pass has not keyed
        yet: a value for the clerk to confirm, or a note to look at the paper. Read from
        the image only, so the blind second pass is offered what the first was; nothing
        is saved until the clerk confirms (hazard TICK-1). The resolver keys from the paper."""
        if self.entry_pass is EntryPass.RESOLVED:
            return {}
        own = {e.address for e in self.service.store.entries(self.instance_id,
                                                              self.entry_pass)}
        return {a: s for a, s in suggestions(self.layout, self.scan_marks(),
                                             self.instance_id).items() if a not in own}

    def pending_suggestions(self) -> list[FieldAddress]:
        """Values read from the scan that the clerk has neither confirmed nor keyed."""
        return [a for a, s in self.scan_suggestions().items() if s.value is not None]

    def confirm_suggestion(self, section_id: str, index: int, field_id: str) -> FieldOutcome:
        """The clerk confirms the value read from the ticks (Enter on the suggestion): it
        is saved as keyed by this clerk, its audit source saying it came from the scan."""
        address = self.session.address(section_id, index, field_id)
        offered = suggestions(self.layout, self.scan_marks(), self.instance_id).get(address)
        if offered is None or offered.value is None:
            raise InputError(f"{self.where(address)}: no clear tick on the scan to confirm; "
                             "type what the paper says")
        if self.entry_pass is EntryPass.RESOLVED:
            raise InputError("the resolver types what the paper says")
        saved = self.session.enter(section_id, index, field_id, offered.text,
                                   source=SCAN_SOURCE)
        return self._check_tick(saved)

    def _check_tick(self, outcome: FieldOutcome) -> FieldOutcome:
        """A keyed value against a clear tick in its field's squares: a disagreement is a
        discrepancy for a person (TICK-3), keying the ticked value closes it. Not in the
        blind second pass: the comparison of the two keyings finds its differences."""
        address = outcome.address
        if self.entry_pass is EntryPass.SECOND:
            return outcome
        try:
            spec = self.layout.section(address.section).field(address.field_id)
        except KeyError:
            return outcome
        if spec.type not in ("choice", "tickbox"):
            return outcome  # no squares: the page is not even opened
        mark = self.scan_marks().by_place().get((address.section, address.index,
                                                 address.field_id))
        if mark is None or mark.value is None:
            return outcome
        store = self.service.store
        entry = store.entry(address, self.entry_pass)
        finding = compare(self.layout, mark, self.instance_id, entry)
        record(store, address, finding, clerk=self.clerk)
        if finding is None:
            return outcome
        return FieldOutcome(outcome.address, outcome.state, outcome.shown, outcome.changed,
                            outcome.notice or f"{finding.message}: check the paper (flagged)")

    def clear(self, section_id: str, index: int, field_id: str) -> bool:
        if self.entry_pass is EntryPass.RESOLVED:
            return False
        cleared = self.session.clear(section_id, index, field_id)
        if cleared and self.entry_pass is EntryPass.FIRST:
            # Keyed in error: its tick disagreement goes with it (scans check still finds
            # a tick with nothing keyed), and the suggestion is offered again.
            record(self.service.store, self.session.address(section_id, index, field_id),
                   None, clerk=self.clerk)
        return cleared

    def entry(self, address: FieldAddress) -> Entry | None:
        return self.service.store.entry(address, self.entry_pass)

    def missing_required(self) -> list[FieldAddress]:
        if self.entry_pass is EntryPass.RESOLVED:
            return []
        return self.session.missing_required()

    def finish(self, *, confirmed: bool = False) -> Finished:
        """Finish this pass. Required fields left empty are named (by their printed
        label) once; finishing again (or ``confirmed``) finishes anyway."""
        pending = [] if confirmed else self.pending_suggestions()
        if pending and not self._warned_pending:
            self._warned_pending = True
            names = ", ".join(self.where(a) for a in pending[:6])
            return Finished(False, f"{len(pending)} value(s) read from the scan are not "
                            f"confirmed: {names}. Press Enter in each to confirm it, or type "
                            "what the paper says; press Ctrl+Enter again to finish without "
                            "them.", missing=tuple(pending))
        missing = self.missing_required()
        if missing and not (confirmed or self._warned_missing):
            self._warned_missing = True
            names = ", ".join(self.where(a) for a in missing[:6])
            return Finished(False, f"{len(missing)} required field(s) are empty: {names}. "
                            "Type - where the paper has nothing, or press Ctrl+Enter again "
                            "to finish anyway.", missing=tuple(missing))
        store = self.service.store
        if self.entry_pass is EntryPass.RESOLVED:
            left = len(self.differing())
            return Finished(left == 0, f"{left} difference(s) still to resolve." if left
                            else "Every difference is resolved.",
                            store.instance(self.instance_id).status  # type: ignore[union-attr]
                            if store.instance(self.instance_id) else None)
        if store.instance(self.instance_id) is None:
            raise InputError(f"nothing has been keyed for form {self.instance_id}")
        patient = to_confirm = ""
        if self.entry_pass is EntryPass.FIRST and self.blank_copy:
            match = self.service.identify(self)
            patient = match.patient.display_name if match.patient else match.how
            if match.patient is not None and is_unconfirmed(match.how):
                to_confirm = describe_patient(match.patient)
                patient = f"{patient}? (to confirm)"
        record = store.instance(self.instance_id)
        status = finish_pass(
            store, self.instance_id, self.entry_pass, by=self.clerk,
            double_entry=double_entry_required(record, self.issued.form_id,
                                               self.service.double_entry_forms))
        if self.entry_pass is EntryPass.SECOND:
            # Blind: the second clerk learns the pass is done, not how it compared.
            return Finished(True, f"Second keying of {self.instance_id} is done. Scan or "
                            "type the next form ID.", None, patient=patient)
        if to_confirm:
            return Finished(True, f"{self.instance_id} is now {status.value}. The patient on "
                            f"the paper matches {to_confirm} by name and date of birth only: "
                            "is it the same person? It is not exported until confirmed.",
                            status, patient=patient, to_confirm=to_confirm)
        return Finished(True, f"{self.instance_id} is now {status.value}. Scan or type the "
                        "next form ID.", status, patient=patient)

    def confirm_patient(self, same: bool) -> str:
        """The clerk says whether the proposed patient is the person on the paper."""
        return self.service.confirm_patient(self.issued, self.clerk, same=same)


class KeyingService:
    """Opens forms for keying with the double-entry rules; one per work store."""

    def __init__(self, store: EntriesStore, register: Register, catalogue: FormCatalogue, *,
                 window_hours: int = 24, double_entry_forms: Iterable[str] = (),
                 open_cache: Callable[[], CacheStore | None] | None = None,
                 read_marks: Callable[[IssuedForm], FormMarks] | None = None) -> None:
        self.store = store
        self._read_marks = read_marks
        self.register = register
        self.catalogue = catalogue
        self.window_hours = window_hours
        self.double_entry_forms = set(double_entry_forms)
        self._open_cache = open_cache
        self._cache: CacheStore | None = None
        self._cache_tried = False

    def cache(self) -> CacheStore | None:
        """The cache when there is one (row texts, blank-copy matching)."""
        if not self._cache_tried and self._open_cache is not None:
            self._cache_tried = True
            try:
                self._cache = self._open_cache()
            except Exception:  # no cache is a normal state during an outage
                self._cache = None
        return self._cache

    def read_marks(self, issued: IssuedForm) -> FormMarks:
        """The tick squares on a form's returned pages (scan.choice_marks), or as given."""
        if self._read_marks is not None:
            return self._read_marks(issued)
        return read_form_marks(issued, ScanStore(self.register.work))

    def locate(self, typed: str) -> LocatedForm:
        return locate_form(self.register, typed)

    def open(self, typed: str | IssuedForm, clerk: str,
             entry_pass: EntryPass = EntryPass.FIRST) -> OpenForm:
        """Open a form for one pass; InputError when this clerk may not key it."""
        if not clerk.strip():
            raise InputError("Type your name first: every value records who keyed it.")
        located = (LocatedForm(typed, None) if isinstance(typed, IssuedForm)
                   else self.locate(typed))
        issued = located.issued
        check_pass_allowed(self.store.instance(issued.instance_id), issued.instance_id,
                           clerk, entry_pass)
        form = self.catalogue.get(issued.form_id)
        session = KeyingSession(
            self.store, issued_layout(form, issued), issued, clerk=clerk,
            entry_pass=entry_pass,
            ctx=KeyingContext(printed_at=issued.printed_at, window_hours=self.window_hours),
        )
        return OpenForm(self, issued, form, session, located.page)

    def confirm_patient(self, issued: IssuedForm, clerk: str, *, same: bool) -> str:
        """Settle a name-only match of a blank form: linked to that patient (recording who
        confirmed it), or recorded as a new downtime patient from what was keyed."""
        if same:
            how = confirm_match(self.store, issued.instance_id, by=clerk)
            return f"Confirmed: {issued.instance_id} is about the patient matched ({how})."
        record = self.store.instance(issued.instance_id)
        if record is None or not is_unconfirmed(record.patient_match):
            raise InputError(f"form {issued.instance_id} has no patient match waiting to be "
                             "confirmed")
        match = identify_blank_copy(self.store, self.cache(),
                                    self.catalogue.get(issued.form_id), issued,
                                    final_entries(self.store, issued.instance_id),
                                    clerk=clerk, match=False)
        return f"Recorded as a new patient under {match.how.removeprefix('downtime:')}."

    def identify(self, form: OpenForm, *, match: bool = True) -> PatientMatch:
        return identify_blank_copy(self.store, self.cache(), form.form, form.issued,
                                   form.session.values().values(), clerk=form.clerk,
                                   match=match)


def identify_blank_copy(store: EntriesStore, cache: CacheStore | None, form: FormSpec,
                        issued: IssuedForm, entries: Iterable[Entry], *,
                        clerk: str, match: bool = True) -> PatientMatch:
    """Match the identity handwritten on a blank copy to the cache, or record a downtime
    patient; the one rule for the screen and the workbook. InputError when the paper's
    identity was not keyed, so nothing reaches the export as 'no patient'."""
    values = {e.address.field_id: e.value for e in entries
              if e.state is EntryState.VALUE and e.value
              and (e.address.section == PATIENT_SECTION or form.scope == "blank")}
    identity = issued_layout(form, issued).patient_identity(values)

    def pick(role: str) -> str | None:  # declared roles (forms/*.yaml), never id suffixes
        return identity.get(role)

    if not any(pick(k) for k in ("nhs_number", "hospital_number", "family", "given")):
        raise InputError(
            "a blank copy: key the patient's NHS number, or name and date of birth, as "
            f"written on the paper (form {form.id}), so the values can be attached to a "
            "patient")
    birth = pick("birth_date")
    return identify_blank_form(
        store, cache, instance_id=issued.instance_id,
        downtime_number=issued.downtime_number, clerk=clerk,
        nhs_number=pick("nhs_number"), hospital_number=pick("hospital_number"),
        family=pick("family") or "", given=pick("given") or "",
        birth_date=date.fromisoformat(birth) if birth else None,
        sex=pick("sex") or "unknown", match=match,
    )


def describe_patient(patient: Patient) -> str:
    """'LEWIS, Priya, born 01-Feb-1950, NHS 999 979 1220': enough to be sure who it is."""
    parts = [patient.display_name]
    if patient.birth_date:
        parts.append(f"born {patient.birth_date:%d-%b-%Y}")
    if patient.nhs_number:
        parts.append(f"NHS {format_nhs_number(patient.nhs_number)}")
    elif patient.hospital_number:
        parts.append(f"hospital number {patient.hospital_number}")
    return ", ".join(parts)
