"""Spreadsheet workbooks for keying on any PC: one sheet per keyed section of a form.

Row 1 holds the field ids exactly as in the form definition (the importer reads them),
row 2 the labels with units, data from row 3: one row per printed time column (charts),
printed table row, or form (plain fields) of every issued instance. Identity columns
come first, filled in and locked; the input cells are unlocked and carry Excel data
validation. Illegible is typed ``?`` and not recorded ``-`` (see the Instructions sheet).

Identity columns say whose row it is: the printed patient of a patient form, and for list
forms (clinic, theatre, handover) the patient of each printed row, from the register's
row ids and the cache. Table sheets add a locked ``row_printed`` column (the drug and
dose time of a MAR row, the time and name of an appointment). Blank copies of patient
forms get a ``<form>.patient`` sheet where the clerk keys the handwritten identification
(NHS number with its check digit, or name and date of birth), matched on import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from paperfallback.cache.staleness import format_uk, utc_now
from paperfallback.cache.store import CacheStore
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.formspec import FieldSpec, FormSpec
from paperfallback.reentry.layout import PATIENT_SECTION, KeyedSection
from paperfallback.reentry.printed import is_blank_copy, issued_layout
from paperfallback.reentry.printed_rows import BLANK_ROW_TEXT, PrintedRow, printed_rows
from paperfallback.register import IssuedForm

IDENTITY = ("form_instance_id", "nhs_number", "hospital_number", "patient_name")
CHART_INDEX = "chart_column"
TABLE_INDEX = "table_row"
ROW_PRINTED = "row_printed"  # locked: what the paper row was printed with
DOWNTIME_NUMBER = "downtime_number"  # locked, on the patient sheet of blank copies
PATIENT_SHEET = "patient"
META_SHEET = "_meta"
INSTRUCTIONS_SHEET = "Instructions"
FIRST_DATA_ROW = 3
_HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
_LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
_UNLOCKED = Protection(locked=False)
# Not a secret and not a security control (Excel sheet passwords are easily removed): it
# only guards the grey identity columns against accidental edits. The real control is
# the importer's cross-check of every row's identity against the register (R-ENT-4).
SHEET_PASSWORD = "paper-fallback"


@dataclass(frozen=True, slots=True)
class SheetPlan:
    """One data sheet: which section it keys and its columns."""

    name: str
    section: KeyedSection
    index_column: str | None  # chart_column / table_row / None for a plain fields box

    @property
    def identity(self) -> tuple[str, ...]:
        if self.section.id == PATIENT_SECTION:
            return ("form_instance_id", DOWNTIME_NUMBER)
        extra = (ROW_PRINTED,) if self.index_column == TABLE_INDEX else ()
        return IDENTITY + ((self.index_column,) if self.index_column else ()) + extra

    @property
    def columns(self) -> tuple[str, ...]:
        return self.identity + tuple(f.id for f in self.section.fields)


def sheet_name(form: FormSpec, section: KeyedSection, sections: int) -> str:
    """The form id for a one-section form, else form id + section id (Excel: 31 chars)."""
    if section.id == PATIENT_SECTION:
        return f"{form.id}.{PATIENT_SHEET}"[:31]
    name = form.id if sections == 1 else f"{form.id}.{section.id}"
    return name[:31]


def sheet_plans(form: FormSpec, sections: Iterable[KeyedSection]) -> list[SheetPlan]:
    """A sheet per keyed section; the patient identification of blank copies first."""
    sections = list(sections)
    keyed = [s for s in sections if s.id != PATIENT_SECTION]
    plans = [SheetPlan(sheet_name(form, s, len(keyed)), s, None)
             for s in sections if s.id == PATIENT_SECTION]
    for section in keyed:
        index = CHART_INDEX if section.kind == "chart" else (
            TABLE_INDEX if section.kind == "table" else None)
        plans.append(SheetPlan(sheet_name(form, section, len(keyed)), section, index))
    return plans


def build_workbook(form: FormSpec, issued: list[IssuedForm], out: Path, *,
                   cache: CacheStore | None = None) -> int:
    """Write the workbook for ``issued`` copies of ``form``; returns the data rows.

    ``cache`` fills whose row it is on list forms and what each table row was printed
    with; without it those columns hold what the register alone knows.
    """
    from paperfallback.reentry.layout import form_layout

    wb = Workbook()
    instructions = wb.active
    instructions.title = INSTRUCTIONS_SHEET
    blank = any(is_blank_copy(form, item) for item in issued) and form.scope == "patient"
    present = {s.id for item in issued for s in issued_layout(form, item).sections}
    plans = sheet_plans(form, [s for s in form_layout(form, blank=blank).sections
                               if s.id in present or not issued])
    rows_printed = {item.instance_id: printed_rows(form, item, cache) for item in issued}
    total = 0
    for plan in plans:
        ws = wb.create_sheet(plan.name)
        total += _fill_sheet(ws, form, plan, issued, rows_printed)
    _write_instructions(instructions, form, plans, len(issued))
    meta = wb.create_sheet(META_SHEET)
    meta.append(["form_id", form.id])
    meta.append(["form_version", form.version])
    meta.append(["generated_at", utc_now().isoformat()])
    for plan in plans:
        meta.append(["sheet", plan.name, plan.section.id])
    meta.sheet_state = "hidden"
    meta.protection.sheet = True
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return total


def _fill_sheet(ws: object, form: FormSpec, plan: SheetPlan, issued: list[IssuedForm],
                rows_printed: dict[str, dict[tuple[str, int], PrintedRow]]) -> int:
    from openpyxl.worksheet.worksheet import Worksheet

    assert isinstance(ws, Worksheet)
    fields = plan.section.fields
    ws.append(list(plan.columns))
    ws.append([_identity_label(c) for c in plan.identity] + [_label(f) for f in fields])
    for cell in (*ws[1], *ws[2]):
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    rows = 0
    first_input = len(plan.identity) + 1
    for item in issued:
        try:
            section = issued_layout(form, item).section(plan.section.id)
        except KeyError:  # the patient sheet: only blank copies have one
            continue
        printed = rows_printed.get(item.instance_id, {})
        for index in range(section.count):
            ws.append(identity_row(plan, item, index, printed.get((section.id, index))))
            rows += 1
    last_row = FIRST_DATA_ROW + rows - 1
    for row in ws.iter_rows(min_row=FIRST_DATA_ROW, max_row=max(last_row, FIRST_DATA_ROW),
                            min_col=1, max_col=len(plan.identity)):
        for cell in row:
            cell.fill = _LOCKED_FILL
            cell.number_format = "@"
            if isinstance(cell.value, str):
                # A name such as "=Evil" or "+RM1" is text, never a formula: openpyxl
                # takes a string starting with = as a formula unless told otherwise.
                cell.data_type = "s"
                cell.quotePrefix = True
    for offset, spec in enumerate(fields):
        column = first_input + offset
        letter = get_column_letter(column)
        for (cell,) in ws.iter_rows(min_row=FIRST_DATA_ROW, max_row=max(last_row, FIRST_DATA_ROW),
                                    min_col=column, max_col=column):
            cell.protection = _UNLOCKED
            if spec.type in ("text", "initials", "signature", "lines", "choice"):
                cell.number_format = "@"
            elif spec.type == "datetime":
                cell.number_format = "dd/mm/yyyy hh:mm"
            elif spec.type == "date":
                cell.number_format = "dd/mm/yyyy"
        validation = _validation(spec, f"{letter}{FIRST_DATA_ROW}")
        if validation is not None and rows:
            validation.add(f"{letter}{FIRST_DATA_ROW}:{letter}{last_row}")
            ws.add_data_validation(validation)
    for column, name in enumerate(plan.columns, start=1):
        ws.column_dimensions[get_column_letter(column)].width = max(10, min(28, len(name) + 4))
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=first_input).coordinate
    ws.protection.sheet = True
    ws.protection.password = SHEET_PASSWORD
    ws.protection.formatColumns = False  # clerks may widen columns
    ws.protection.formatRows = False
    return rows


def identity_row(plan: SheetPlan, item: IssuedForm, index: int,
                 row: PrintedRow | None) -> list[object]:
    """The locked cells of one row: the form, whose row it is, where it is on the paper
    (in ``plan.identity`` order; the importer checks a keyed row against the same)."""
    if plan.section.id == PATIENT_SECTION:
        return [item.instance_id, item.downtime_number or ""]
    patient = row.patient if row is not None else None
    if patient is not None:
        who: list[object] = [format_nhs_number(patient.nhs_number) if patient.nhs_number
                             else "", patient.hospital_number or "", patient.display_name]
    else:
        who = [format_nhs_number(item.nhs_number) if item.nhs_number else "",
               item.hospital_number or "", item.patient_name]
    identity: list[object] = [item.instance_id, *who]
    if plan.index_column:
        identity.append(index + 1)
    if plan.index_column == TABLE_INDEX:
        identity.append(row.text if row is not None and row.text else
                        "" if row is not None else BLANK_ROW_TEXT)
    return identity


def _identity_label(column: str) -> str:
    return {
        "form_instance_id": "Form ID (printed on the form)",
        "nhs_number": "NHS number",
        "hospital_number": "Hospital number",
        "patient_name": "Patient",
        CHART_INDEX: "Time column on the paper",
        TABLE_INDEX: "Row on the paper",
        ROW_PRINTED: "Printed on the row",
        DOWNTIME_NUMBER: "Downtime number (printed on the form)",
    }[column]


def _label(spec: FieldSpec) -> str:
    unit = f" ({spec.unit})" if spec.unit else ""
    if spec.type == "choice":
        unit = " [" + " / ".join(c.code for c in spec.choices) + "]"
    elif spec.type == "datetime":
        unit = " (dd/mm/yyyy hh:mm)"
    elif spec.type == "date":
        unit = " (dd/mm/yyyy)"
    elif spec.type == "time":
        unit = " (hh:mm)"
    return f"{spec.label}{unit}"


_TOKENS_HELP = "Type ? if it cannot be read, - if nothing was written."


def _validation(spec: FieldSpec, first_cell: str) -> DataValidation | None:
    """Excel data validation for one input column (illegible '?' and not recorded '-'
    always allowed)."""
    if spec.type == "choice":
        codes = [c.code for c in spec.choices] + ["?", "-"]
        listed = ",".join(codes)
        if len(listed) > 250:  # Excel's limit for an inline list
            return None
        return DataValidation(
            type="list", formula1=f'"{listed}"', allow_blank=True, showErrorMessage=True,
            errorTitle=spec.label, error=f"Choose one of {', '.join(codes)}",
            promptTitle=spec.label, prompt=_TOKENS_HELP, showInputMessage=True,
        )
    if spec.type == "number":
        bounds = []
        if spec.min is not None:
            bounds.append(f"{first_cell}>={spec.min:g}")
        if spec.max is not None:
            bounds.append(f"{first_cell}<={spec.max:g}")
        number = f"AND(ISNUMBER({first_cell}){''.join(',' + b for b in bounds)})"
        unit = f" {spec.unit}" if spec.unit else ""
        return DataValidation(
            type="custom", formula1=f'OR({number},{first_cell}="?",{first_cell}="-")',
            allow_blank=True, showErrorMessage=True, errorTitle=spec.label,
            error=f"A number from {spec.min:g} to {spec.max:g}{unit}, or ? or -"
            if spec.min is not None and spec.max is not None else "A number, or ? or -",
            promptTitle=spec.label, prompt=_TOKENS_HELP, showInputMessage=True,
        )
    if spec.type in ("date", "datetime"):
        return DataValidation(
            type="custom",
            formula1=f'OR(ISNUMBER({first_cell}),ISTEXT({first_cell}))',
            allow_blank=True, showErrorMessage=False, promptTitle=spec.label,
            prompt="dd/mm/yyyy" + (" hh:mm" if spec.type == "datetime" else "")
            + ". " + _TOKENS_HELP,
            showInputMessage=True,
        )
    return None


def _write_instructions(ws: object, form: FormSpec, plans: list[SheetPlan], copies: int) -> None:
    from openpyxl.worksheet.worksheet import Worksheet

    assert isinstance(ws, Worksheet)
    lines = [
        f"{form.title} (form {form.id}, version {form.version}) — keying workbook",
        f"Made {format_uk(utc_now())} for {copies} printed form(s).",
        "",
        "1. Find the row for the form ID printed on the paper (top right of every page) and "
        "the time column or row number.",
        "2. Type what is written, exactly as on the paper. Leave a row empty if that column "
        "of the paper is empty.",
        "3. Type ? where the writing cannot be read and - where nothing was written in a "
        "field that should have a value.",
        "4. Times: dd/mm/yyyy hh:mm (24 h), e.g. 24/01/2018 14:05.",
        "5. Choices: type the printed code (e.g. A, C, V, P, U for consciousness).",
        "6. Type the NEWS2 total as the nurse wrote it, even if it looks wrong: the app "
        "recomputes it and flags a difference for the ward.",
        "7. Do not change rows 1 and 2 or the grey columns; they tie each row to the paper "
        "(the import refuses a row whose form ID, NHS number, hospital number or name do "
        "not match the form: key it on the row of the right form instead). The grey "
        "columns are locked with a sheet password: it is not a security control, only a "
        "guard against accidental edits. "
        "Type values, never formulas (a formula is refused), and only in the columns of "
        "row 1's field ids: anything elsewhere is reported, not imported.",
        "   Blank copies (no patient printed): key the NHS number, or the name and date "
        f"of birth, as written on the paper on the sheet {form.id}.{PATIENT_SHEET}.",
        "   Required fields: a row with any writing needs them; type - where the paper "
        "has nothing.",
        "8. Give the file to the ward PC: paperfallback entries import FILE --clerk "
        "'Your Name'. Problems are listed by sheet, row and column; fix them and import "
        "again (importing twice never duplicates anything).",
        "",
        "Sheets:",
        *(f"  {p.name}: {p.section.title or p.section.id}" for p in plans),
    ]
    for line in lines:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=13)
    ws.column_dimensions["A"].width = 110
