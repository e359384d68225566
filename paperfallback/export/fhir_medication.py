"""The MAR: a MedicationAdministration per administration or omission.

Regular medicines are keyed one row per printed dose time, so a cell is one dose: its
``effectiveDateTime`` is the date of its day column (printed on the chart, or keyed from
the handwritten header) at the row's dose time (keyed, else printed). A day column with
no known date is reported, never guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from paperfallback.cache.staleness import UK
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
    where,
)
from paperfallback.export.model import (
    KeyedRow,
    fhir_datetime,
)

_SECTIONS = ("regular", "prn", "once_infusions")


def mar_units(ctx: FormContext, rows: list[KeyedRow]) -> list[BuiltUnit]:
    """The rows of ``medication-administration`` sections (the MAR's three tables)."""
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in rows:
        if row.section in _SECTIONS and not row.context.get("drug"):
            # A blank row: the medicine was handwritten and is not keyed, so there is no
            # drug to administer. The row goes out as written (QuestionnaireResponse).
            other.append(row)
        elif row.section == "regular":
            units.append(_mar_regular(ctx, row))
        elif row.section == "prn":
            units.append(_mar_prn(ctx, row))
        elif row.section == "once_infusions":
            units.append(_mar_once(ctx, row))
        else:
            other.append(row)
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
    unit = new_unit(ctx, row.key, [row])
    given = sorted(
        ((int(fid.rsplit("_", 1)[1]), v) for fid, v in row.values.items()
         if fid.startswith("reg_given_") and fid.rsplit("_", 1)[1].isdigit()),
        key=lambda item: item[0],
    )
    if not any(v.has_value for _, v in given):
        return questionnaire_fallback(ctx, row, unit)
    subject = subject_of(ctx, row, unit)
    dose_time = row.text("reg_time") or row.context.get("dose_time", "")
    if subject is None:
        return unit
    if not re.fullmatch(r"\d{1,2}:\d{2}", dose_time):
        unit.problems.append(f"{where(ctx, row)}: no dose time keyed or printed (reg_time)")
        return unit
    hours, minutes = (int(p) for p in dose_time.split(":"))
    for day, value in given:
        if not value.has_value:
            continue
        day_text = row.context.get(f"day_{day}", "")
        try:
            day_date = date.fromisoformat(day_text)
        except ValueError:
            unit.problems.append(
                f"{where(ctx, row)}: the date of day column {day} is not keyed "
                f"(day_date_{day}): key the date written over that column"
            )
            continue
        when = datetime.combine(day_date, time(hours, minutes), tzinfo=UK)
        if value.keyed_at is not None and when > value.keyed_at:
            unit.problems.append(
                f"{where(ctx, row)}: day {day} at {dose_time} is {when:%d-%b-%Y %H:%M}, "
                "after it was keyed: check the date of the day column and the dose time"
            )
            continue
        text = (value.text or "").strip()
        note = ""
        if row.context.get(f"day_{day}_source") == "keyed":
            note = "Date of the day column as handwritten on the paper MAR and keyed."
        if text in OMISSION_REASONS:
            resource = _administration(
                ctx, row, subject, status="not-done", when=when,
                reason=f"Omission code {text}: {OMISSION_REASONS[text]}", note=note,
            )
        elif re.fullmatch(r"[A-Za-z][A-Za-z.'\- ]{0,7}", text):
            resource = _administration(ctx, row, subject, status="completed", when=when,
                                       initials=text, note=note)
        else:
            unit.problems.append(
                f"{where(ctx, row)}: day {day}: {text!r} is neither initials nor an "
                "omission code 1-8"
            )
            continue
        unit.entries.append(identified(
            resource, ctx.systems, entry_id(ctx.form.instance_id, value.field_id, row.index)
        ))
    return unit


def _mar_prn(ctx: FormContext, row: KeyedRow) -> BuiltUnit:
    unit = new_unit(ctx, row.key, [row])
    counts = sorted({int(fid.rsplit("_", 1)[1]) for fid in row.values
                     if fid.startswith("prn_time_") and fid.rsplit("_", 1)[1].isdigit()})
    if not counts:
        return questionnaire_fallback(ctx, row, unit)
    subject = subject_of(ctx, row, unit)
    if subject is None:
        return unit
    for n in counts:
        when = row_time(ctx, row, f"prn_time_{n}", unit)
        if when is None:
            continue
        resource = _administration(
            ctx, row, subject, status="completed", when=when,
            initials=row.text(f"prn_initials_{n}"), dose=row.text(f"prn_given_dose_{n}"),
        )
        unit.entries.append(identified(
            resource, ctx.systems, entry_id(ctx.form.instance_id, f"prn_time_{n}", row.index)
        ))
    return unit


def _mar_once(ctx: FormContext, row: KeyedRow) -> BuiltUnit:
    unit = new_unit(ctx, row.key, [row])
    if not row.text("once_started"):
        return questionnaire_fallback(ctx, row, unit)
    subject = subject_of(ctx, row, unit)
    start = row_time(ctx, row, "once_started", unit)
    if subject is None or start is None:
        return unit
    end = None
    if row.text("once_stopped"):
        end = row_time(ctx, row, "once_stopped", unit)
    checked = row.text("once_checked")
    resource = _administration(
        ctx, row, subject, status="completed", when=start, end=end,
        initials=row.text("once_initials"),
        note=f"Checked by (initials on the paper MAR): {checked}" if checked else "",
    )
    unit.entries.append(identified(
        resource, ctx.systems, entry_id(ctx.form.instance_id, "once_started", row.index)
    ))
    return unit
