"""Facts survive the round trip through the store's JSON column unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime

from paperfallback.domain.codec import from_json, to_json
from paperfallback.domain.records import (
    NextOfKin,
    Observation,
    ObservationKind,
    Patient,
    Phone,
    Prescription,
    PrescriptionKind,
    Sex,
    Snapshot,
)


def test_patient_round_trip_with_nested_tuples_and_non_ascii() -> None:
    patient = Patient(
        id="p1", nhs_number="9990000018", hospital_number="RM1", family="Llŷr-Pritchard",
        given="Gwenllïan", birth_date=date(1941, 2, 3), sex=Sex.FEMALE,
        phones=(Phone("07700 900123", "mobile"),),
        next_of_kin=(NextOfKin("Łukasz Wójcik", "son", "07700 900456"),),
        source_time=datetime(2018, 1, 24, 9, 0, tzinfo=UTC),
    )
    assert from_json(Patient, to_json(patient)) == patient


def test_enums_floats_and_optional_values() -> None:
    obs = Observation("o1", "p1", ObservationKind.TEMP, datetime(2018, 1, 24, tzinfo=UTC), 37)
    back = from_json(Observation, to_json(obs))
    assert back == obs and isinstance(back.value, float)
    rx = Prescription("m1", "p1", "Paracetamol", dose_times=("08:00", "14:00"),
                      kind=PrescriptionKind.PRN, start_date=None)
    assert from_json(Prescription, to_json(rx)) == rx


def test_dicts_of_plain_values() -> None:
    snap = Snapshot(data_as_of=datetime(2018, 1, 24, tzinfo=UTC), as_of_source="option",
                    spo2_scale={"p1": 2}, skipped={"README.md": 1})
    assert from_json(Snapshot, to_json(snap)) == snap
