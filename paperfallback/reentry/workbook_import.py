"""Import a filled keying workbook: check every cell, import the rows without problems.

Every problem is reported as sheet / row / column / value / reason; a row with a problem
is not imported at all (a time column is one set of observations: half of one would
score a wrong NEWS2), the others are. Importing the same workbook twice changes nothing;
a changed cell is an audited edit. The importer never raises on a cell value: anything
unexpected in a cell becomes a problem.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from paperfallback.domain.errors import InputError
from paperfallback.formspec import FormCatalogue, FormSpec
from paperfallback.reentry.layout import FormLayout
from paperfallback.reentry.model import EntryPass, EntryState, InstanceStatus
from paperfallback.reentry.printed import issued_layout
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore, FieldWrite
from paperfallback.reentry.validation import KeyingContext, entry_state_of
from paperfallback.reentry.workbook import (
    CHART_INDEX,
    FIRST_DATA_ROW,
    IDENTITY,
    INSTRUCTIONS_SHEET,
    META_SHEET,
    TABLE_INDEX,
)
from paperfallback.reentry.workflow import double_entry_required, finish_pass
from paperfallback.register import IssuedForm, validate_instance_id

ROWS_PER_COMMIT = 500


@dataclass(frozen=True, slots=True)
class Problem:
    sheet: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        value = f" value {self.value!r}" if self.value else ""
        return f"{self.sheet} / row {self.row} / {self.column}:{value}: {self.reason}"


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    rows_imported: int = 0
    rows_skipped: int = 0  # rows with a problem
    fields_changed: int = 0
    instances: set[str] = field(default_factory=set)

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
) -> ImportResult:
    """Import ``path``; ``lookup`` finds an issued form by its normalised ID (register)."""
    if not clerk.strip():
        raise InputError("name the clerk who keyed the workbook (--clerk NAME)")
    wb = _open(path)
    try:
        sheets = _data_sheets(wb, catalogue)
        result = ImportResult()
        importer = _Importer(store, lookup, clerk.strip(), entry_pass, window_hours, now, result)
        for ws, form, section_id in sheets:
            importer.sheet(ws, form, section_id)
        _finish(store, result, importer.bad_instances, clerk.strip(), entry_pass,
                set(double_entry_forms))
        return result
    finally:
        wb.close()


def _open(path: Path) -> Any:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.exists():
        raise InputError("no such file", where=str(path))
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError,
            TypeError) as exc:
        raise InputError(
            f"not a readable .xlsx workbook ({type(exc).__name__}); save it as Excel "
            ".xlsx and try again", where=str(path)
        ) from None


def _data_sheets(wb: Any, catalogue: FormCatalogue) -> list[tuple[Any, FormSpec, str]]:
    """The data sheets and the form section each keys (from the hidden _meta sheet)."""
    meta: dict[str, str] = {}
    sections: dict[str, str] = {}
    if META_SHEET in wb.sheetnames:
        for row in wb[META_SHEET].iter_rows(values_only=True):
            if not row or row[0] is None:
                continue
            if row[0] == "sheet" and len(row) >= 3:
                sections[str(row[1])] = str(row[2])
            elif len(row) >= 2:
                meta[str(row[0])] = str(row[1])
    form_id = meta.get("form_id")
    if form_id is None:
        names = [n for n in wb.sheetnames if n not in (META_SHEET, INSTRUCTIONS_SHEET)]
        form_id = next((n.split(".")[0] for n in names if n.split(".")[0] in catalogue), None)
    if form_id is None or form_id not in catalogue:
        raise InputError(
            "this workbook has no sheet for a known form: make it with 'paperfallback "
            "entries workbook --form F' and key into that file"
        )
    form = catalogue.get(form_id)
    out = []
    for name in wb.sheetnames:
        if name in (META_SHEET, INSTRUCTIONS_SHEET):
            continue
        section_id = sections.get(name)
        if section_id is None:
            head, _, tail = name.partition(".")
            if head != form.id:
                continue
            section_id = tail or _only_section(form)
        out.append((wb[name], form, section_id))
    if not out:
        raise InputError(f"the workbook has no data sheet for form {form.id!r}")
    return out


def _only_section(form: FormSpec) -> str:
    from paperfallback.reentry.layout import form_layout

    return form_layout(form).sections[0].id


class _Importer:
    def __init__(self, store: EntriesStore, lookup: Lookup, clerk: str, entry_pass: EntryPass,
                 window_hours: int, now: datetime | None, result: ImportResult) -> None:
        self.store = store
        self.lookup = lookup
        self.clerk = clerk
        self.entry_pass = entry_pass
        self.window_hours = window_hours
        self.now = now
        self.result = result
        self.sessions: dict[str, KeyingSession | None] = {}
        self.bad_instances: set[str] = set()

    def sheet(self, ws: Any, form: FormSpec, section_id: str) -> None:
        name = ws.title
        rows = ws.iter_rows(values_only=True)
        header = [_cell_text(v) for v in next(rows, ())]
        next(rows, None)  # the labels row
        missing = [c for c in IDENTITY if c not in header]
        if missing:
            raise InputError(
                f"row 1 lacks the column(s) {', '.join(missing)}: this is not a keying "
                "workbook sheet (or row 1 was changed)", where=f"{name}/row 1"
            )
        columns = {h: i for i, h in enumerate(header) if h}
        batch = 0
        self.store.connection.execute("BEGIN IMMEDIATE")
        try:
            for number, values in enumerate(rows, start=FIRST_DATA_ROW):
                self._row(name, number, values, columns, form, section_id)
                batch += 1
                if batch >= ROWS_PER_COMMIT:
                    self.store.connection.execute("COMMIT")
                    self.store.connection.execute("BEGIN IMMEDIATE")
                    batch = 0
        except BaseException:
            self.store.connection.execute("ROLLBACK")
            raise
        self.store.connection.execute("COMMIT")

    def _problem(self, sheet: str, row: int, column: str, value: object, reason: str) -> None:
        self.result.problems.append(Problem(sheet, row, column, _cell_text(value)[:80], reason))

    def _row(self, sheet: str, number: int, values: tuple[Any, ...], columns: dict[str, int],
             form: FormSpec, section_id: str) -> None:
        def cell(name: str) -> Any:
            i = columns.get(name)
            return values[i] if i is not None and i < len(values) else None

        problems_before = len(self.result.problems)
        typed_id = cell("form_instance_id")
        try:
            instance_id = validate_instance_id(_cell_text(typed_id))
        except InputError as exc:
            if _is_empty(typed_id) and not _has_input(values, columns):
                return
            self._problem(sheet, number, "form_instance_id", typed_id, str(exc))
            return
        session = self._session(instance_id, form, sheet, number)
        if session is None:
            return
        try:
            section = session.layout.section(section_id)
        except KeyError:
            self._problem(sheet, number, "(sheet)", sheet,
                          f"form {form.id} has no section {section_id!r}")
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
                return
            index = position - 1
        writes: list[FieldWrite] = []
        # The time field first, so the other fields are checked against the right day.
        ordered = sorted(section.fields, key=lambda f: f.id != section.time_field)
        for spec in ordered:
            raw = cell(spec.id)
            if _is_empty(raw):
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
        if len(self.result.problems) > problems_before:
            self.result.rows_skipped += 1
            self.bad_instances.add(instance_id)
            return
        if not writes:
            return
        self.result.fields_changed += session.save_row(section_id, index, writes)
        self.result.rows_imported += 1
        self.result.instances.add(instance_id)

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


def _finish(store: EntriesStore, result: ImportResult, bad_instances: set[str], clerk: str,
            entry_pass: EntryPass, double_entry_forms: set[str]) -> None:
    """A form whose rows all imported is keyed in this pass; one with problems stays draft."""
    with store.transaction():
        _finish_each(store, result, bad_instances, clerk, entry_pass, double_entry_forms)


def _finish_each(store: EntriesStore, result: ImportResult, bad_instances: set[str],
                 clerk: str, entry_pass: EntryPass, double_entry_forms: set[str]) -> None:
    for instance_id in sorted(result.instances):
        record = store.instance(instance_id)
        if record is None or record.status.rank >= InstanceStatus.VERIFIED.rank:
            continue
        if instance_id in bad_instances:
            continue
        if entry_pass is EntryPass.RESOLVED:
            continue
        finish_pass(store, instance_id, entry_pass, by=clerk,
                    double_entry=double_entry_required(record, record.form_id,
                                                       double_entry_forms))


def _has_input(values: tuple[Any, ...], columns: dict[str, int]) -> bool:
    skip = {*IDENTITY, CHART_INDEX, TABLE_INDEX}
    return any(
        not _is_empty(values[i]) for name, i in columns.items()
        if name not in skip and i < len(values)
    )


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
