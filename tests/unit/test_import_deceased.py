"""Deceased patients (issue 13, item 4): read from deceasedBoolean / deceasedDateTime (and
the CSV/xlsx ``deceased`` column), never on a ward, clinic or theatre list as current, and
counted in the import summary."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.cache.importers.policy import EVERYTHING
from paperfallback.domain.errors import InputError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def patient(pid: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/local-patient-identifier",
                            "value": f"H{pid}"}],
            "name": [{"family": f"Family{pid}", "given": ["Given"]}], **extra}


def stay(eid: str, pid: str) -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": eid, "status": "in-progress",
            "class": {"code": "IMP"}, "subject": {"reference": f"Patient/{pid}"},
            "location": [{"location": {"reference": "Location/w1", "display": "Ward 1"}}]}


def appointment(aid: str, pid: str) -> dict[str, Any]:
    return {"resourceType": "Appointment", "id": aid, "status": "booked",
            "start": "2026-03-03T10:00:00Z", "serviceType": [{"text": "Fracture clinic"}],
            "participant": [{"actor": {"reference": f"Patient/{pid}"}}]}


def ndjson(path: Path, *resources: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def test_deceased_patients_are_read_and_never_on_a_list_as_current(tmp_path: Path) -> None:
    f = ndjson(
        tmp_path / "x.ndjson",
        patient("alive"), patient("dead1", deceasedDateTime="2026-02-27T23:30:00+00:00"),
        patient("dead2", deceasedBoolean=True), patient("alive2", deceasedBoolean=False),
        stay("e1", "alive"), stay("e2", "dead1"), stay("e3", "dead2"),
        appointment("a1", "dead1"), appointment("a2", "alive2"),
    )
    snap = read_extract([f], now=NOW)
    by_id = {p.id: p for p in snap.patients}
    assert by_id["dead1"].deceased and by_id["dead1"].deceased_date == date(2026, 2, 27)
    assert by_id["dead2"].deceased and by_id["dead2"].deceased_date is None
    assert not by_id["alive"].deceased and not by_id["alive2"].deceased
    assert [s.patient_id for s in snap.stays] == ["alive"]
    assert [a.patient_id for a in snap.appointments] == ["alive2"]
    assert snap.counts()["deceased"] == 2
    assert snap.skipped["current stay of a deceased patient (not on any ward list)"] == 2
    assert snap.skipped["appointment or theatre case of a deceased patient"] == 1


def test_a_death_time_is_dated_in_uk_local_time(tmp_path: Path) -> None:
    # 23:30 on 30 June in New York is 04:30 on 1 July in London.
    f = ndjson(tmp_path / "p.ndjson",
               patient("d", deceasedDateTime="2025-06-30T23:30:00-04:00"),
               patient("y", deceasedDateTime="1989"))
    by_id = {p.id: p for p in read_extract([f], now=NOW).patients}
    assert by_id["d"].deceased_date == date(2025, 7, 1)
    assert by_id["y"].deceased and by_id["y"].deceased_date is None  # partial: not guessed


def test_deceased_column_in_csv(tmp_path: Path) -> None:
    (tmp_path / "patients.csv").write_text(
        "id,family,given,deceased\np1,A,B,\np2,C,D,2026-02-01\np3,E,F,yes\n", encoding="utf-8")
    (tmp_path / "stays.csv").write_text(
        "patient_id,ward_code,bed\np1,W1,1\np2,W1,2\np3,W1,3\n", encoding="utf-8")
    snap = read_extract([tmp_path], now=NOW, policy=EVERYTHING)
    assert {p.id: (p.deceased, p.deceased_date) for p in snap.patients} == {
        "p1": (False, None), "p2": (True, date(2026, 2, 1)), "p3": (True, None)}
    assert [s.patient_id for s in snap.stays] == ["p1"]
    assert snap.counts()["deceased"] == 2


def test_bad_deceased_value_in_csv_names_the_cell(tmp_path: Path) -> None:
    f = tmp_path / "patients.csv"
    f.write_text("id,family,deceased\np1,A,perhaps\n", encoding="utf-8")
    with pytest.raises(InputError, match="yes, no or a date") as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:2, column 'deceased'"
