"""What of a keyed MAR row is exportable: one selection for CSV/xlsx and FHIR.

Before (issue #13 item 12) the FHIR export held back a regular-medicine row whose dose
could not be dated or whose cell was not a legend code, while CSV/xlsx wrote the same row
with exit 0, no ``effective`` time and no drug, dose time or omission label. Now both read
a row through :func:`select_regular`: a row with any problem is held back from every
format and listed (the command exits 1); every dose that goes out carries its moment,
the drug as printed, the dose time and, for an omission, the legend's label.
The cell rules themselves are :mod:`paperfallback.reentry.mar_doses` (also used when
the value is keyed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from paperfallback.domain.errors import InputError
from paperfallback.export.model import ExportedForm, KeyedRow, KeyedValue
from paperfallback.formspec.models import TableSection, repeat_number
from paperfallback.reentry import mar_doses
from paperfallback.reentry.mar_doses import MarMark


@dataclass(frozen=True, slots=True)
class MarDose:
    """One dose of a regular medicine as it goes out, in every format."""

    value: KeyedValue
    day: int
    when: datetime
    drug: str
    dose_time: str
    mark: MarMark
    date_keyed: bool  # the date of the day column was handwritten and keyed


@dataclass
class RegularRow:
    doses: list[MarDose] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    has_marks: bool = False  # any day cell keyed as a value


def medicines_of(form: ExportedForm, row: KeyedRow) -> str | None:
    """What the row's section declares its drug rows record (``medicines:`` in the
    YAML: scheduled, as-required, once-only), None for a section of other rows."""
    spec = form.definition
    if spec is None or form.export_of(row) != "medication-administration":
        return None
    return spec.medicines(row.section)


def is_drug_row(form: ExportedForm, row: KeyedRow) -> bool:
    """A MAR row printed with a drug (a blank row's drug is handwritten, not keyed)."""
    return medicines_of(form, row) is not None and bool(row.context.get("drug"))


def repeats(form: ExportedForm, row: KeyedRow, role: str) -> dict[int, KeyedValue]:
    """Repeat number -> the keyed cell of the repeated field declaring ``role`` (the day
    cells of a scheduled medicine, the times of an as-required log)."""
    base = form.role_field(row, role)
    return {n: v for fid, v in row.values.items()
            if base and (n := repeat_number(fid, base)) is not None}


def _day_field(form: ExportedForm, row: KeyedRow) -> str:
    spec = form.definition
    section = spec.section(row.section) if spec is not None else None
    day = (section.repeat.day_field if isinstance(section, TableSection)
           and section.repeat is not None else None)
    return day.id if day is not None else "the date of the day column"


def dose_time_of(row: KeyedRow, form: ExportedForm | None = None) -> str:
    """The row's dose time: keyed (the field declaring ``dose_time``), else printed."""
    keyed = form.role_text(row, "dose_time") if form is not None else ""
    return keyed or row.context.get("dose_time", "")


def where(form: ExportedForm, row: KeyedRow) -> str:
    return f"form {form.instance_id} ({form.form_id}) {row.section} {row.index + 1}"


def select_regular(form: ExportedForm, row: KeyedRow) -> RegularRow:
    """The doses of one regular-medicine row, or the problems that hold it back."""
    out = RegularRow()
    given = sorted((day, v) for day, v in repeats(form, row, "administration").items()
                   if v.has_value)  # the day cells, by declared role
    out.has_marks = bool(given)
    if not given:
        return out
    dose_time = dose_time_of(row, form)
    if not dose_time or mar_doses.dose_moment(date(2000, 1, 1), dose_time) is None:
        out.problems.append(f"{where(form, row)}: no dose time keyed or printed "
                            f"({form.role_field(row, 'dose_time') or 'dose_time'})")
        return out
    for day, value in given:
        day_text = row.context.get(f"day_{day}", "")
        try:
            day_date = date.fromisoformat(day_text)
        except ValueError:
            out.problems.append(
                f"{where(form, row)}: the date of day column {day} is not keyed "
                f"({_day_field(form, row)}_{day}): key the date written over that column")
            continue
        when = mar_doses.dose_moment(day_date, dose_time)
        assert when is not None
        try:
            if value.keyed_at is not None:
                mar_doses.check_not_after(when, value.keyed_at, day=day, dose_time=dose_time)
        except InputError as exc:
            out.problems.append(f"{where(form, row)}: {exc}")
            continue
        try:
            mark = mar_doses.read_mark(value.text or "")
        except InputError as exc:
            out.problems.append(f"{where(form, row)}: day {day}: {exc}")
            continue
        out.doses.append(MarDose(value, day, when, row.context.get("drug", ""), dose_time,
                                 mark, row.context.get(f"day_{day}_source") == "keyed"))
    return out
