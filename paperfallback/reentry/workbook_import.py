"""Import a filled keying workbook: check every cell, import the rows without problems.

Every problem is reported as sheet / row / column / value / reason; a row with a problem
is not imported at all (a time column is one set of observations: half of one would
score a wrong NEWS2), the others are. Importing the same workbook twice changes nothing;
a changed cell is an audited edit. The importer never raises on a cell value: anything
unexpected in a cell becomes a problem.

Nothing written in a workbook is dropped without a problem: formula and error cells,
values in a column with no field id in row 1, a paper row keyed twice, data on a sheet
that is not part of the workbook, and empty required fields on a row with other writing
are all reported. A blind second keying by the clerk of the first is refused before
anything is saved.

Every row's identity columns (NHS number, hospital number, name, printed row text,
downtime number) are checked against what the register and cache say of the form the row
names: a row whose form ID was changed to another patient's form is refused, not filed
against that patient (hazard R-ENT-4). The sheet password is only a guard against slips.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError
from paperfallback.formspec import FormCatalogue, FormSpec
from paperfallback.reentry import workbook_rows
from paperfallback.reentry.keying_service import (
    check_pass_allowed,
    describe_patient,
    identify_blank_copy,
)
from paperfallback.reentry.layout import PATIENT_FIELDS, PATIENT_SECTION, FormLayout, form_layout
from paperfallback.reentry.model import EntryPass, EntryState, InstanceStatus
from paperfallback.reentry.patients import is_unconfirmed
from paperfallback.reentry.printed import is_blank_copy, issued_layout
from paperfallback.reentry.printed_rows import PrintedRow, printed_rows
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore, FieldWrite
from paperfallback.reentry.validation import KeyingContext, entry_state_of
from paperfallback.reentry.workbook import (
    CHART_INDEX,
    DOWNTIME_NUMBER,
    FIRST_DATA_ROW,
    IDENTITY,
    ROW_PRINTED,
    TABLE_INDEX,
    SheetPlan,
    identity_row,
)
from paperfallback.reentry.workbook_cells import ERROR_REASON as ERROR_REASON
from paperfallback.reentry.workbook_cells import FORMULA_REASON as FORMULA_REASON
from paperfallback.reentry.workbook_cells import Problem as Problem
from paperfallback.reentry.workbook_cells import Refused as _Refused
from paperfallback.reentry.workbook_cells import cell_text as _cell_text
from paperfallback.reentry.workbook_cells import cell_value as _cell_value
from paperfallback.reentry.workbook_cells import has_input as _has_input
from paperfallback.reentry.workbook_cells import is_empty as _is_empty
from paperfallback.reentry.workbook_cells import same_identity as _same_identity
from paperfallback.reentry.workbook_cells import whole_number as _whole_number
from paperfallback.reentry.workbook_sheets import data_sheets, open_workbook
from paperfallback.reentry.workflow import double_entry_required, finish_pass
from paperfallback.register import IssuedForm
from paperfallback.render.qr import parse_qr_payload

ROWS_PER_COMMIT = 500
STRAY_REASON = ("this column has no field id of the form in row 1, so the value would be lost; "
                "type it in the column of its field (do not change row 1)")
REQUIRED_REASON = ("required: this row has other writing but this field is empty; type the "
                   "value, ? if it cannot be read or - if nothing was written")
_IDENTITY_COLUMNS = frozenset({*IDENTITY, CHART_INDEX, TABLE_INDEX, ROW_PRINTED,
                               DOWNTIME_NUMBER})
# Identity text cross-checked against the register and cache (R-ENT-4); compared as text,
# so a name such as "=Evil" that a spreadsheet stored as a formula still matches.
_CHECKED_IDENTITY = frozenset({"nhs_number", "hospital_number", "patient_name", ROW_PRINTED,
                               DOWNTIME_NUMBER})
_PATIENT_COLUMNS = frozenset({"nhs_number", "hospital_number", "patient_name"})


def mismatch_reason(instance_id: str) -> str:
    return (f"this row's patient does not match form {instance_id}: keyed values were not "
            "imported")


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    rows_imported: int = 0
    rows_skipped: int = 0  # rows with a problem
    rows_unchanged: int = 0  # of rows_imported: recorded unchanged since an earlier import
    fields_changed: int = 0
    instances: set[str] = field(default_factory=set)
    # rows of forms already verified (or exported): never changed by a workbook (#13 item 7)
    left_alone: list[Problem] = field(default_factory=list)
    # blank copies matched by name and date of birth only: a clerk confirms each (#13.8)
    to_confirm: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


Lookup = Callable[[str], IssuedForm | None]


def import_workbook(
    path: Path,
    *,
    catalogue: FormCatalogue,
    lookup: Lookup,
    store: EntriesStore,
    clerk: str,
    entry_pass: EntryPass = EntryPass.FIRST,
    window_hours: int = 24,
    double_entry_forms: Iterable[str] = (),
    now: datetime | None = None,
    cache: CacheStore | None = None,
) -> ImportResult:
    """Import ``path``; ``lookup`` finds an issued form by its normalised ID (register).

    ``cache`` identifies the patients of blank copies keyed in the workbook (else they
    are recorded as downtime patients under the form's downtime number).
    """
    if not clerk.strip():
        raise InputError("name the clerk who keyed the workbook")
    wb = open_workbook(path)
    try:
        result = ImportResult()
        sheets = data_sheets(wb, catalogue, result.problems)
        if entry_pass is EntryPass.SECOND:
            _refuse_own_second_pass(store, sheets, clerk.strip())
        importer = _Importer(store, lookup, clerk.strip(), entry_pass, window_hours, now, result,
                             cache)
        importer.workbook, importer.workbook_digest = wb, workbook_rows.workbook_context(wb)
        for ws, form, section_id in sheets:
            importer.sheet(ws, form, section_id)
        if entry_pass is EntryPass.FIRST:
            _identify_blank_copies(importer, cache)
        _finish(store, result, importer.bad_instances, clerk.strip(), entry_pass,
                set(double_entry_forms))
        with store.transaction() as db:  # after the finish: its writes are not edits
            workbook_rows.record(db, importer.clean_rows, entry_pass,
                                 (now or datetime.now(UTC)).isoformat())
        return result
    finally:
        wb.close()


def _refuse_own_second_pass(store: EntriesStore, sheets: list[tuple[Any, FormSpec, str]],
                            clerk: str) -> None:
    """Blind double entry needs a second person: refuse before anything is saved."""
    own: set[str] = set()
    first_clerk = clerk
    for ws, _form, _section in sheets:
        rows = ws.iter_rows(values_only=True)
        header = [_cell_text(v) for v in next(rows, ())]
        if "form_instance_id" not in header:
            continue
        column = header.index("form_instance_id")
        next(rows, None)
        for values in rows:
            if column >= len(values) or _is_empty(values[column]):
                continue
            try:
                instance_id = parse_qr_payload(_cell_text(values[column]))[0]
            except InputError:
                continue
            record = store.instance(instance_id)
            if record is not None and record.first_clerk.casefold() == clerk.casefold():
                own.add(instance_id)
                first_clerk = record.first_clerk
    if own:
        listed = ", ".join(sorted(own)[:5]) + (" ..." if len(own) > 5 else "")
        raise InputError(
            f"{first_clerk} keyed the first pass of {listed}: the second keying must be done "
            "blind by another clerk; nothing was imported"
        )


class _Importer:
    def __init__(self, store: EntriesStore, lookup: Lookup, clerk: str, entry_pass: EntryPass,
                 window_hours: int, now: datetime | None, result: ImportResult,
                 cache: CacheStore | None = None) -> None:
        self.store = store
        self.cache = cache
        # what each row was printed for, from the cache and from the register alone
        self.printed: dict[str, dict[tuple[str, int], PrintedRow]] = {}
        self.printed_bare: dict[str, dict[tuple[str, int], PrintedRow]] = {}
        self.lookup = lookup
        self.clerk = clerk
        self.entry_pass = entry_pass
        self.window_hours = window_hours
        self.now = now
        self.result = result
        self.sessions: dict[str, KeyingSession | None] = {}
        self.bad_instances: set[str] = set()
        self.seen: dict[tuple[str, str, int], tuple[str, int]] = {}  # paper row -> sheet row
        self.identity_rows: dict[str, tuple[str, int]] = {}  # blank copy -> where identified
        self.refusals: dict[str, tuple[str, bool] | None] = {}
        self.workbook: Any = None  # set with workbook_digest to skip unchanged rows
        self.workbook_digest: bytes | None = None
        self.paper_row: tuple[str, str, int] | None = None
        self.clean_rows: list[tuple[str, str, str, int, bool]] = []

    def sheet(self, ws: Any, form: FormSpec, section_id: str) -> None:
        name = ws.title
        rows = ws.iter_rows()
        header_cells = list(next(rows, ()))
        header = [_cell_text(c.value) for c in header_cells]
        next(rows, None)  # the labels row
        required = ("form_instance_id",) if section_id == PATIENT_SECTION else IDENTITY
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(
                f"row 1 lacks the column(s) {', '.join(missing)}: this is not a keying "
                "workbook sheet (or row 1 was changed)", where=f"{name}/row 1"
            )
        field_ids = _section_field_ids(form, section_id)
        columns: dict[str, int] = {}
        for i, h in enumerate(header):
            if h and (h in field_ids or h not in columns):  # a field beats an identity column
                columns[h] = i
        stray = {i for i, h in enumerate(header)
                 if h not in _IDENTITY_COLUMNS | field_ids or columns.get(h) != i}
        inputs = {i for i in range(len(header)) if i not in stray and header[i] in field_ids}
        inputs |= stray
        numbered: Iterable[tuple[int, tuple[Any, ...]]] = (
            (number, tuple(_cell_value(c) for c in cells))
            for number, cells in enumerate(rows, start=FIRST_DATA_ROW))
        hashes = self._row_hashes(ws, form, section_id)
        found = workbook_rows.recorded(self.store._conn, hashes.values())
        marks = {n: found[h] for n, h in hashes.items() if h in found}
        skip: set[str] = set()
        if marks and section_id != PATIENT_SECTION:
            claimed: set[str] = set()
            if set(marks) != set(hashes):  # a row changed: whose form is it?
                numbered = list(numbered)
                claimed = {self._instance_of(v, columns) for n, v in numbered if n not in marks}
            edited = workbook_rows.edited_since(self.store._conn, marks.values(),
                                                self.entry_pass)
            skip = {i for i in workbook_rows.unchanged_forms(marks, edited, section_id, claimed)
                    if self._refusal(i) is None}
            if all(not m.instance_id or m.instance_id in skip for m in marks.values()) and (
                    set(marks) == set(hashes)):
                for number in sorted(marks):  # nothing changed: no cell needs reading
                    self._unchanged(name, number, marks[number], section_id)
                return
        numbered = iter(numbered)
        while True:
            with self.store.transaction():  # one commit per ROWS_PER_COMMIT rows
                batch = 0
                for number, values in itertools.islice(numbered, ROWS_PER_COMMIT):
                    batch += 1
                    mark = marks.get(number)
                    if mark is not None and (not mark.instance_id or mark.instance_id in skip):
                        self._unchanged(name, number, mark, section_id)
                        continue
                    self._recorded_row(hashes.get(number), name, number, values, columns, form,
                                       section_id, stray, header, inputs)
            if batch < ROWS_PER_COMMIT:
                break

    def _row_hashes(self, ws: Any, form: FormSpec, section_id: str) -> dict[int, str]:
        if self.workbook_digest is None or section_id == PATIENT_SECTION:
            return {}
        return workbook_rows.row_hashes(
            self.workbook, ws, self.workbook_digest, form=form, section_id=section_id,
            entry_pass=self.entry_pass, clerk=self.clerk, window_hours=self.window_hours)

    @staticmethod
    def _instance_of(values: tuple[Any, ...], columns: dict[str, int]) -> str:
        i = columns.get("form_instance_id")
        raw = values[i] if i is not None and i < len(values) else None
        try:
            return parse_qr_payload(raw.text if isinstance(raw, _Refused) else _cell_text(raw))[0]
        except InputError:
            return ""

    def _unchanged(self, sheet: str, number: int, mark: workbook_rows.RowMark,
                   section_id: str) -> None:
        """What importing a recorded, unchanged row again would do: nothing but count it."""
        if not mark.instance_id:
            return
        self.seen.setdefault((mark.instance_id, section_id, mark.index), (sheet, number))
        self.identity_rows.setdefault(mark.instance_id, (sheet, number))
        if mark.counted:
            self.result.rows_imported += 1
            self.result.rows_unchanged += 1
            self.result.instances.add(mark.instance_id)

    def _recorded_row(self, row_hash: str | None, sheet: str, number: int,
                      values: tuple[Any, ...], *rest: Any) -> None:
        """Import a row; record it when it imported cleanly (nothing to report)."""
        result = self.result
        before = (len(result.problems), len(result.left_alone), result.rows_skipped)
        imported = result.rows_imported
        self.paper_row = None
        self._row(sheet, number, values, *rest)
        if row_hash and before == (len(result.problems), len(result.left_alone),
                                   result.rows_skipped):
            instance_id, section_id, index = self.paper_row or ("", "", 0)
            self.clean_rows.append((row_hash, instance_id, section_id, index,
                                    result.rows_imported > imported))

    def _problem(self, sheet: str, row: int, column: str, value: object, reason: str) -> None:
        text = value.text if isinstance(value, _Refused) else _cell_text(value)
        self.result.problems.append(Problem(sheet, row, column, text[:80], reason))

    def _cell_problems(self, sheet: str, number: int, values: tuple[Any, ...],
                       stray: set[int], header: list[str]) -> None:
        """Formula and error cells anywhere in the row, and values in stray columns."""
        for i, value in enumerate(values):
            name = header[i] if i < len(header) and header[i] else ""
            column = name or f"column {get_column_letter(i + 1)}"
            if isinstance(value, _Refused):
                if name in _CHECKED_IDENTITY and value.reason == FORMULA_REASON:
                    continue  # identity text: compared with the form's record as text
                self._problem(sheet, number, column, value, value.reason)
            elif i in stray and not _is_empty(value):
                label = f"column {get_column_letter(i + 1)}" + (f" ({name!r})" if name else "")
                self._problem(sheet, number, label, value, STRAY_REASON)

    def _row(self, sheet: str, number: int, values: tuple[Any, ...], columns: dict[str, int],
             form: FormSpec, section_id: str, stray: set[int], header: list[str],
             inputs: set[int]) -> None:
        def cell(name: str) -> Any:
            i = columns.get(name)
            return values[i] if i is not None and i < len(values) else None

        problems_before = len(self.result.problems)
        self._cell_problems(sheet, number, values, stray, header)
        refused_row = len(self.result.problems) > problems_before
        typed_id = cell("form_instance_id")
        try:
            if isinstance(typed_id, _Refused):
                return
            instance_id = parse_qr_payload(_cell_text(typed_id))[0]
        except InputError as exc:
            if _is_empty(typed_id) and not _has_input(values, inputs) and not refused_row:
                return
            self._problem(sheet, number, "form_instance_id", typed_id, str(exc))
            return
        refusal = self._refusal(instance_id)
        if refusal is not None:
            if _has_input(values, inputs) or refused_row:
                reason, left_alone = refusal
                target = self.result.left_alone if left_alone else self.result.problems
                target.append(Problem(sheet, number, "form_instance_id", instance_id, reason))
                self.result.rows_skipped += not left_alone
            return
        session = self._session(instance_id, form, sheet, number)
        if session is None:
            return
        try:
            section = session.layout.section(section_id)
        except KeyError:
            reason = (f"form {instance_id} is not a blank copy: its patient is printed on it"
                      if section_id == PATIENT_SECTION
                      else f"form {form.id} has no section {section_id!r}")
            if _has_input(values, inputs) or refused_row:
                self._problem(sheet, number, "(sheet)", sheet, reason)
                self.bad_instances.add(instance_id)
            return
        index = 0
        index_column = CHART_INDEX if section.kind == "chart" else (
            TABLE_INDEX if section.kind == "table" else None)
        if index_column is not None:
            raw_index = cell(index_column)
            position = _whole_number(raw_index)
            if position is None or not 1 <= position <= section.count:
                self._problem(sheet, number, index_column, raw_index,
                              f"must be a whole number from 1 to {section.count}")
                self.bad_instances.add(instance_id)
                return
            index = position - 1
        if (_has_input(values, inputs) or refused_row) and not self._identity_matches(
                sheet, number, cell, session, section, index_column, index):
            self.result.rows_skipped += 1
            self.bad_instances.add(instance_id)
            return
        paper_row = (instance_id, section_id, index)
        if paper_row in self.seen and _has_input(values, inputs):
            other_sheet, other = self.seen[paper_row]
            self._problem(sheet, number, index_column or "form_instance_id",
                          cell(index_column) if index_column else instance_id,
                          f"this paper {section.index_label(index) or 'form'} is also on "
                          f"{other_sheet} row {other}: key it once")
            self.result.rows_skipped += 1
            self.bad_instances.add(instance_id)
            return
        self.seen.setdefault(paper_row, (sheet, number))
        self.paper_row = paper_row
        if section_id == PATIENT_SECTION or instance_id not in self.identity_rows:
            self.identity_rows[instance_id] = (sheet, number)
        writes: list[FieldWrite] = []
        # The time field first, so the other fields are checked against the right day.
        ordered = sorted(section.fields, key=lambda f: f.id != section.time_field)
        for spec in ordered:
            raw = cell(spec.id)
            if _is_empty(raw) or isinstance(raw, _Refused):
                continue
            address = session.address(section_id, index, spec.id)
            state = entry_state_of(raw) if isinstance(raw, str) else None
            if state is not None:
                writes.append(FieldWrite(address, None, state))
                continue
            try:
                parsed = session.check(section_id, index, spec.id, raw)
            except InputError as exc:
                self._problem(sheet, number, spec.id, raw, str(exc))
                continue
            except Exception as exc:  # an odd cell must never stop the import
                self._problem(sheet, number, spec.id, raw, f"cannot read this value ({exc})")
                continue
            writes.append(FieldWrite(address, parsed.canonical, EntryState.VALUE))
        identified_by_number = section_id == PATIENT_SECTION and any(
            not _is_empty(cell(k)) for k in ("nhs_number", "hospital_number"))
        if (writes or refused_row) and not identified_by_number:
            for spec in section.fields:
                if spec.required and _is_empty(cell(spec.id)) and self.store.entry(
                        session.address(section_id, index, spec.id), self.entry_pass) is None:
                    self._problem(sheet, number, spec.id, "", REQUIRED_REASON)
        if len(self.result.problems) > problems_before:
            self.result.rows_skipped += 1
            self.bad_instances.add(instance_id)
            return
        if not writes:
            return
        self.result.fields_changed += session.save_row(section_id, index, writes)
        self.result.rows_imported += 1
        self.result.instances.add(instance_id)

    def _identity_matches(self, sheet: str, number: int, cell: Callable[[str], Any],
                          session: KeyingSession, section: Any, index_column: str | None,
                          index: int) -> bool:
        """Whether the row's identity columns say what the workbook printed for this form
        and row (R-ENT-4); each mismatch is a problem and the row is not imported.

        On list forms the patient of a row comes from the cache: when the cache no longer
        holds it, the patient columns cannot be checked (the form ID and row still are). A
        workbook made without the cache (register only) is accepted as it was made.
        """
        item = session.printed
        instance_id = item.instance_id
        form = session.layout.form
        if instance_id not in self.printed:
            self.printed[instance_id] = printed_rows(form, item, self.cache)
            self.printed_bare[instance_id] = printed_rows(form, item, None)
        row = self.printed[instance_id].get((section.id, index))
        bare = self.printed_bare[instance_id].get((section.id, index))
        plan = SheetPlan(sheet, section, index_column)
        wanted = [dict(zip(plan.identity, identity_row(plan, item, index, r), strict=True))
                  for r in (row, bare)]
        patient_known = (section.id == PATIENT_SECTION or form.scope == "patient"
                         or (row is not None and row.patient is not None))
        ok = True
        for column in plan.identity:
            if column not in _CHECKED_IDENTITY:
                continue
            if column in _PATIENT_COLUMNS and not patient_known:
                continue
            if column == ROW_PRINTED and row is None:
                continue  # the cache no longer says what the row was printed with
            got = cell(column)
            text = got.text if isinstance(got, _Refused) else _cell_text(got)
            if not any(_same_identity(column, text, _cell_text(w[column])) for w in wanted):
                self._problem(sheet, number, column, got, mismatch_reason(instance_id))
                ok = False
        return ok

    def _refusal(self, instance_id: str) -> tuple[str, bool] | None:
        """Why this workbook may not touch a form: (reason, left alone as verified).

        A verified or exported form is final: a workbook never changes it. A pass belongs
        to the clerk who keyed it first (the keying service's rule), so another clerk's
        workbook cannot overwrite it and every value stays credited to who keyed it.
        """
        if instance_id not in self.refusals:
            record = self.store.instance(instance_id)
            refusal: tuple[str, bool] | None = None
            if record is not None and record.status in (InstanceStatus.VERIFIED,
                                                        InstanceStatus.EXPORTED):
                refusal = (f"form {instance_id} is already {record.status.value}: this row "
                           "was left alone (nothing changed)", True)
            else:
                try:
                    check_pass_allowed(record, instance_id, self.clerk, self.entry_pass)
                except InputError as exc:
                    refusal = (f"{exc}; nothing of this form was imported", False)
            if refusal is not None and not refusal[1]:
                self.bad_instances.add(instance_id)
            self.refusals[instance_id] = refusal
        return self.refusals[instance_id]

    def _session(self, instance_id: str, form: FormSpec, sheet: str,
                 number: int) -> KeyingSession | None:
        if instance_id in self.sessions:
            session = self.sessions[instance_id]
            if session is None:
                self._problem(sheet, number, "form_instance_id", instance_id,
                              "not in this PC's register (see the first row of this form)")
            return session
        issued = self.lookup(instance_id)
        session = None
        if issued is None:
            self._problem(sheet, number, "form_instance_id", instance_id,
                          "not in this PC's register: was it printed on another PC?")
        elif issued.form_id != form.id:
            self._problem(sheet, number, "form_instance_id", instance_id,
                          f"is a {issued.form_id!r} form, not {form.id!r}")
            issued = None
        if issued is not None:
            layout: FormLayout = issued_layout(form, issued)
            ctx = KeyingContext(printed_at=issued.printed_at, now=self.now,
                                window_hours=self.window_hours)
            session = KeyingSession(self.store, layout, issued, clerk=self.clerk,
                                    entry_pass=self.entry_pass, ctx=ctx, source="workbook")
        self.sessions[instance_id] = session
        return session


def _identify_blank_copies(importer: _Importer, cache: CacheStore | None) -> None:
    """Blank copies: match the keyed identity to the cache, or record a downtime patient,
    so nothing keyed from a blank form reaches the export as 'no patient' (the keying
    service's rule, as on the screen)."""
    for instance_id in sorted(importer.result.instances - importer.bad_instances):
        session = importer.sessions.get(instance_id)
        if session is None or not is_blank_copy(session.layout.form, session.printed):
            continue
        try:
            match = identify_blank_copy(session.store, cache, session.layout.form,
                                        session.printed, session.values().values(),
                                        clerk=session.clerk)
            if match.patient is not None and is_unconfirmed(match.how):
                importer.result.to_confirm[instance_id] = describe_patient(match.patient)
        except InputError as exc:
            sheet, number = importer.identity_rows.get(instance_id, ("?", 0))
            importer.result.problems.append(Problem(
                sheet, number, "form_instance_id", instance_id, str(exc)))
            importer.bad_instances.add(instance_id)


def _finish(store: EntriesStore, result: ImportResult, bad_instances: set[str], clerk: str,
            entry_pass: EntryPass, double_entry_forms: set[str]) -> None:
    """A form whose rows all imported is keyed in this pass; one with problems stays draft."""
    with store.transaction():
        _finish_each(store, result, bad_instances, clerk, entry_pass, double_entry_forms)


def _finish_each(store: EntriesStore, result: ImportResult, bad_instances: set[str],
                 clerk: str, entry_pass: EntryPass, double_entry_forms: set[str]) -> None:
    for instance_id in sorted(result.instances):
        record = store.instance(instance_id)
        # A verified form is checked again (a changed keying re-opens it); exported stays.
        if record is None or record.status is InstanceStatus.EXPORTED:
            continue
        if instance_id in bad_instances:
            continue
        if entry_pass is EntryPass.RESOLVED:
            continue
        finish_pass(store, instance_id, entry_pass, by=clerk,
                    double_entry=double_entry_required(record, record.form_id,
                                                       double_entry_forms))


def _section_field_ids(form: FormSpec, section_id: str) -> set[str]:
    """The field ids a sheet of this section may hold in row 1."""
    if section_id == PATIENT_SECTION:
        return {f.id for f in PATIENT_FIELDS}
    layout = form_layout(form)
    try:
        return {f.id for f in layout.section(section_id).fields}
    except KeyError:
        return set()


