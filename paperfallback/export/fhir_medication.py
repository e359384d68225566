"""The MAR: a MedicationAdministration per administration or omission.

What a row records is declared by its section (``medicines:`` in forms/*.yaml) and each
value's meaning by its field's ``role``; no section or field id is read here, so a site
MAR with other ids exports the same resources.

Regular medicines are keyed one row per printed dose time, so a cell is one dose: its
``effectiveDateTime`` is the date of its day column (printed on the chart, or keyed from
the handwritten header) at the row's dose time (keyed, else printed). A day column with
no known date is reported, never guessed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from paperfallback.domain.terminology import OMISSION_REASONS as OMISSION_REASONS
from paperfallback.export.fhir_common import (
    entry_id,
    identified,
    quantity,
)
from paperfallback.export.fhir_units import (
    BuiltUnit,
    FormContext,
    fhir_id_reference,
    new_unit,
    questionnaire_fallback,
    questionnaire_rows,
    row_time,
    subject_of,
)
from paperfallback.export.mar_selection import is_drug_row, medicines_of, repeats, select_regular
from paperfallback.export.model import (
    KeyedRow,
    fhir_datetime,
)
from paperfallback.formspec.models import repeat_cell_id


def mar_units(ctx: FormContext, rows: list[KeyedRow]) -> list[BuiltUnit]:
    """The rows of ``medication-administration`` sections, by what each declares."""
    builders = {"scheduled": _mar_regular, "as-required": _mar_prn, "once-only": _mar_once}
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in rows:
        kind = medicines_of(ctx.form, row)
        if kind is None or not is_drug_row(ctx.form, row):
            # A blank row: the medicine was handwritten and is not keyed, so there is no
            # drug to administer. The row goes out as written (QuestionnaireResponse).
            other.append(row)
        else:
            units.append(builders[kind](ctx, row))
    return units + questionnaire_rows(ctx, other)


def _administration(
    ctx: FormContext, row: KeyedRow, subject: dict[str, Any], *, status: str, when: datetime,
    end: datetime | None = None, initials: str = "", dose: str = "", reason: str = "",
    note: str = "",
) -> dict[str, Any]:
    drug = row.context["drug"]
    medication: dict[str, Any] = {"text": drug}
    if row.context.get("drug_code"):
        medication["coding"] = [{"system": "https://dmd.nhs.uk",
                                 "code": row.context["drug_code"], "display": drug}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "status": status,
        "medicationCodeableConcept": medication,
        "subject": subject,
    }
    if end is not None:
        resource["effectivePeriod"] = {"start": fhir_datetime(when), "end": fhir_datetime(end)}
    else:
        resource["effectiveDateTime"] = fhir_datetime(when)
    if reason:
        resource["statusReason"] = [{"text": reason}]
    if initials:
        resource["performer"] = [{"actor": {"display": f"Initials on the paper MAR: {initials}"}}]
    if row.source_ref:
        resource["request"] = fhir_id_reference(
            "MedicationRequest", row.source_ref, f"Prescription: {drug}"
        )
    dose_text = dose or row.context.get("dose", "")
    route = row.context.get("route", "")
    amount = _DOSE.fullmatch(dose_text.strip())
    if amount:  # FHIR R4 mad-1: a dosage SHALL have a dose or a rate (a real EPR refuses it)
        resource["dosage"] = {"text": dose_text,
                              "dose": quantity(float(amount[1]), amount[2] or "", amount[1])}
        if route:
            resource["dosage"]["route"] = {"text": route}
    elif dose_text or route:  # a dose that is not one number (+ unit) stays as written
        written = "; ".join(p for p in (dose_text and f"Dose as written: {dose_text}",
                                        route and f"route: {route}") if p)
        note = f"{note}. {written}" if note else written
    if note:
        resource["note"] = [{"text": note}]
    return resource


_DOSE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-zµ]+)?")


def _mar_regular(ctx: FormContext, row: KeyedRow) -> BuiltUnit:
    """Every dose of the row from the one MAR selection (the CSV/xlsx export reads the
    same): a row with any problem is held back whole."""
    unit = new_unit(ctx, row.key, [row])
    selection = select_regular(ctx.form, row)
    if not selection.has_marks:
        return questionnaire_fallback(ctx, row, unit)
    subject = subject_of(ctx, row, unit)
    if subject is None:
        return unit
    unit.problems.extend(selection.problems)
    for dose in selection.doses:
        note = ("Date of the day column as handwritten on the paper MAR and keyed."
                if dose.date_keyed else "")
        if dose.mark.given:
            resource = _administration(ctx, row, subject, status="completed", when=dose.when,
                                       initials=dose.mark.initials, note=note)
        else:
            resource = _administration(ctx, row, subject, status="not-done", when=dose.when,
                                       reason=dose.mark.reason, note=note)
        unit.entries.append(identified(
            resource, ctx.systems,
            entry_id(ctx.form.instance_id, dose.value.field_id, row.index)
        ))
    return unit


def _mar_prn(ctx: FormContext, row: KeyedRow) -> BuiltUnit:
    """An as-required log: an administration per logged time (``administered_at`` in the
    repeat), with the ``dose_given`` and ``performer`` of the same repeat."""
    unit = new_unit(ctx, row.key, [row])
    times = repeats(ctx.form, row, "administered_at")
    counts = sorted(times)
    if not counts:
        return questionnaire_fallback(ctx, row, unit)
    subject = subject_of(ctx, row, unit)
    if subject is None:
        return unit

    def cell(role: str, n: int) -> str:
        base = ctx.form.role_field(row, role)
        return row.text(repeat_cell_id(base, n)) if base else ""

    for n in counts:
        field_id = times[n].field_id
        when = row_time(ctx, row, field_id, unit)
        if when is None:
            continue
        resource = _administration(
            ctx, row, subject, status="completed", when=when,
            initials=cell("performer", n), dose=cell("dose_given", n),
        )
        unit.entries.append(identified(
            resource, ctx.systems, entry_id(ctx.form.instance_id, field_id, row.index)
        ))
    return unit


def _mar_once(ctx: FormContext, row: KeyedRow) -> BuiltUnit:
    """A once-only medicine or infusion: one administration at ``administered_at``, over a
    period when ``stopped_at`` is keyed."""
    unit = new_unit(ctx, row.key, [row])
    started = ctx.form.role_field(row, "administered_at")
    if started is None or not row.text(started):
        return questionnaire_fallback(ctx, row, unit)
    subject = subject_of(ctx, row, unit)
    start = row_time(ctx, row, started, unit)
    if subject is None or start is None:
        return unit
    end = None
    stopped = ctx.form.role_field(row, "stopped_at")
    if stopped and row.text(stopped):
        end = row_time(ctx, row, stopped, unit)
    checked = ctx.form.role_text(row, "checked_by")
    resource = _administration(
        ctx, row, subject, status="completed", when=start, end=end,
        initials=ctx.form.role_text(row, "performer"),
        note=f"Checked by (initials on the paper MAR): {checked}" if checked else "",
    )
    unit.entries.append(identified(
        resource, ctx.systems, entry_id(ctx.form.instance_id, started, row.index)
    ))
    return unit
