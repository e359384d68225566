"""How FHIR R4 (UK Core) resources become cache facts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import AllergyStatus, ObservationKind, PatientRecord
from paperfallback.domain.records import PrescriptionKind as Kind
from paperfallback.domain.terminology import SPO2_SCALE_SCORE

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SCT = "http://snomed.info/sct"
PHYS = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def _write(folder: Path, *resources: dict[str, Any]) -> Path:
    path = folder / "extract.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def _pt(pid: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": "Ŵyn", "given": ["Ela"]}]}


def _ref(key: str) -> dict[str, str]:
    return {"reference": key}


def test_allergy_states_recorded_none_known_and_not_recorded(tmp_path: Path) -> None:
    path = _write(
        tmp_path, _pt("a"), _pt("b"), _pt("c"),
        {"resourceType": "AllergyIntolerance", "id": "x1", "patient": _ref("Patient/a"),
         "code": {"text": "Penicillin"}, "criticality": "high",
         "reaction": [{"manifestation": [{"text": "Anaphylaxis"}], "severity": "severe"}]},
        {"resourceType": "AllergyIntolerance", "id": "x2", "patient": _ref("Patient/b"),
         "code": {"coding": [{"system": SCT, "code": "716186003",
                              "display": "No known allergy"}]}},
        {"resourceType": "AllergyIntolerance", "id": "x3", "patient": _ref("Patient/c"),
         "code": {"text": "Latex"},
         "verificationStatus": {"coding": [{"code": "entered-in-error"}]}},
    )
    snap = read_extract([path], now=NOW)
    by_patient = {a.patient_id: a for a in snap.allergies}
    assert by_patient["a"].reaction == "Anaphylaxis" and by_patient["a"].severity == "severe"
    assert by_patient["b"].no_known_allergies and not by_patient["a"].no_known_allergies
    assert "c" not in by_patient  # entered in error: nothing recorded

    def status(pid: str) -> AllergyStatus:
        patient = next(p for p in snap.patients if p.id == pid)
        facts = tuple(a for a in snap.allergies if a.patient_id == pid)
        return PatientRecord(patient, None, None, facts, (), (), ()).allergy_status

    assert [status(p) for p in "abc"] == [
        AllergyStatus.RECORDED, AllergyStatus.NONE_KNOWN, AllergyStatus.NOT_RECORDED]


def test_ward_and_bed_from_location_part_of(tmp_path: Path) -> None:
    path = _write(
        tmp_path, _pt("a"),
        {"resourceType": "Location", "id": "site", "name": "Ysbyty Gwynedd",
         "physicalType": {"coding": [{"system": PHYS, "code": "si"}]}},
        {"resourceType": "Location", "id": "w7", "name": "Ward 7 — Dewi Sant",
         "identifier": [{"value": "W7"}], "partOf": _ref("Location/site"),
         "physicalType": {"coding": [{"system": PHYS, "code": "wa"}]}},
        {"resourceType": "Location", "id": "b12", "name": "Bed 12", "partOf": _ref("Location/w7"),
         "physicalType": {"coding": [{"system": PHYS, "code": "bd"}]}},
        {"resourceType": "Practitioner", "id": "dr",
         "name": [{"family": "Rees", "given": ["Angharad"], "prefix": ["Dr"]}]},
        {"resourceType": "Encounter", "id": "e", "status": "in-progress",
         "class": {"code": "IMP"}, "subject": _ref("Patient/a"),
         "period": {"start": "2026-03-01T08:00:00Z"},
         "participant": [{"type": [{"coding": [{"code": "ATND"}]}],
                          "individual": _ref("Practitioner/dr")}],
         "location": [{"location": _ref("Location/b12")}]},
        {"resourceType": "Encounter", "id": "old", "status": "finished",
         "class": {"code": "IMP"}, "subject": _ref("Patient/a"),
         "location": [{"location": _ref("Location/b12")}]},
    )
    snap = read_extract([path], now=NOW)
    (stay,) = snap.stays
    assert (stay.ward_code, stay.bed, stay.site, stay.consultant) == (
        "W7", "Bed 12", "Ysbyty Gwynedd", "Dr Angharad Rees")
    assert snap.wards[0].name == "Ward 7 — Dewi Sant"
    assert snap.skipped["Encounter finished (not current)"] == 1


def _rx(rid: str, dosage: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active",
            "intent": "order", "subject": _ref("Patient/a"),
            "medicationCodeableConcept": {"text": rid}, "authoredOn": "2026-03-01T10:00:00Z",
            "dosageInstruction": [dosage], **extra}


def test_prescription_kinds_times_prn_and_last_administered(tmp_path: Path) -> None:
    path = _write(
        tmp_path, _pt("a"),
        _rx("regular", {"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d",
                                              "timeOfDay": ["08:00:00", "18:00:00"]}},
                        "route": {"text": "Oral"},
                        "doseAndRate": [{"doseQuantity": {"value": 500, "code": "mg"}}]}),
        _rx("prn", {"asNeededCodeableConcept": {"text": "Pain"},
                    "maxDosePerPeriod": {"numerator": {"value": 4, "code": "g"},
                                         "denominator": {"value": 24, "code": "h"}}}),
        _rx("once", {"timing": {"repeat": {"count": 1}}}),
        _rx("drip", {"doseAndRate": [{"doseQuantity": {"value": 1000, "code": "mL"},
                                      "rateQuantity": {"value": 83, "code": "mL/h"}}]}),
        _rx("stopped", {}, status="stopped"),
        {"resourceType": "MedicationAdministration", "id": "ma", "status": "completed",
         "request": _ref("MedicationRequest/regular"),
         "effectiveDateTime": "2026-03-02T08:05:00Z"},
    )
    snap = read_extract([path], now=NOW)
    rx = {p.id: p for p in snap.prescriptions}
    assert set(rx) == {"regular", "prn", "once", "drip"}
    assert rx["regular"].kind is Kind.REGULAR and rx["regular"].dose_times == ("08:00", "18:00")
    assert rx["regular"].frequency == "twice a day" and rx["regular"].dose == "500 mg"
    assert rx["regular"].last_administered == datetime(2026, 3, 2, 8, 5, tzinfo=UTC)
    assert (rx["prn"].kind, rx["prn"].prn_indication, rx["prn"].prn_max_24h) == (
        Kind.PRN, "Pain", "4 g / 24 h")
    assert rx["once"].kind is Kind.ONCE and rx["drip"].kind is Kind.INFUSION
    assert rx["drip"].dose == "1000 mL at 83 mL/h"
    assert snap.skipped["MedicationRequest stopped"] == 1


def _obs(oid: str, code: str, when: datetime, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"code": code}]}, "subject": _ref("Patient/a"),
            "effectiveDateTime": when.isoformat(), **value}


def test_observations_kinds_window_and_spo2_scale(tmp_path: Path) -> None:
    recent, old = NOW - timedelta(hours=2), NOW - timedelta(hours=80)
    path = _write(
        tmp_path, _pt("a"), _pt("b"),
        _obs("rr", "9279-1", recent, valueQuantity={"value": 21}),
        _obs("rr-old", "9279-1", old, valueQuantity={"value": 12}),
        _obs("bp", "85354-9", recent, component=[
            {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 120}},
            {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 60}}]),
        _obs("air", "722742002", recent),
        _obs("avpu", "1104441000000107", recent,
             valueCodeableConcept={"coding": [{"code": "248234008"}]}),
        _obs("news", "1104051000000101", recent, valueQuantity={"value": 6}, component=[
            {"code": {"coding": [{"code": SPO2_SCALE_SCORE[2].code}]},
             "valueQuantity": {"value": 0}}]),
        {"resourceType": "Flag", "id": "f", "status": "active", "subject": _ref("Patient/b"),
         "code": {"coding": [{"system": "https://fhir.paperfallback.example/CodeSystem/"
                              "news2-spo2-scale", "code": "scale-2"}]}},
    )
    snap = read_extract([path], now=NOW)
    kinds = {o.id: (o.kind, o.value, o.text) for o in snap.observations}
    assert kinds == {
        "rr": (ObservationKind.RESP_RATE, 21.0, ""),
        "bp#sbp": (ObservationKind.SBP, 120.0, ""),
        "bp#dbp": (ObservationKind.DBP, 60.0, ""),
        "air": (ObservationKind.OXYGEN, None, "A"),
        "avpu": (ObservationKind.ACVPU, None, "A"),
        "news": (ObservationKind.NEWS2_TOTAL, 6.0, ""),
    }
    assert snap.skipped["Observation older than 72 h before data-as-of"] == 1
    assert snap.spo2_scale == {"a": 2, "b": 2}


def test_theatre_case_and_outpatient_appointment(tmp_path: Path) -> None:
    people = [
        {"actor": _ref("Patient/a")},
        {"type": [{"coding": [{"system": SCT, "code": "304292004"}]}],
         "actor": {"reference": "Practitioner/s", "display": "Mr Owain Pryce"}},
        {"type": [{"text": "Anaesthetist"}], "actor": {"display": "Dr Ewa Nowak"}},
    ]
    path = _write(
        tmp_path, _pt("a"),
        {"resourceType": "Location", "id": "th1", "name": "Theatre 1",
         "type": [{"coding": [{"code": "OR"}]}]},
        {"resourceType": "Appointment", "id": "c2", "status": "booked",
         "description": "Knee arthroscopy", "start": "2026-03-03T11:00:00Z",
         "participant": [*people, {"actor": _ref("Location/th1")}]},
        {"resourceType": "Appointment", "id": "c1", "status": "booked",
         "description": "Cystoscopy", "start": "2026-03-03T09:00:00Z",
         "participant": [*people, {"actor": _ref("Location/th1")}]},
        {"resourceType": "Appointment", "id": "o1", "status": "booked",
         "serviceType": [{"text": "Fracture Clinic"}], "start": "2026-03-04T09:30:00Z",
         "participant": [people[0], {"type": [{"coding": [{"code": "ATND"}]}],
                                     "actor": {"display": "Dr Kwame Mensah"}}]},
        {"resourceType": "Appointment", "id": "o2", "status": "cancelled",
         "start": "2026-03-04T09:45:00Z", "participant": [people[0]]},
    )
    snap = read_extract([path], now=NOW)
    cases = sorted(snap.theatre_cases, key=lambda c: c.planned_order)
    assert [(c.id, c.planned_order, c.procedure) for c in cases] == [
        ("c1", 1, "Cystoscopy"), ("c2", 2, "Knee arthroscopy")]
    assert (cases[0].theatre, cases[0].surgeon, cases[0].anaesthetist) == (
        "Theatre 1", "Mr Owain Pryce", "Dr Ewa Nowak")
    (appt,) = snap.appointments
    assert (appt.clinic, appt.clinician) == ("Fracture Clinic", "Dr Kwame Mensah")
    assert snap.skipped["Appointment cancelled"] == 1


def test_bed_whose_ward_is_missing_fails(tmp_path: Path) -> None:
    path = _write(
        tmp_path, _pt("a"),
        {"resourceType": "Location", "id": "b1", "name": "Bed 1", "partOf": _ref("Location/w9"),
         "physicalType": {"coding": [{"system": PHYS, "code": "bd"}]}},
        {"resourceType": "Encounter", "id": "e", "status": "in-progress",
         "class": {"code": "IMP"}, "subject": _ref("Patient/a"),
         "location": [{"location": _ref("Location/b1")}]},
    )
    with pytest.raises(InputError, match="ward is unknown") as err:
        read_extract([path], now=NOW)
    assert err.value.where == f"{path}:3"
