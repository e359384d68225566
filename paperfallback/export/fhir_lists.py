"""Clinic and theatre lists: outcomes as Appointment status patches and Procedures."""

from __future__ import annotations

from typing import Any

from paperfallback.export.fhir_common import (
    BuiltEntry,
    entry_id,
    full_url_for,
    identified,
)
from paperfallback.export.fhir_units import (
    FHIR_ID,
    BuiltUnit,
    FormContext,
    new_unit,
    questionnaire,
    questionnaire_rows,
    subject_of,
    where,
)
from paperfallback.export.model import KeyedRow

# Clinic outcome codes (forms/clinic-list.yaml) -> Appointment.status (FHIR R4).
CLINIC_STATUS: dict[str, str] = {
    "ATT": "fulfilled",
    "DNA": "noshow",
    "CAN": "cancelled",
    "REB": "cancelled",  # rebooked: this appointment will not happen; a new one is booked
    "TEL": "fulfilled",  # contacted by phone instead
}
# Theatre outcome codes (forms/theatre-list.yaml) -> Procedure.status.
THEATRE_STATUS: dict[str, str] = {"DONE": "completed", "POST": "not-done", "CANC": "not-done"}


def clinic_units(ctx: FormContext, rows: list[KeyedRow]) -> list[BuiltUnit]:
    """Rows of ``appointment-status`` sections: the field with role ``outcome``."""
    units: list[BuiltUnit] = []
    for row in rows:
        outcome = ctx.form.role_text(row, "outcome").upper()
        if not outcome:
            units.extend(questionnaire_rows(ctx, [row]))
            continue
        unit = new_unit(ctx, row.key, [row])
        units.append(unit)
        status = CLINIC_STATUS.get(outcome)
        if status is None:
            unit.problems.append(f"{where(ctx, row)}: unknown outcome code {outcome!r}")
            continue
        if not row.source_ref or not FHIR_ID.match(row.source_ref):
            unit.problems.append(
                f"{where(ctx, row)}: the outcome is on a row with no booked appointment "
                "(a blank row): book it on the EPR by hand"
            )
            continue
        url = f"Appointment/{row.source_ref}"
        patch = {
            "resourceType": "Parameters",
            "parameter": [{
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Appointment.status"},
                    {"name": "value", "valueCode": status},
                ],
            }],
        }
        unit.entries.append(BuiltEntry(patch, full_url_for(ctx.systems.entry, url + "/status"),
                                       "PATCH", url, None, url))
        subject = subject_of(ctx, row, unit)
        if subject is not None:
            unit.entries.append(questionnaire(ctx, [row], subject, unit))
    return units


def theatre_units(ctx: FormContext, rows: list[KeyedRow]) -> list[BuiltUnit]:
    """Rows of ``procedure`` sections: roles ``outcome``, ``outcome_reason``, ``performer``."""
    units: list[BuiltUnit] = []
    for row in rows:
        outcome = ctx.form.role_text(row, "outcome").upper()
        if not outcome:
            units.extend(questionnaire_rows(ctx, [row]))
            continue
        unit = new_unit(ctx, row.key, [row])
        units.append(unit)
        status = THEATRE_STATUS.get(outcome)
        if status is None:
            unit.problems.append(f"{where(ctx, row)}: unknown outcome code {outcome!r}")
            continue
        subject = subject_of(ctx, row, unit)
        if subject is None:
            continue
        procedure = row.context.get("procedure") or "Procedure as on the paper theatre list"
        resource: dict[str, Any] = {
            "resourceType": "Procedure",
            "status": status,
            "code": {"text": procedure},
            "subject": subject,
        }
        reason = ctx.form.role_text(row, "outcome_reason")
        if status == "not-done":
            what = "Postponed" if outcome == "POST" else "Cancelled"
            resource["statusReason"] = {"text": f"{what}: {reason}" if reason else what}
        day = ctx.form.form_date
        if status == "completed" and day is not None:
            resource["performedDateTime"] = day.isoformat()
        notes = [f"Outcome on the paper theatre list: {outcome}"
                 + (f", reason: {reason}" if reason else "")]
        initials = ctx.form.role_text(row, "performer")
        if initials:
            notes.append(f"Initials: {initials}")
        if row.source_ref:
            notes.append(f"Theatre case {row.source_ref} in the EPR extract")
        resource["note"] = [{"text": "; ".join(notes)}]
        unit.entries.append(identified(
            resource, ctx.systems,
            entry_id(ctx.form.instance_id, ctx.form.role_field(row, "outcome") or "", row.index)
        ))
    return units
