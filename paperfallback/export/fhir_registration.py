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
    KeyedRow,
    KeyedValue,
    PatientRef,
    fhir_datetime,
    parse_when,
)

ENCOUNTER_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SEX_CODES = {"M": "male", "F": "female", "O": "other", "U": "unknown"}


def registration_units(ctx: FormContext, rows: list[KeyedRow]) -> list[BuiltUnit]:
    """The rows of ``patient-encounter`` sections, as one registration."""
    form = ctx.form
    unit = new_unit(ctx, "registration", rows)
    values: dict[str, KeyedValue] = {}
    for row in rows:
        values.update(row.values)

    spec = form.definition

    def field(role: str) -> str:
        """The id of the field declaring ``role`` (forms/*.yaml), "" when none does."""
        found = spec.role_field(role) if spec is not None else None
        return found.id if found is not None else ""

    def text(role: str) -> str:
        value = values.get(field(role))
        return (value.text or "").strip() if value is not None and value.has_value else ""

    downtime = form.patient.downtime_number if form.patient else None
    if not downtime:
        unit.problems.append(f"form {form.instance_id}: no downtime number for this registration")
        return [unit]
    systems = ctx.systems
    nhs = text("patient.nhs_number").replace(" ", "")
    identifiers: list[dict[str, Any]] = [{"system": systems.downtime_number, "value": downtime}]
    if nhs:
        identifiers.append({"system": NHS_NUMBER_SYSTEM, "value": nhs})
    if text("patient.hospital_number"):
        system = form.patient.hospital_number_system if form.patient else ""
        identifiers.append({"system": system or PatientRef().hospital_number_system,
                            "value": text("patient.hospital_number")})
    patient: dict[str, Any] = {"resourceType": "Patient", "identifier": identifiers}
    name: dict[str, Any] = {"use": "official"}
    if text("patient.family"):
        name["family"] = text("patient.family")
    if text("patient.given"):
        name["given"] = text("patient.given").split()
    if len(name) > 1:
        patient["name"] = [name]
    sex = SEX_CODES.get(text("patient.sex").upper())
    if sex:
        patient["gender"] = sex
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text("patient.birth_date")):
        patient["birthDate"] = text("patient.birth_date")
    if text("patient.phone"):
        patient["telecom"] = [{"system": "phone", "value": text("patient.phone")}]
    if text("patient.address") or text("patient.postcode"):
        address: dict[str, Any] = {}
        if text("patient.address"):
            address["text"] = text("patient.address")
        if text("patient.postcode"):
            address["postalCode"] = text("patient.postcode").upper()
        patient["address"] = [address]
    if text("patient.gp_practice"):
        patient["generalPractitioner"] = [{"display": text("patient.gp_practice")}]
    patient_entry = identified(patient, systems, f"{form.instance_id}/patient/1")
    subject: dict[str, Any] = {
        "reference": patient_entry.full_url,
        "display": f"{text('patient.family').upper()}, {text('patient.given')}".strip(", ")}
    existing = form.patient_exists and form.patient is not None
    if existing:
        assert form.patient is not None
        subject = patient_reference(form.patient, systems)  # by NHS, else hospital number
    elif nhs:
        # An NHS number that the EPR already holds must not make a second record.
        patient_entry = BuiltEntry(
            patient_entry.resource, patient_entry.full_url, "POST", "Patient",
            f"identifier={NHS_NUMBER_SYSTEM}|{nhs}", patient_entry.key,
        )
    if not existing:
        unit.entries.append(patient_entry)

    arrived_value = values.get(field("observation_time"))
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": systems.downtime_number, "value": downtime}],
        "status": "arrived",
        "subject": subject,
    }
    emergency = bool(text("priority")) or text("arrival_mode").upper() in ("AMB", "WALK")
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
    if text("reason"):
        encounter["reasonCode"] = [{"text": text("reason")}]
    if text("priority"):
        label = values[field("priority")].choice_label or text("priority")
        encounter["priority"] = {"text": f"Triage category {text('priority')}: {label}"}
    if text("arrival_mode"):
        label = values[field("arrival_mode")].choice_label or text("arrival_mode")
        encounter["hospitalization"] = {"admitSource": {"text": label}}
    unit.entries.append(identified(encounter, systems, f"{form.instance_id}/encounter/1"))
    # Every keyed field, as written (allergies, next of kin, destination ...).
    answers_subject = subject if existing else {"reference": patient_entry.full_url}
    unit.entries.append(questionnaire(ctx, rows, answers_subject, unit))
    return [unit]
