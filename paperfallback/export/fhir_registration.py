"""Downtime registrations: a Patient and an Encounter carrying the downtime number.

A registration identified as a patient the EPR already holds (an NHS or hospital number
keyed from the paper that the cache knows, or a name match a clerk confirmed) makes no
new Patient: the Encounter and the keyed answers reference that patient by identifier
(NHS number, else hospital number), so the EPR gets no duplicate and no split record
(issue #13 item 8). An unconfirmed name match never reaches here (see from_entries).
"""

from __future__ import annotations

import re
from typing import Any

from paperfallback.domain.errors import InputError
from paperfallback.export.fhir_common import (
    BuiltEntry,
    identified,
    patient_reference,
)
from paperfallback.export.fhir_units import (
    BuiltUnit,
    FormContext,
    new_unit,
    questionnaire,
)
from paperfallback.export.model import (
    NHS_NUMBER_SYSTEM,
    KeyedValue,
    PatientRef,
    fhir_datetime,
    parse_when,
)

ENCOUNTER_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SEX_CODES = {"M": "male", "F": "female", "O": "other", "U": "unknown"}


def registration_units(ctx: FormContext) -> list[BuiltUnit]:
    form = ctx.form
    rows = list(form.rows)
    unit = new_unit(ctx, "registration", rows)
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
    if form.patient_exists and form.patient is not None:
        return [_existing_patient_unit(ctx, unit, rows, values, downtime)]
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

    subject = {"reference": patient_entry.full_url,
               "display": f"{text('dt_family').upper()}, {text('dt_given')}".strip(", ")}
    unit.entries.append(_encounter(ctx, unit, values, downtime, subject))
    # Every keyed field, as written (allergies, next of kin, destination ...).
    unit.entries.append(questionnaire(ctx, rows, {"reference": patient_entry.full_url}, unit))
    return [unit]


def _existing_patient_unit(ctx: FormContext, unit: BuiltUnit, rows: list[Any],
                           values: dict[str, KeyedValue], downtime: str) -> BuiltUnit:
    assert ctx.form.patient is not None
    subject = patient_reference(ctx.form.patient, ctx.systems)
    unit.entries.append(_encounter(ctx, unit, values, downtime, subject))
    unit.entries.append(questionnaire(ctx, rows, subject, unit))
    return unit


def _encounter(ctx: FormContext, unit: BuiltUnit, values: dict[str, KeyedValue],
               downtime: str, subject: dict[str, Any]) -> BuiltEntry:
    form, systems = ctx.form, ctx.systems

    def text(field_id: str) -> str:
        value = values.get(field_id)
        return (value.text or "").strip() if value is not None and value.has_value else ""

    arrived_value = values.get("dt_arrived")
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": systems.downtime_number, "value": downtime}],
        "status": "arrived",
        "subject": subject,
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
    return identified(encounter, systems, f"{form.instance_id}/encounter/1")
