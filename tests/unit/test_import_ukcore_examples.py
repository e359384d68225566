"""The official UK Core R4 examples import without loss of the fields the cache keeps.

The examples are archived records (a finished encounter, a completed prescription,
observations from 2018 and 2023), so the field-mapping check reads them with the
``EVERYTHING`` policy; the default policy must drop exactly those as not current.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from paperfallback.cache.importers import EVERYTHING, read_extract
from paperfallback.domain.records import ObservationKind, PrescriptionKind

# The official UK Core examples, vendored unchanged from shared/fhir (see their README).
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "ukcore-examples"
RICHARD = "UKCore-Patient-RichardSmith-Example"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_whole_folder_keeps_every_field() -> None:
    snap = read_extract([EXAMPLES], policy=EVERYTHING, now=NOW)
    (patient,) = snap.patients
    assert patient.nhs_number == "9912003888"
    assert (patient.family, patient.given) == ("SMITH", "Richard")
    assert str(patient.birth_date) == "1970-09-11" and patient.sex.value == "male"
    assert patient.address == "4 Sandmoor Drive, LEEDS, LS17 7DF"
    assert [p.value for p in patient.phones] == ["01131231234"]
    (kin,) = patient.next_of_kin
    assert (kin.name, kin.phone) == ("Jane Jackson", "07777123123")

    (stay,) = snap.stays
    assert stay.patient_id == RICHARD
    assert stay.consultant == "Mrs Sandra Gose"
    assert stay.admitted_at == datetime(2019, 12, 10, 13, 0, tzinfo=UTC)
    ward = next(w for w in snap.wards if w.code == stay.ward_code)
    assert (ward.code, ward.name) == ("RR8D7", "CARDIOLOGY SJUH")

    (allergy,) = snap.allergies
    assert (allergy.substance, allergy.reaction, allergy.severity) == (
        "Amoxicillin", "Urticarial rash", "mild")
    assert not allergy.no_known_allergies

    (alert,) = snap.alerts
    assert alert.text == "Patient has a severe peanut allergy." and alert.category == "Diet"

    (rx,) = snap.prescriptions
    assert (rx.drug, rx.drug_code, rx.dose, rx.route) == (
        "Paracetamol", "777067000", "500 mg", "Oral")
    assert rx.frequency == "four times a day" and rx.kind is PrescriptionKind.REGULAR
    assert rx.instructions == "Paracetamol 500mg, four times a day."
    assert rx.prescriber == "Mrs Sandra Gose" and str(rx.start_date) == "2023-06-15"

    (obs,) = snap.observations  # the NEWS2 Bundle is about a patient not in the folder
    assert (obs.kind, obs.value, obs.patient_id) == (ObservationKind.RESP_RATE, 21.0, RICHARD)
    assert snap.skipped["Observation about a patient not in the extract"] == 9

    (appt,) = snap.appointments
    assert appt.clinic == "Orthopaedic Surgery" and appt.clinician == "Mrs Sandra Gose"
    assert appt.start == datetime(2022, 3, 11, 10, 46, tzinfo=UTC)
    assert appt.location == "ST JAMES'S UNIVERSITY HOSPITAL"
    assert appt.description == "Appointment to investigate the pain in both hips"
    assert snap.skipped["file README.md (not an extract file)"] == 1


def test_default_policy_drops_only_what_is_not_current() -> None:
    snap = read_extract([EXAMPLES], now=NOW)
    assert len(snap.patients) == 1 and len(snap.allergies) == 1 and len(snap.alerts) == 1
    assert len(snap.appointments) == 1
    assert not snap.stays and not snap.prescriptions and not snap.observations
    assert snap.skipped["Encounter finished (not current)"] == 1
    assert snap.skipped["MedicationRequest completed (intent option)"] == 1
    assert snap.as_of_source == "import time"


def test_news2_bundle_maps_every_parameter(tmp_path: Path) -> None:
    """With its patient present, the NEWS2 Bundle gives the whole set and the scale."""
    shutil.copy(EXAMPLES / "UKCore-Bundle-NEWS2Observations-Example.json", tmp_path)
    (tmp_path / "patient.json").write_text(json.dumps({
        "resourceType": "Patient", "id": "ad2c58ab-ffab-4366-9c76-b0322e22e881",
        "name": [{"family": "Example"}]}))
    snap = read_extract([tmp_path], as_of=datetime(2018, 10, 4, 15, 0, tzinfo=UTC))
    values = {o.kind: (o.value, o.text) for o in snap.observations}
    assert values == {
        ObservationKind.NEWS2_TOTAL: (6.0, ""),
        ObservationKind.RESP_RATE: (21.0, ""),
        ObservationKind.PULSE: (95.0, ""),
        ObservationKind.SPO2: (93.0, ""),
        ObservationKind.OXYGEN: (None, "A"),
        ObservationKind.TEMP: (37.5, ""),
        ObservationKind.SBP: (120.0, ""),
        ObservationKind.DBP: (60.0, ""),
        ObservationKind.ACVPU: (None, "A"),
    }
    assert snap.spo2_scale == {"ad2c58ab-ffab-4366-9c76-b0322e22e881": 1}
