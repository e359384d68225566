"""The FHIR builders for each kind of form: every resource validates against FHIR R4B."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from paperfallback.export.fhir_bundle import plan_fhir_export
from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.fhir_resources import OMISSION_REASONS, RETROSPECTIVE_TEXT
from paperfallback.export.model import NHS_NUMBER_SYSTEM, Code, ExportedForm, PatientRef
from paperfallback.export.samples import (
    keyed_form,
    keyed_row,
    news2_column,
    news2_form,
    synthetic_patient,
)

SYSTEMS = SiteSystems.for_site("DEMO")
WHEN = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _export(*forms: ExportedForm) -> tuple[dict[str, Any], list[str]]:
    plan = plan_fhir_export(list(forms), SYSTEMS, {}, all_entries=False, pc_id="PC1",
                            exported_at=WHEN)
    bundle = plan.bundle()
    Bundle.model_validate(bundle)
    for entry in bundle.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return bundle, plan.problems


def _of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in bundle.get("entry", []) if e["resource"]["resourceType"] == kind]


def _identifier_values(resource: dict[str, Any]) -> list[str]:
    ids = resource["identifier"]
    return [i["value"] for i in (ids if isinstance(ids, list) else [ids])]


def test_mar_administrations_and_omissions() -> None:
    patient = synthetic_patient(4)
    row = keyed_row(
        "regular", 0, {"reg_time": "08:00", "reg_given_1": "AB", "reg_given_2": "1"},
        source_ref="rx-17",
        context={"drug": "Amoxicillin 500mg capsules", "dose": "500 mg", "route": "Oral",
                 "drug_code": "39732311000001104", "day_1": "2026-11-20",
                 "day_2": "2026-11-21", "day_1_source": "printed",
                 "day_2_source": "printed"},
    )
    bundle, problems = _export(keyed_form("mar", "MA12-0001", [row], patient=patient))
    assert not problems
    given, omitted = (e["resource"] for e in _of_type(bundle, "MedicationAdministration"))
    assert given["status"] == "completed"
    assert given["effectiveDateTime"] == "2026-11-20T08:00:00+00:00"
    assert given["performer"][0]["actor"]["display"].endswith("AB")
    assert given["medicationCodeableConcept"]["coding"][0]["system"] == "https://dmd.nhs.uk"
    assert given["request"] == {"reference": "MedicationRequest/rx-17",
                                "display": "Prescription: Amoxicillin 500mg capsules"}
    assert given["subject"]["identifier"] == {"system": NHS_NUMBER_SYSTEM,
                                              "value": patient.nhs_number}
    assert omitted["status"] == "not-done"
    assert omitted["statusReason"][0]["text"] == f"Omission code 1: {OMISSION_REASONS['1']}"
    assert omitted["effectiveDateTime"] == "2026-11-21T08:00:00+00:00"
    assert _identifier_values(omitted) == ["MA12-0001/reg_given_2/1"]


def test_mar_omission_codes_match_the_printed_legend() -> None:
    from paperfallback.formspec import load_catalogue

    legend = " ".join(load_catalogue().get("mar").legend)
    for code, text in OMISSION_REASONS.items():
        assert f"{code} {text}" in legend


def test_mar_cell_that_is_neither_initials_nor_code_is_reported_not_guessed() -> None:
    row = keyed_row("regular", 0, {"reg_time": "08:00", "reg_given_1": "9?"},
                    context={"drug": "X", "day_1": "2026-11-20"})
    bundle, problems = _export(keyed_form("mar", "MA12-0002", [row],
                                          patient=synthetic_patient(4)))
    assert "entry" not in bundle
    assert problems and "neither initials nor an omission code" in problems[0]


def test_fluid_balance_values_are_observations_at_their_hour() -> None:
    rows = [
        keyed_row("day", 0, {"fb_date": "2026-11-20"}, types={"fb_date": "date"}),
        keyed_row("hours", 0, {"in_oral": "200", "out_urine": "150", "in_running": "200"},
                  context={"time_point": "07:00"}, units={"in_oral": "ml", "out_urine": "ml"},
                  types={"in_oral": "number", "out_urine": "number"},
                  codes={"out_urine": (Code("http://loinc.org", "9187-6", "Urine output"),)}),
        keyed_row("hours", 18, {"out_urine": "80"}, context={"time_point": "01:00"},
                  units={"out_urine": "ml"}, types={"out_urine": "number"}),
    ]
    bundle, problems = _export(keyed_form("fluid-balance", "FB12-0001", rows,
                                          patient=synthetic_patient(5)))
    assert not problems
    obs = {tuple(_identifier_values(e["resource"])): e["resource"]
           for e in _of_type(bundle, "Observation")}
    oral = obs[("FB12-0001/in_oral/1",)]
    assert oral["valueQuantity"] == {"value": 200, "unit": "milliliter",
                                     "system": "http://unitsofmeasure.org", "code": "mL"}
    assert oral["effectiveDateTime"] == "2026-11-20T07:00:00+00:00"
    assert oral["code"]["coding"][0]["code"] == "fluid-balance/in_oral"
    night = obs[("FB12-0001/out_urine/19",)]
    assert night["effectiveDateTime"] == "2026-11-21T01:00:00+00:00"  # after midnight
    assert night["code"]["coding"][0]["code"] == "fluid-balance/out_urine"  # uncoded field
    assert obs[("FB12-0001/out_urine/1",)]["code"]["coding"][0]["code"] == "9187-6"
    assert ("FB12-0001/in_running/1",) not in obs  # running totals are arithmetic
    # the chart's own fields (date) go out as a QuestionnaireResponse: nothing is dropped
    assert _of_type(bundle, "QuestionnaireResponse")


def test_clinic_outcome_is_an_appointment_status_patch() -> None:
    patient = synthetic_patient(6)
    rows = [
        keyed_row("appointments", 0, {"cl_outcome": "DNA", "cl_initials": "KL"},
                  patient=patient, source_ref="appt-42"),
        keyed_row("appointments", 1, {"cl_outcome": "ATT"}, patient=None),  # a blank row
    ]
    bundle, problems = _export(keyed_form("clinic-list", "CL12-0001", rows,
                                          form_date=date(2026, 11, 20)))
    patch = [e for e in bundle["entry"] if e["request"]["method"] == "PATCH"]
    assert len(patch) == 1
    assert patch[0]["request"]["url"] == "Appointment/appt-42"
    parts = {p["name"]: p for p in patch[0]["resource"]["parameter"][0]["part"]}
    assert parts["path"]["valueString"] == "Appointment.status"
    assert parts["value"]["valueCode"] == "noshow"
    assert len(problems) == 1 and "blank row" in problems[0]
    provenance = _of_type(bundle, "Provenance")[0]["resource"]
    assert {"reference": "Appointment/appt-42"} in provenance["target"]


def test_theatre_outcome_is_a_procedure() -> None:
    rows = [
        keyed_row("cases", 0, {"th_outcome": "DONE"}, patient=synthetic_patient(7),
                  context={"procedure": "Laparoscopic cholecystectomy"}, source_ref="tc-1"),
        keyed_row("cases", 1, {"th_outcome": "CANC", "th_reason": "no bed"},
                  patient=synthetic_patient(8), context={"procedure": "Hernia repair"}),
    ]
    bundle, problems = _export(keyed_form("theatre-list", "TH12-0001", rows,
                                          form_date=date(2026, 11, 20)))
    assert not problems
    done, cancelled = (e["resource"] for e in _of_type(bundle, "Procedure"))
    assert done["status"] == "completed" and done["performedDateTime"] == "2026-11-20"
    assert done["code"]["text"] == "Laparoscopic cholecystectomy"
    assert cancelled["status"] == "not-done"
    assert cancelled["statusReason"]["text"] == "Cancelled: no bed"


def test_downtime_registration_is_patient_and_encounter_with_the_downtime_number() -> None:
    rows = [
        keyed_row("identity", 0, {"dt_family": "Llŷr", "dt_given": "Gwenllïan",
                                  "dt_birth_date": "1961-03-02", "dt_sex": "F",
                                  "dt_postcode": "cf10 1aa"}),
        keyed_row("arrival", 0, {"dt_arrived": "2026-11-20T10:15", "dt_triage": "2",
                                 "dt_complaint": "Chest pain"}),
    ]
    form = keyed_form("downtime-registration", "DT12-0001", rows,
                      patient=PatientRef(downtime_number="DT-7Q2K-0004"))
    bundle, problems = _export(form)
    assert not problems
    patient = _of_type(bundle, "Patient")[0]
    encounter = _of_type(bundle, "Encounter")[0]["resource"]
    downtime = {"system": SYSTEMS.downtime_number, "value": "DT-7Q2K-0004"}
    assert downtime in patient["resource"]["identifier"]
    assert downtime in encounter["identifier"]
    assert patient["resource"]["name"] == [{"use": "official", "family": "Llŷr",
                                            "given": ["Gwenllïan"]}]
    assert patient["resource"]["address"][0]["postalCode"] == "CF10 1AA"
    assert patient["request"]["ifNoneExist"].endswith("DT12-0001/patient/1")
    assert encounter["subject"]["reference"] == patient["fullUrl"]
    assert encounter["class"]["code"] == "EMER"
    assert encounter["period"]["start"] == "2026-11-20T10:15:00+00:00"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"  # created first


def test_downtime_registration_with_known_nhs_number_does_not_duplicate_the_patient() -> None:
    rows = [keyed_row("identity", 0, {"dt_family": "Bowen", "dt_given": "Rhys",
                                      "dt_nhs_number": "9990000018"})]
    form = keyed_form("downtime-registration", "DT12-0002", rows,
                      patient=PatientRef(downtime_number="DT-7Q2K-0005"))
    bundle, _ = _export(form)
    patient = _of_type(bundle, "Patient")[0]
    assert patient["request"]["ifNoneExist"] == f"identifier={NHS_NUMBER_SYSTEM}|9990000018"


def test_other_forms_are_questionnaire_responses() -> None:
    rows = [keyed_row("notes", 0, {"note_text": "Seen by SHO; =cmd kept as text",
                                   "note_time": "2026-11-20T11:00"},
                      types={"note_time": "datetime"})]
    bundle, problems = _export(keyed_form("continuation", "CO12-0001", rows,
                                          patient=synthetic_patient(9)))
    assert not problems
    response = _of_type(bundle, "QuestionnaireResponse")[0]["resource"]
    assert response["questionnaire"] == \
        "https://paperfallback.example.nhs.uk/Questionnaire/continuation|1.0"
    assert response["identifier"]["value"] == "CO12-0001/questionnaire/notes-1"
    answers = {i["linkId"]: i["answer"][0] for i in response["item"][0]["item"]}
    assert answers["note_time"] == {"valueDateTime": "2026-11-20T11:00:00+00:00"}
    assert answers["note_text"]["valueString"].startswith("Seen by SHO")


def test_patient_is_referenced_by_hospital_number_when_there_is_no_nhs_number() -> None:
    patient = synthetic_patient(3, nhs=False)
    form = news2_form("NW12-0001", patient,
                      [news2_column(0, datetime(2026, 11, 20, 10, 0), WHEN)])
    bundle, _ = _export(form)
    subjects = {str(e["resource"]["subject"]) for e in _of_type(bundle, "Observation")}
    assert subjects == {str({"type": "Patient", "identifier": {
        "system": "https://fhir.nhs.uk/Id/local-patient-identifier",
        "value": patient.hospital_number}, "display": patient.display_name})}


def test_form_without_patient_identity_is_reported_not_exported() -> None:
    form = news2_form("NW12-0002", PatientRef(family="Nobody"),
                      [news2_column(0, datetime(2026, 11, 20, 10, 0), WHEN)])
    bundle, problems = _export(form)
    assert "entry" not in bundle
    assert problems and "cannot be attached to a record" in problems[0]


def test_provenance_says_who_when_which_paper_and_retrospective() -> None:
    form = news2_form("NW12-0003", synthetic_patient(2),
                      [news2_column(0, datetime(2026, 11, 20, 10, 0), WHEN)])
    bundle, _ = _export(form)
    provenance = _of_type(bundle, "Provenance")
    assert len(provenance) == 1
    entry = provenance[0]
    resource = entry["resource"]
    # a conditional create on its tag, never a PUT with an id the client chose (issue 14)
    assert "id" not in resource
    tag = resource["meta"]["tag"][0]
    assert tag["system"].endswith("/CodeSystem/keying-provenance/demo")
    assert entry["request"] == {"method": "POST", "url": "Provenance",
                                "ifNoneExist": f"_tag={tag['system']}|{tag['code']}"}
    assert resource["activity"]["text"] == RETROSPECTIVE_TEXT
    assert resource["reason"][0]["text"] == RETROSPECTIVE_TEXT
    assert resource["recorded"] == "2026-11-22T09:00:00+00:00"
    assert "Clerk Ann Ôwen" in resource["agent"][0]["who"]["display"]
    what = resource["entity"][0]["what"]
    assert what["identifier"] == {"system": SYSTEMS.form_instance, "value": "NW12-0003"}
    assert "news2 v1.0" in what["display"]
    observations = {e["fullUrl"] for e in _of_type(bundle, "Observation")}
    assert {t["reference"] for t in resource["target"]} == observations


def test_mar_day_after_keying_is_refused_not_dated_by_guess() -> None:
    row = keyed_row("regular", 0, {"reg_time": "08:00", "reg_given_1": "AB",
                                   "reg_given_7": "AB"},
                    keyed_at=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
                    context={"drug": "X", "day_1": "2026-11-20", "day_7": "2026-11-26",
                             "day_1_source": "printed", "day_7_source": "printed"})
    bundle, problems = _export(keyed_form("mar", "MA12-0003", [row],
                                          patient=synthetic_patient(4)))
    assert "entry" not in bundle  # the unit waits until the whole row can be exported
    assert problems and "day 7" in problems[0] and "after it was keyed" in problems[0]
    # A day column whose date was neither printed nor keyed is reported, never guessed.
    row = keyed_row("regular", 0, {"reg_time": "08:00", "reg_given_2": "AB"},
                    context={"drug": "X", "day_1": "2026-11-20"})
    bundle, problems = _export(keyed_form("mar", "MA12-0006", [row],
                                          patient=synthetic_patient(4)))
    assert "entry" not in bundle
    assert problems and "date of day column 2 is not keyed (day_date_2)" in problems[0]
    row = keyed_row("regular", 0, {"reg_time": "08:00", "reg_given_1": "AB"},
                    context={"drug": "X", "day_1": "2026-11-20", "day_1_source": "keyed"})
    bundle, problems = _export(keyed_form("mar", "MA12-0004", [row],
                                          patient=synthetic_patient(4)))
    given = _of_type(bundle, "MedicationAdministration")[0]["resource"]
    assert "handwritten on the paper MAR and keyed" in given["note"][0]["text"]


def test_mar_blank_row_goes_out_as_written_never_with_an_invented_drug() -> None:
    row = keyed_row("regular", 12, {"reg_time": "08:00", "reg_given_1": "AB"},
                    context={"day_1": "2026-11-20"})  # no cached prescription behind it
    bundle, problems = _export(keyed_form("mar", "MA12-0005", [row],
                                          patient=synthetic_patient(4)))
    assert not problems
    assert not _of_type(bundle, "MedicationAdministration")
    response = _of_type(bundle, "QuestionnaireResponse")[0]["resource"]
    answers = {i["linkId"]: i["answer"][0] for i in response["item"][0]["item"]}
    assert answers["reg_given_1"] == {"valueString": "AB"}
