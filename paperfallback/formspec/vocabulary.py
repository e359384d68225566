"""The words a form definition may use: field types, scopes, table sources, prefill
sources, field roles, section exports and score tables.

Split from :mod:`paperfallback.formspec.models` (modules stay under 600 lines): these are
the closed vocabularies the YAML is checked against, so code asks a definition what a
field *is* (its declared role) and never infers it from a field id. Names here are a
public API like the models': the keying screen, the workbook and the exporters read them.
"""

from __future__ import annotations

from typing import Literal, get_args

from paperfallback.domain.news2 import BANDS

FieldType = Literal[
    "text",  # short free text (one line)
    "number",  # a number: ``unit``, ``min``, ``max``, ``decimals``
    "date",  # dd-Mmm-yyyy on paper, ISO 8601 when keyed
    "time",  # hh:mm, 24 h
    "datetime",  # date and time
    "choice",  # one of ``choices`` (printed codes such as A/C/V/P/U)
    "tickbox",  # yes / blank
    "initials",  # a few letters: who did it
    "signature",  # a handwritten signature (keyed as the printed name if legible)
    "lines",  # free text over several ruled lines
]

# What keying stores for a ticked ``tickbox`` (and "false" for one left empty): the value
# a read tick offers the clerk, and what every reader of keyed values compares with.
TICKED_VALUE = "true"
NOT_TICKED_VALUE = "false"

# The section keying adds to a blank copy of a patient form: the banner boxes the nurse
# fills in by hand (never clashes: form section ids start with a letter).
PATIENT_SECTION = "_patient"

# '<table>.days': the keyed section holding the dates of a table's day columns (the MAR),
# named here so the renderer records their boxes under the id keying uses (no clash: '.').
DAYS_SUFFIX = ".days"


def day_section_id(table_id: str) -> str:
    return table_id + DAYS_SUFFIX

FormScope = Literal[
    "patient",  # one instance per patient (NEWS2, MAR, fluid balance, continuation)
    "ward",  # one instance per ward (handover list)
    "clinic-day",  # one instance per clinic and date
    "theatre-day",  # one instance per theatre and date
    "blank",  # never pre-filled (downtime registration)
]

TableSource = Literal[
    "ward_patients",  # PatientRecord of everyone on the ward, bed order
    "appointments",  # (Appointment, Patient) of a clinic on a day, by start time
    "theatre_cases",  # (TheatreCase, Patient) of a theatre on a day, by planned order
    "prescriptions",  # a patient's Prescription facts; ``filter`` picks a kind
    "none",  # blank rows only
]

# Which cache fact fills a field. ``patient.*`` and ``stay.*`` work wherever a patient is
# known (patient-scoped forms and table rows about patients); the others only in the
# section whose rows or time points come from that fact.
PREFILL_SOURCES: frozenset[str] = frozenset(
    {
        "patient.name", "patient.family", "patient.given", "patient.nhs_number",
        "patient.hospital_number", "patient.birth_date", "patient.age", "patient.sex",
        "patient.address", "patient.phones", "patient.next_of_kin", "patient.gp_practice",
        "stay.ward", "stay.bed", "stay.consultant", "stay.specialty", "stay.admitted_at",
        "allergies.summary", "alerts.summary", "news2.latest", "patient.spo2_scale",
        "observation.time", "observation.resp_rate", "observation.spo2",
        "observation.spo2_scale", "observation.oxygen", "observation.o2_device",
        "observation.o2_flow", "observation.sbp", "observation.dbp", "observation.pulse",
        "observation.acvpu", "observation.temp", "observation.news2_total",
        "prescription.drug", "prescription.dose", "prescription.route",
        "prescription.frequency", "prescription.dose_times", "prescription.prn_indication",
        "prescription.prn_max_24h", "prescription.start_date",
        "prescription.last_administered", "prescription.prescriber",
        "prescription.instructions",
        "appointment.start", "appointment.clinician", "appointment.location",
        "appointment.description", "appointment.status",
        "theatre_case.planned_order", "theatre_case.planned_start", "theatre_case.procedure",
        "theatre_case.surgeon", "theatre_case.anaesthetist", "theatre_case.status",
    }
)

# What a field IS, declared in the YAML so that no code infers it from a field id. Code
# asks the definition ("which field holds the observation time?") and never a naming rule.
FieldRole = Literal[
    # who the paper is about: keyed from a blank copy to identify the patient
    "patient.nhs_number",  # checked with Modulus 11 when keyed
    "patient.hospital_number", "patient.family", "patient.given", "patient.birth_date",
    "patient.sex", "patient.phone", "patient.address", "patient.postcode",
    "patient.gp_practice",
    # when
    "observation_time",  # the date and time of a chart column or a row (what was observed)
    "chart_date",  # the day a chart of fixed time points starts (fluid balance 07:00)
    "time_point",  # the printed time of one fixed row of such a chart ("07:00")
    "administered_at",  # when a medicine was given or started
    "stopped_at",  # when an infusion (a once-only row) was stopped
    "outcome_time",  # when the outcome of a list row was recorded
    # NEWS2 (RCP 2017, chart 1): which parameter a field records
    "news2.resp_rate", "news2.spo2", "news2.spo2_scale", "news2.oxygen", "news2.o2_device",
    "news2.o2_flow", "news2.sbp", "news2.dbp", "news2.pulse", "news2.acvpu", "news2.temp",
    "news2.total",  # the handwritten total: recomputed and compared, never trusted
    # derived and people
    "running_total",  # carried by hand from the rows above: a check figure, not a reading
    "performer",  # initials or name of who did it
    "checked_by",  # initials of a second person who checked it (a once-only medicine)
    # medicines and lists
    "drug",  # the medicine a row is about (a drug row)
    "dose_time",  # a scheduled dose time (a sub-row of a regular medicine)
    "administration",  # initials of who gave a dose, or an omission code (the legend)
    "omission_code",  # an omission code only (why a dose was not given)
    "dose_given",  # the dose given, as written (an as-required dose may vary)
    "outcome",  # the outcome of a list row (attended, done, cancelled ...)
    "outcome_reason",
    # a downtime registration's encounter
    "reason",  # the presenting complaint
    "priority",  # the triage category
    "arrival_mode",  # how the patient arrived (ambulance, walk-in ...)
]
FIELD_ROLES: frozenset[str] = frozenset(get_args(FieldRole))
PATIENT_ROLES: tuple[str, ...] = tuple(r for r in get_args(FieldRole) if r.startswith("patient."))
NEWS2_ROLES: tuple[str, ...] = tuple(r for r in get_args(FieldRole) if r.startswith("news2."))
# Roles several fields of one section may share (in, out and balance running totals).
REPEATABLE_ROLES: frozenset[str] = frozenset({"running_total"})
# The parameters RCP NEWS2 chart 1 scores: a section exported as NEWS2 must declare all.
NEWS2_SCORED_ROLES: tuple[str, ...] = (
    "news2.resp_rate", "news2.spo2", "news2.oxygen", "news2.sbp", "news2.pulse",
    "news2.acvpu", "news2.temp", "observation_time",
)

# How the keyed rows of a section reach the EPR (paperfallback.export.fhir_resources).
# Whatever a section does not declare becomes a QuestionnaireResponse, so nothing keyed
# is ever dropped for want of a mapping.
SectionExport = Literal[
    "questionnaire-response",  # one QuestionnaireResponse per row, an item per keyed value
    "observation",  # an Observation per keyed value (its ``code``), at the row's time
    "news2-vital-signs",  # the UK Core NEWS2 vital signs and the computed NEWS2 total per column
    "medication-administration",  # a MedicationAdministration per dose given or omitted
    "appointment-status",  # the Appointment's status (clinic outcome)
    "procedure",  # a Procedure per theatre case outcome
    "patient-encounter",  # a Patient and an Encounter for a downtime registration
]

# What the drug rows of a ``medication-administration`` section record (``medicines:``),
# so the exporter builds each row's MedicationAdministrations from declarations, never
# from section ids. Each needs its roles (checked when the form is loaded):
MedicineRows = Literal[
    # a sub-row per dose time (``dose_time``) and a day cell per day (``administration``
    # in ``repeat``, dated by its ``day_field``): one administration or omission per cell
    "scheduled",
    # a log of doses given (``administered_at`` in ``repeat``, with ``dose_given`` and
    # ``performer``): one administration per logged time
    "as-required",
    # one administration per row (``administered_at``; ``stopped_at`` makes it a period,
    # an infusion; ``performer``, ``checked_by``)
    "once-only",
]
MEDICINE_ROLES: dict[str, tuple[str, ...]] = {  # kind -> the roles its section must declare
    "scheduled": ("dose_time", "administration"),
    "as-required": ("administered_at",),
    "once-only": ("administered_at",),
}

# Score tables a chart row may be shaded by: the NEWS2 bands of paperfallback.domain.news2
# (so the paper and the scorer can never disagree) plus the two coded parameters.
SCORE_TABLES: frozenset[str] = frozenset({*BANDS, "acvpu", "oxygen"})
