"""Keyed forms as spreadsheets: xlsx (one sheet per form type) or CSV (one file per type).

One row per recorded value (or, for the NEWS2 chart, also the total computed from the
keyed parameters), so an integration team can filter, pivot and load without knowing
the paper layout. Dates and times are ISO 8601; the NHS number is text; every text cell
is neutralised against formula injection (:mod:`paperfallback.export.neutralise`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.domain.news2_input import news2_input
from paperfallback.domain.terminology import LOINC, NEWS2_TOTAL, SNOMED
from paperfallback.export.fhir_measurements import day_start as _day_start
from paperfallback.export.mar_selection import (
    MarDose,
    dose_time_of,
    is_drug_row,
    medicines_of,
    select_regular,
)
from paperfallback.export.model import (
    ExportedForm,
    KeyedRow,
    KeyedValue,
    news2_values,
    parse_when,
    row_fingerprint,
)
from paperfallback.export.state import ExportedUnit, Marks, no_marks
from paperfallback.export.tabular_files import (
    COLUMN_WIDTHS,
    COLUMNS,
    XLSX_MAX_ROWS,
    CsvFiles,
    RowSink,
    XlsxFile,
    cells,
)


@dataclass
class TabularExport:
    """Rows per form type, and the units they came from (to mark as exported)."""

    sheets: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    marks: Marks = field(default_factory=no_marks)  # a MarkSpool for a file export
    new_units: int = 0
    changed_units: int = 0
    repeated_units: int = 0
    unchanged_units: int = 0
    problems: list[str] = field(default_factory=list)  # rows held back, as FHIR holds them
    # Rows written as they are built (a file export: tabular_files) instead of kept in
    # ``sheets``; ``rows`` counts them either way.
    sink: RowSink | None = None
    rows: Counter[str] = field(default_factory=Counter)

    @property
    def row_count(self) -> int:
        return sum(self.rows.values())

    @property
    def is_empty(self) -> bool:
        return self.row_count == 0

    def instance_ids(self) -> list[str]:
        return sorted({m.instance_id for m in self.marks})


def plan_tabular_export(
    forms: Iterable[ExportedForm], previous: Mapping[str, ExportedUnit], *, all_entries: bool,
    sink: RowSink | None = None, marks: Marks | None = None,
) -> TabularExport:
    """What goes into the spreadsheets, read from ``forms`` once; with ``sink`` each row
    is written as it is built."""
    export = TabularExport(sink=sink)
    if marks is not None:
        export.marks = marks
    for form in forms:
        for row in form.rows:
            if not row.values:
                continue
            doses: dict[str, MarDose] | None = None
            if is_drug_row(form, row) and medicines_of(form, row) == "scheduled":
                # The one MAR selection FHIR uses: a row with a problem is held back here
                # too (listed, exit 1), never written without its date, drug or label.
                selection = select_regular(form, row)
                if selection.problems:
                    export.problems.extend(selection.problems)
                    continue
                doses = {d.value.field_id: d for d in selection.doses}
            key = f"{form.instance_id}/{row.key}"
            fingerprint = row_fingerprint(form, row)
            before = previous.get(key)
            if before is None:
                change = "new"
                export.new_units += 1
            elif before.fingerprint != fingerprint:
                change = "corrected"
                export.changed_units += 1
            else:
                export.unchanged_units += 1
                if not all_entries:
                    continue
                change = "repeated"
                export.repeated_units += 1
            for line in value_rows(form, row, change, doses):
                export.rows[form.form_id] += 1
                if sink is not None:
                    sink.write(form.form_id, line)
                else:
                    export.sheets.setdefault(form.form_id, []).append(line)
            export.marks.append(ExportedUnit(key, form.instance_id, fingerprint,
                                             change == "corrected" or bool(before and
                                                                           before.revised)))
    return export


def value_rows(form: ExportedForm, row: KeyedRow, change: str = "new",
               doses: dict[str, MarDose] | None = None) -> Iterator[dict[str, str]]:
    """One spreadsheet row per keyed value of ``row`` (plus the computed NEWS2 total).

    A MAR drug row carries the drug and dose time as printed on every line; a dose
    (``doses``, from the MAR selection) its own moment and, for an omission, the
    legend's label.
    """
    patient = form.patient_for(row)
    effective = _iso(row_time(form, row))
    base = {
        "form_instance_id": form.instance_id,
        "form_id": form.form_id,
        "form_version": form.form_version,
        "section": row.section,
        "row": str(row.index + 1),
        "nhs_number": patient.nhs_number or "" if patient else "",
        "hospital_number": patient.hospital_number or "" if patient else "",
        "downtime_number": patient.downtime_number or "" if patient else "",
        "patient_name": patient.display_name if patient else "",
        "birth_date": patient.birth_date.isoformat() if patient and patient.birth_date else "",
        "effective": effective,
        "printed_at": _iso(form.printed_at),
        "pc_id": form.pc_id,
        "change": change,
    }
    if is_drug_row(form, row):
        base["drug"] = " ".join(x for x in (row.context.get("drug", ""),
                                            row.context.get("dose", ""),
                                            row.context.get("route", "")) if x)
        base["dose_time"] = dose_time_of(row, form)
    for value in sorted(row.values.values(), key=lambda v: v.field_id):
        line = {**base, **_value_columns(value)}
        dose = (doses or {}).get(value.field_id)
        if dose is not None:
            line["effective"] = _iso(dose.when)
            line["choice_label"] = dose.mark.reason
        yield line
    spec = form.definition
    if spec is not None and form.export_of(row) == "news2-vital-signs":
        values = spec.news2_values(row.section, news2_values(row))  # by declared role
        built = news2_input(values, printed_scale=form.spo2_scale)
        computed = built.total
        if computed is not None:
            note = ("computed from the keyed parameters (RCP NEWS2 2017, chart 1; "
                    f"SpO2 scale {built.scale})")
            if built.handwritten is not None and built.handwritten != computed:
                note += f"; DIFFERS from the handwritten total {form.role_text(row, 'news2.total')}"
            yield {**base, "field_id": "news2_total_computed",
                   "field_label": "NEWS2 total (computed)", "value": str(computed),
                   "state": "computed", "snomed_code": NEWS2_TOTAL.code, "note": note,
                   "keyed_at": _iso(row.keyed_at), "keyed_by": ", ".join(row.keyed_by)}


def _value_columns(value: KeyedValue) -> dict[str, str]:
    loinc = [c.code for c in value.codes if c.system == LOINC]
    snomed = [c.code for c in value.codes if c.system == SNOMED]
    other = [f"{c.system}|{c.code}" for c in (*value.codes, *value.choice_codes)
             if c.system not in (LOINC, SNOMED)]
    snomed += [c.code for c in value.choice_codes if c.system == SNOMED]
    return {
        "field_id": value.field_id,
        "field_label": value.label,
        "value": value.text or "" if value.has_value else "",
        "unit": value.unit,
        "state": value.state.value,
        "loinc_code": " ".join(loinc),
        "snomed_code": " ".join(snomed),
        "other_codes": " ".join(other),
        "choice_label": value.choice_label,
        "keyed_by": value.keyed_by,
        "keyed_at": _iso(value.keyed_at),
    }


def row_time(form: ExportedForm, row: KeyedRow) -> datetime | None:
    """When the row happened, as written on the paper (None when it has no time)."""
    printed_day = form.printed_at.astimezone(UK).date()
    for role in _ROW_TIMES:
        text = form.role_text(row, role)
        if text:
            try:
                return parse_when(text, default_day=form.form_date or printed_day)
            except InputError:
                return None
    spec = form.definition
    time_point = form.role_field(row, "time_point")
    day_field = spec.role_field("chart_date") if spec is not None else None
    if spec is not None and time_point is not None and day_field is not None:
        label = row.text(time_point) or row.context.get("time_point", "")
        day_text = next((r.text(day_field.id) for r in form.rows if r.text(day_field.id)), "")
        if re.fullmatch(r"\d{1,2}:\d{2}", label) and day_text:
            try:
                day = date.fromisoformat(day_text[:10])
            except ValueError:
                return None
            hours, minutes = (int(p) for p in label.split(":"))
            when = datetime.combine(day, time(hours, minutes), tzinfo=UK)
            start = _day_start(spec)
            return when + timedelta(days=1) if time(hours, minutes) < start else when
    return None


# The roles that say when a row happened, in the order asked (forms/*.yaml declare them).
_ROW_TIMES = ("observation_time", "administered_at", "outcome_time")


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UK).isoformat(timespec="seconds") if moment else ""


def write_csv(export: TabularExport, folder: Path) -> list[Path]:
    """One ``<form id>.csv`` per form type of a planned export (tabular_files.CsvFiles)."""
    return _write(export, CsvFiles(folder))


def write_xlsx(export: TabularExport, path: Path) -> Path:
    """One workbook, one sheet per form type; a README sheet when there is nothing new."""
    return _write(export, XlsxFile(path))[0]


def _write(export: TabularExport, sink: RowSink) -> list[Path]:
    try:
        for form_id, rows in sorted(export.sheets.items()):
            for row in rows:
                sink.write(form_id, row)
        return sink.finish()
    except BaseException:
        sink.abandon()
        raise


__all__ = ["COLUMNS", "COLUMN_WIDTHS", "XLSX_MAX_ROWS", "cells"]
