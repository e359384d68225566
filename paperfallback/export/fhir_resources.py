"""Build the FHIR R4 (UK Core) resources for one keyed paper form.

One builder per kind of form, chosen by form id; anything a builder does not model
becomes a QuestionnaireResponse, so no keyed value is dropped on the way to the EPR:

- ``news2``: vital-sign Observations and the computed NEWS2 total (fhir_news2);
- ``mar``: a MedicationAdministration per administration or omission;
- ``fluid-balance``: an Observation per recorded intake or output and the 24 h totals;
- ``clinic-list``: the Appointment's status, as a FHIRPath Patch of ``status`` only (the
  EPR keeps everything else it holds), plus the row as a QuestionnaireResponse;
- ``theatre-list``: a Procedure per case outcome (done, or not-done with the reason);
- ``downtime-registration``: Patient + Encounter carrying the downtime number.

Each *unit* (a chart column, a table row, or a whole registration) gets one Provenance
saying who keyed it, when, from which paper form, entered retrospectively in downtime.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.export.fhir_common import (
    BuiltEntry,
    SiteSystems,
    data_absent,
    deterministic_id,
    entry_id,
    field_concept,
    full_url_for,
    identified,
    patient_reference,
    quantity,
)
from paperfallback.export.fhir_news2 import news2_column
from paperfallback.export.model import (
    NHS_NUMBER_SYSTEM,
    ExportedForm,
    KeyedRow,
    KeyedValue,
    PatientRef,
    ValueState,
    fhir_datetime,
    parse_when,
    row_fingerprint,
)

RETROSPECTIVE_TEXT = "Entered retrospectively from paper during downtime"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ENCOUNTER_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

# MAR omission codes, as the legend of forms/mar.yaml prints them (a test keeps them equal).
OMISSION_REASONS: dict[str, str] = {
    "1": "Patient refused",
    "2": "Nil by mouth",
    "3": "Drug unavailable (inform prescriber)",
    "4": "Patient away from ward",
    "5": "Vomiting / unable to take",
    "6": "Withheld on clinical grounds (document why)",
    "7": "Self-administered",
    "8": "Other (document in notes)",
}
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
SEX_CODES = {"M": "male", "F": "female", "O": "other", "U": "unknown"}
FLUID_SKIP = {"fb_hour", "in_running", "out_running", "balance_running", "fb_initials"}


@dataclass
class BuiltUnit:
    """What one unit of keying (column, row, registration) exports as."""

    key: str  # '<instance>/<section>/<n>': what the export state marks as done
    instance_id: str
    fingerprint: str
    entries: list[BuiltEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def exportable(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class _Ctx:
    form: ExportedForm
    systems: SiteSystems


Builder = Callable[[_Ctx], list[BuiltUnit]]


def build_form(form: ExportedForm, systems: SiteSystems) -> list[BuiltUnit]:
    """Every unit of ``form``, each with its resources and its Provenance."""
    ctx = _Ctx(form, systems)
    builder = _BUILDERS.get(form.form_id, _questionnaire_units)
    units = builder(ctx)
    for unit in units:
        if unit.entries and not unit.problems:
            unit.entries.append(_provenance(ctx, unit))
    return units


# ---- shared helpers ------------------------------------------------------------------------


def _unit(
    ctx: _Ctx, key: str, rows: Iterable[KeyedRow], depends: Iterable[KeyedRow] = ()
) -> BuiltUnit:
    parts = [row_fingerprint(ctx.form, r) for r in (*rows, *depends)]
    return BuiltUnit(
        key=f"{ctx.form.instance_id}/{key}",
        instance_id=ctx.form.instance_id,
        fingerprint="-".join(parts) if len(parts) == 1 else _short_hash(parts),
    )


def _short_hash(parts: list[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _subject(ctx: _Ctx, row: KeyedRow, unit: BuiltUnit) -> dict[str, Any] | None:
    patient = ctx.form.patient_for(row)
    if patient is None or not patient.is_identified:
        unit.problems.append(
            f"{_where(ctx, row)}: no NHS number, hospital number or downtime number for the "
            "patient, so it cannot be attached to a record"
        )
        return None
    return patient_reference(patient, ctx.systems)


def _where(ctx: _Ctx, row: KeyedRow) -> str:
    return f"form {ctx.form.instance_id} ({ctx.form.form_id}) {row.section} {row.index + 1}"


def _rows(ctx: _Ctx, section: str) -> list[KeyedRow]:
    return [r for r in ctx.form.rows if r.section == section]


def _row_time(ctx: _Ctx, row: KeyedRow, field_id: str, unit: BuiltUnit) -> datetime | None:
    value = row.get(field_id)
    if value is None or not value.has_value:
        unit.problems.append(f"{_where(ctx, row)}: no date and time keyed ({field_id})")
        return None
    try:
        return parse_when(value.text or "", default_day=ctx.form.printed_at.astimezone(UK).date())
    except InputError as exc:
        unit.problems.append(f"{_where(ctx, row)}: {exc}")
        return None


def _keyed_at(ctx: _Ctx, rows: Iterable[KeyedRow]) -> datetime:
    times = [r.keyed_at for r in rows if r.keyed_at is not None]
    return max(times) if times else ctx.form.printed_at


def _fhir_id_reference(kind: str, ref: str, display: str = "") -> dict[str, Any]:
    """A literal reference to the EPR's record when the cache kept a FHIR id, else a
    display-only reference (never a guessed id)."""
    if ref and FHIR_ID.match(ref):
        out: dict[str, Any] = {"reference": f"{kind}/{ref}"}
        if display:
            out["display"] = display
        return out
    return {"display": display or f"{kind} {ref}".strip()}


# ---- NEWS2 -----------------------------------------------------------------------------------


def _news2_units(ctx: _Ctx) -> list[BuiltUnit]:
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in ctx.form.rows:
        if row.section != "observations":
            other.append(row)
            continue
        unit = _unit(ctx, row.key, [row])
        units.append(unit)
        subject = _subject(ctx, row, unit)
        when = _row_time(ctx, row, "obs_time", unit)
        if subject is None or when is None:
            continue
        column = news2_column(ctx.form, row, subject=subject, effective=when,
                              systems=ctx.systems, update=False)
        unit.entries.extend(column.entries)
        unit.problems.extend(f"{_where(ctx, row)}: {p}" for p in column.problems)
    return units + _questionnaire_rows(ctx, other)


# ---- MAR -------------------------------------------------------------------------------------


def _mar_units(ctx: _Ctx) -> list[BuiltUnit]:
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in ctx.form.rows:
        if row.section == "regular":
            units.append(_mar_regular(ctx, row))
        elif row.section == "prn":
            units.append(_mar_prn(ctx, row))
        elif row.section == "once_infusions":
            units.append(_mar_once(ctx, row))
        else:
            other.append(row)
    return units + _questionnaire_rows(ctx, other)


def _administration(
    ctx: _Ctx, row: KeyedRow, subject: dict[str, Any], *, status: str, when: datetime,
    end: datetime | None = None, initials: str = "", dose: str = "", reason: str = "",
    note: str = "",
) -> dict[str, Any]:
    drug = row.context.get("drug") or "Medicine as written on the paper chart"
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
        resource["request"] = _fhir_id_reference(
            "MedicationRequest", row.source_ref, f"Prescription: {drug}"
        )
    dosage: dict[str, Any] = {}
    dose_text = dose or row.context.get("dose", "")
    if dose_text:
        dosage["text"] = dose_text
    if row.context.get("route"):
        dosage["route"] = {"text": row.context["route"]}
    if dosage:
        resource["dosage"] = dosage
    if note:
        resource["note"] = [{"text": note}]
    return resource


def _mar_regular(ctx: _Ctx, row: KeyedRow) -> BuiltUnit:
    unit = _unit(ctx, row.key, [row])
    given = sorted(
        ((int(fid.rsplit("_", 1)[1]), v) for fid, v in row.values.items()
         if fid.startswith("reg_given_") and fid.rsplit("_", 1)[1].isdigit()),
        key=lambda item: item[0],
    )
    if not any(v.has_value for _, v in given):
        return _questionnaire_fallback(ctx, row, unit)
    subject = _subject(ctx, row, unit)
    dose_time = row.text("reg_time") or row.context.get("dose_time", "")
    if subject is None:
        return unit
    if not re.fullmatch(r"\d{1,2}:\d{2}", dose_time):
        unit.problems.append(f"{_where(ctx, row)}: no dose time keyed or printed (reg_time)")
        return unit
    hours, minutes = (int(p) for p in dose_time.split(":"))
    for day, value in given:
        if not value.has_value:
            continue
        day_text = row.context.get(f"day_{day}", "")
        try:
            day_date = date.fromisoformat(day_text)
        except ValueError:
            unit.problems.append(f"{_where(ctx, row)}: the date of day {day} is not known")
            continue
        when = datetime.combine(day_date, time(hours, minutes), tzinfo=UK)
        text = (value.text or "").strip()
        note = ""
        if row.context.get("days_inferred"):
            note = (f"Date taken as day {day} of the chart from the day it was printed "
                    f"({ctx.form.printed_at.astimezone(UK):%d-%b-%Y}); the column date is "
                    "handwritten on the paper.")
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
                f"{_where(ctx, row)}: day {day}: {text!r} is neither initials nor an "
                "omission code 1-8"
            )
            continue
        unit.entries.append(identified(
            resource, ctx.systems, entry_id(ctx.form.instance_id, value.field_id, row.index)
        ))
    return unit


def _mar_prn(ctx: _Ctx, row: KeyedRow) -> BuiltUnit:
    unit = _unit(ctx, row.key, [row])
    counts = sorted({int(fid.rsplit("_", 1)[1]) for fid in row.values
                     if fid.startswith("prn_time_") and fid.rsplit("_", 1)[1].isdigit()})
    if not counts:
        return _questionnaire_fallback(ctx, row, unit)
    subject = _subject(ctx, row, unit)
    if subject is None:
        return unit
    for n in counts:
        when = _row_time(ctx, row, f"prn_time_{n}", unit)
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


def _mar_once(ctx: _Ctx, row: KeyedRow) -> BuiltUnit:
    unit = _unit(ctx, row.key, [row])
    if not row.text("once_started"):
        return _questionnaire_fallback(ctx, row, unit)
    subject = _subject(ctx, row, unit)
    start = _row_time(ctx, row, "once_started", unit)
    if subject is None or start is None:
        return unit
    end = None
    if row.text("once_stopped"):
        end = _row_time(ctx, row, "once_stopped", unit)
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


# ---- fluid balance ---------------------------------------------------------------------------


def _fluid_units(ctx: _Ctx) -> list[BuiltUnit]:
    day_rows = _rows(ctx, "day")
    chart_day: date | None = None
    for row in day_rows:
        if row.text("fb_date"):
            try:
                chart_day = date.fromisoformat(row.text("fb_date")[:10])
            except ValueError:
                chart_day = None
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in ctx.form.rows:
        if row.section == "hours":
            unit = _unit(ctx, row.key, [row], depends=day_rows)
            units.append(unit)
            values = [v for v in row.values.values()
                      if v.field_id not in FLUID_SKIP and (v.has_value or
                                                           v.state is ValueState.ILLEGIBLE)]
            if not values:
                continue
            subject = _subject(ctx, row, unit)
            when = _fluid_hour(ctx, row, chart_day, unit)
            if subject is None or when is None:
                continue
            initials = row.text("fb_initials")
            for value in values:
                resource = _measurement(ctx, value, subject, initials)
                resource["effectiveDateTime"] = fhir_datetime(when)
                unit.entries.append(identified(
                    resource, ctx.systems,
                    entry_id(ctx.form.instance_id, value.field_id, row.index),
                ))
        elif row.section == "totals" and chart_day is not None:
            unit = _unit(ctx, row.key, [row], depends=day_rows)
            units.append(unit)
            subject = _subject(ctx, row, unit)
            if subject is None:
                continue
            start = datetime.combine(chart_day, time(7, 0), tzinfo=UK)
            period = {"start": fhir_datetime(start),
                      "end": fhir_datetime(start + timedelta(days=1))}
            checked = row.text("totals_initials")
            for value in row.values.values():
                if value.field_id == "totals_initials" or not value.has_value:
                    continue
                resource = _measurement(ctx, value, subject, checked)
                resource["effectivePeriod"] = period
                unit.entries.append(identified(
                    resource, ctx.systems,
                    entry_id(ctx.form.instance_id, value.field_id, row.index),
                ))
        else:
            other.append(row)
    return units + _questionnaire_rows(ctx, other)


def _fluid_hour(
    ctx: _Ctx, row: KeyedRow, chart_day: date | None, unit: BuiltUnit
) -> datetime | None:
    label = row.text("fb_hour") or row.context.get("time_point", "")
    if chart_day is None or not re.fullmatch(r"\d{1,2}:\d{2}", label):
        unit.problems.append(
            f"{_where(ctx, row)}: the chart date (fb_date) or the hour is not keyed"
        )
        return None
    hours, minutes = (int(p) for p in label.split(":"))
    day = chart_day + timedelta(days=1) if hours < 7 else chart_day  # the chart runs 07:00-06:00
    return datetime.combine(day, time(hours, minutes), tzinfo=UK)


def _measurement(
    ctx: _Ctx, value: KeyedValue, subject: dict[str, Any], initials: str
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": field_concept(value, ctx.systems, ctx.form.form_id),
        "subject": subject,
    }
    number = value.number()
    if number is None:
        resource["dataAbsentReason"] = data_absent()
    else:
        resource["valueQuantity"] = quantity(number, value.unit, value.text)
    if initials:
        resource["performer"] = [{"display": f"Initials on the paper chart: {initials}"}]
    return resource


# ---- clinic and theatre lists ----------------------------------------------------------------


def _clinic_units(ctx: _Ctx) -> list[BuiltUnit]:
    units: list[BuiltUnit] = []
    for row in ctx.form.rows:
        outcome = row.text("cl_outcome").upper()
        if row.section != "appointments" or not outcome:
            units.extend(_questionnaire_rows(ctx, [row]))
            continue
        unit = _unit(ctx, row.key, [row])
        units.append(unit)
        status = CLINIC_STATUS.get(outcome)
        if status is None:
            unit.problems.append(f"{_where(ctx, row)}: unknown outcome code {outcome!r}")
            continue
        if not row.source_ref or not FHIR_ID.match(row.source_ref):
            unit.problems.append(
                f"{_where(ctx, row)}: the outcome is on a row with no booked appointment "
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
        subject = _subject(ctx, row, unit)
        if subject is not None:
            unit.entries.append(_questionnaire(ctx, [row], subject, unit))
    return units


def _theatre_units(ctx: _Ctx) -> list[BuiltUnit]:
    units: list[BuiltUnit] = []
    for row in ctx.form.rows:
        outcome = row.text("th_outcome").upper()
        if row.section != "cases" or not outcome:
            units.extend(_questionnaire_rows(ctx, [row]))
            continue
        unit = _unit(ctx, row.key, [row])
        units.append(unit)
        status = THEATRE_STATUS.get(outcome)
        if status is None:
            unit.problems.append(f"{_where(ctx, row)}: unknown outcome code {outcome!r}")
            continue
        subject = _subject(ctx, row, unit)
        if subject is None:
            continue
        procedure = row.context.get("procedure") or "Procedure as on the paper theatre list"
        resource: dict[str, Any] = {
            "resourceType": "Procedure",
            "status": status,
            "code": {"text": procedure},
            "subject": subject,
        }
        reason = row.text("th_reason")
        if status == "not-done":
            what = "Postponed" if outcome == "POST" else "Cancelled"
            resource["statusReason"] = {"text": f"{what}: {reason}" if reason else what}
        day = ctx.form.form_date
        if status == "completed" and day is not None:
            resource["performedDateTime"] = day.isoformat()
        notes = [f"Outcome on the paper theatre list: {outcome}"
                 + (f", reason: {reason}" if reason else "")]
        if row.text("th_initials"):
            notes.append(f"Initials: {row.text('th_initials')}")
        if row.source_ref:
            notes.append(f"Theatre case {row.source_ref} in the EPR extract")
        resource["note"] = [{"text": "; ".join(notes)}]
        unit.entries.append(identified(
            resource, ctx.systems, entry_id(ctx.form.instance_id, "th_outcome", row.index)
        ))
    return units


# ---- downtime registration -------------------------------------------------------------------


def _registration_units(ctx: _Ctx) -> list[BuiltUnit]:
    form = ctx.form
    rows = list(form.rows)
    unit = _unit(ctx, "registration", rows)
    values: dict[str, KeyedValue] = {}
    for row in rows:
        values.update(row.values)

    def text(field_id: str) -> str:
        value = values.get(field_id)
        return (value.text or "").strip() if value is not None and value.has_value else ""

    downtime = form.patient.downtime_number if form.patient else None
    if not downtime:
        unit.problems.append(f"form {form.instance_id}: no downtime number for this registration")
        return [unit]
    systems = ctx.systems
    nhs = text("dt_nhs_number").replace(" ", "")
    identifiers: list[dict[str, Any]] = [{"system": systems.downtime_number, "value": downtime}]
    if nhs:
        identifiers.append({"system": NHS_NUMBER_SYSTEM, "value": nhs})
    if text("dt_hospital_number"):
        system = form.patient.hospital_number_system if form.patient else ""
        identifiers.append({"system": system or PatientRef().hospital_number_system,
                            "value": text("dt_hospital_number")})
    patient: dict[str, Any] = {"resourceType": "Patient", "identifier": identifiers}
    name: dict[str, Any] = {"use": "official"}
    if text("dt_family"):
        name["family"] = text("dt_family")
    if text("dt_given"):
        name["given"] = text("dt_given").split()
    if len(name) > 1:
        patient["name"] = [name]
    sex = SEX_CODES.get(text("dt_sex").upper())
    if sex:
        patient["gender"] = sex
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text("dt_birth_date")):
        patient["birthDate"] = text("dt_birth_date")
    if text("dt_phone"):
        patient["telecom"] = [{"system": "phone", "value": text("dt_phone")}]
    if text("dt_address") or text("dt_postcode"):
        address: dict[str, Any] = {}
        if text("dt_address"):
            address["text"] = text("dt_address")
        if text("dt_postcode"):
            address["postalCode"] = text("dt_postcode").upper()
        patient["address"] = [address]
    if text("dt_gp"):
        patient["generalPractitioner"] = [{"display": text("dt_gp")}]
    patient_entry = identified(patient, systems, f"{form.instance_id}/patient/1")
    if nhs:
        # An NHS number that the EPR already holds must not make a second record.
        patient_entry = BuiltEntry(
            patient_entry.resource, patient_entry.full_url, "POST", "Patient",
            f"identifier={NHS_NUMBER_SYSTEM}|{nhs}", patient_entry.key,
        )
    unit.entries.append(patient_entry)

    arrived_value = values.get("dt_arrived")
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": systems.downtime_number, "value": downtime}],
        "status": "arrived",
        "subject": {"reference": patient_entry.full_url,
                    "display": f"{text('dt_family').upper()}, {text('dt_given')}".strip(", ")},
    }
    emergency = bool(text("dt_triage")) or text("dt_mode").upper() in ("AMB", "WALK")
    encounter["class"] = {
        "system": ENCOUNTER_CLASS,
        "code": "EMER" if emergency else "IMP",
        "display": "emergency" if emergency else "inpatient encounter",
    }
    if arrived_value is not None and arrived_value.has_value:
        try:
            arrived = parse_when(arrived_value.text or "")
            encounter["period"] = {"start": fhir_datetime(arrived)}
        except InputError as exc:
            unit.problems.append(f"form {form.instance_id}: arrival time: {exc}")
    if text("dt_complaint"):
        encounter["reasonCode"] = [{"text": text("dt_complaint")}]
    if text("dt_triage"):
        label = values["dt_triage"].choice_label or text("dt_triage")
        encounter["priority"] = {"text": f"Triage category {text('dt_triage')}: {label}"}
    if text("dt_mode"):
        label = values["dt_mode"].choice_label or text("dt_mode")
        encounter["hospitalization"] = {"admitSource": {"text": label}}
    unit.entries.append(identified(encounter, systems, f"{form.instance_id}/encounter/1"))
    # Every keyed field, as written (allergies, next of kin, destination ...).
    unit.entries.append(_questionnaire(ctx, rows, {"reference": patient_entry.full_url}, unit))
    return [unit]


# ---- QuestionnaireResponse -------------------------------------------------------------------


def _questionnaire_units(ctx: _Ctx) -> list[BuiltUnit]:
    return _questionnaire_rows(ctx, ctx.form.rows)


def _questionnaire_rows(ctx: _Ctx, rows: Iterable[KeyedRow]) -> list[BuiltUnit]:
    """One QuestionnaireResponse per row that holds a value."""
    units = []
    for row in rows:
        if not any(v.has_value or v.state is ValueState.ILLEGIBLE for v in row.values.values()):
            continue
        units.append(_questionnaire_fallback(ctx, row, _unit(ctx, row.key, [row])))
    return units


def _questionnaire_fallback(ctx: _Ctx, row: KeyedRow, unit: BuiltUnit) -> BuiltUnit:
    if not any(v.has_value or v.state is ValueState.ILLEGIBLE for v in row.values.values()):
        return unit
    subject = _subject(ctx, row, unit)
    if subject is not None:
        unit.entries.append(_questionnaire(ctx, [row], subject, unit))
    return unit


def _questionnaire(
    ctx: _Ctx, rows: list[KeyedRow], subject: dict[str, Any], unit: BuiltUnit
) -> BuiltEntry:
    form = ctx.form
    keyed_by = sorted({c for r in rows for c in r.keyed_by})
    groups: list[dict[str, Any]] = []
    for row in rows:
        items = [_answer_item(ctx, v) for v in row.values.values()]
        groups.append({"linkId": row.key, "text": f"{row.section} {row.index + 1}",
                       "item": sorted(items, key=lambda i: str(i["linkId"]))})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{ctx.systems.questionnaire}/{form.form_id}|{form.form_version}",
        "status": "completed",
        "subject": subject,
        "authored": fhir_datetime(_keyed_at(ctx, rows)),
        "item": groups,
    }
    if keyed_by:
        resource["author"] = {"display": f"Keyed from paper by {', '.join(keyed_by)}"}
    key = unit.key.split("/", 1)[1]
    built = identified(resource, ctx.systems,
                       f"{form.instance_id}/questionnaire/{key.replace('/', '-')}")
    # QuestionnaireResponse.identifier is a single Identifier in R4, not a list.
    built.resource["identifier"] = built.resource["identifier"][0]
    return built


def _answer_item(ctx: _Ctx, value: KeyedValue) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": value.field_id, "text": value.label or value.field_id}
    if value.state is ValueState.ILLEGIBLE:
        item["answer"] = [{"valueString": "[illegible on the paper form]"}]
        return item
    if value.state is ValueState.NOT_RECORDED or not value.text:
        item["answer"] = [{"valueString": "[not recorded on the paper form]"}]
        return item
    text = value.text
    answer: dict[str, Any]
    number = value.number()
    if value.field_type == "number" and number is not None:
        answer = {"valueQuantity": quantity(number, value.unit, text)} if value.unit else {
            "valueDecimal": number}
    elif value.field_type == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        answer = {"valueDate": text}
    elif value.field_type == "datetime":
        try:
            answer = {"valueDateTime": fhir_datetime(parse_when(text))}
        except InputError:
            answer = {"valueString": text}
    elif value.field_type == "time" and re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", text):
        answer = {"valueTime": text if len(text) == 8 else f"{text}:00"}
    elif value.field_type == "choice":
        codes = value.choice_codes
        answer = {"valueCoding": {
            "system": codes[0].system if codes else ctx.systems.field_code,
            "code": codes[0].code if codes else f"{ctx.form.form_id}/{value.field_id}/{text}",
            "display": value.choice_label or text,
        }}
    else:
        answer = {"valueString": text}
    item["answer"] = [answer]
    return item


# ---- Provenance ------------------------------------------------------------------------------


def _provenance(ctx: _Ctx, unit: BuiltUnit) -> BuiltEntry:
    form = ctx.form
    rows = [r for r in form.rows if f"{form.instance_id}/{r.key}" == unit.key] or list(form.rows)
    keyed_by = sorted({c for r in rows for c in r.keyed_by}) or list(form.keyed_by)
    targets = []
    for entry in unit.entries:
        if entry.method == "PATCH":
            targets.append({"reference": entry.url})
        else:
            targets.append({"reference": entry.full_url})
    printed = fhir_datetime(form.printed_at)
    agents: list[dict[str, Any]] = [{
        "type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "enterer",
                             "display": "Enterer"}]},
        "who": {"display": f"Keyed from paper by {', '.join(keyed_by) or 'unknown clerk'} "
                           f"on PC {form.pc_id}"},
    }]
    if form.verified_by:
        agents.append({
            "type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "verifier",
                                 "display": "Verifier"}]},
            "who": {"display": f"Double entry resolved by {form.verified_by}"},
        })
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": deterministic_id(ctx.systems.entry, form.pc_id, unit.key),
        "target": targets,
        "recorded": _keyed_at(ctx, rows).isoformat(timespec="seconds"),
        "activity": {
            "coding": [{"system": DATA_OPERATION, "code": "CREATE", "display": "create"}],
            "text": RETROSPECTIVE_TEXT,
        },
        "reason": [{
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": "TREAT", "display": "treatment"}],
            "text": RETROSPECTIVE_TEXT,
        }],
        "agent": agents,
        "entity": [{
            "role": "source",
            "what": {
                "identifier": {"system": ctx.systems.form_instance, "value": form.instance_id},
                "display": (f"Paper form '{form.form_title}' ({form.form_id} v{form.form_version}) "
                            f"instance {form.instance_id}, printed {printed} on PC {form.pc_id}, "
                            f"{unit.key.split('/', 1)[1]}"),
            },
        }],
    }
    return BuiltEntry(resource, f"urn:uuid:{_uuid_of(resource['id'])}", "PUT",
                      f"Provenance/{resource['id']}", None, f"Provenance/{resource['id']}")


def _uuid_of(text: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, text))


_BUILDERS: dict[str, Builder] = {
    "news2": _news2_units,
    "mar": _mar_units,
    "fluid-balance": _fluid_units,
    "clinic-list": _clinic_units,
    "theatre-list": _theatre_units,
    "downtime-registration": _registration_units,
}

