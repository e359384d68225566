"""Shared fixtures: every test runs on its own data folder with a test key.

The demo hospital is built once per session (through the real importer) and copied
into each test's data folder that asks for it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TEST_KEY = "test-key-not-secret"
# Local test servers (SMART token endpoint, Bulk Data server): importable from any suite.
sys.path.insert(0, str(Path(__file__).parent / "servers"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.pdf from the current renderer (look at "
                          "every changed page before committing)")


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test touches the user's real data folder or keyring."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PAPERFALLBACK_DATA_DIR", str(data))
    monkeypatch.setenv("PAPERFALLBACK_KEY", TEST_KEY)
    yield


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the demo hospital cache, built once per session."""
    from paperfallback.cli.main import main

    folder = tmp_path_factory.mktemp("demo-template")
    old = os.environ.get("PAPERFALLBACK_KEY")
    os.environ["PAPERFALLBACK_KEY"] = TEST_KEY
    try:
        assert main(["--data-dir", str(folder), "demo", "--seed", "7"]) == 0
    finally:
        if old is None:
            os.environ.pop("PAPERFALLBACK_KEY", None)
        else:
            os.environ["PAPERFALLBACK_KEY"] = old
    return folder


@pytest.fixture
def demo_data_dir(demo_template: Path, data_dir: Path) -> Path:
    """This test's data folder, holding a private copy of the demo cache."""
    for item in demo_template.iterdir():
        if item.is_file() and item.name.startswith("cache.db"):
            shutil.copy2(item, data_dir / item.name)
    return data_dir


# ---- tiny Bulk Data extracts (refresh tests) ------------------------------------------------

TINY_NAMES = (("Ap Llŷr", "Gwenllïan"), ("Brönte-Ffowc", "Zoë"), ("Wŷn", "Łucja"),
              ("Okonkwo", "Chidi"), ("Pryce-Ŵatkins", "Élise"), ("Hughes", "Dafydd"))


def tiny_nhs_number(index: int) -> str:
    """A valid NHS number in the reserved test range (999 000 0000 - 999 999 9999)."""
    from paperfallback.domain.nhs_number import check_digit

    n = 0
    while True:
        nine = f"999{100_000 + index * 97 + n:06d}"
        digit = check_digit(nine)
        if digit is not None:
            return nine + str(digit)
        n += 1


def tiny_bulk_extract(patients: int, transaction_time: str) -> dict[str, list[dict[str, object]]]:
    """A small ward extract as FHIR resources per type, as a Bulk Data export holds them."""
    ward = {
        "resourceType": "Location", "id": "ward-w1", "name": "Tiny Ward",
        "identifier": [{"value": "W1"}],
        "physicalType": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
            "code": "wa"}]},
    }
    resources: dict[str, list[dict[str, object]]] = {"Location": [ward], "Patient": [],
                                                      "Encounter": []}
    for i in range(patients):
        family, given = TINY_NAMES[i % len(TINY_NAMES)]
        resources["Patient"].append({
            "resourceType": "Patient", "id": f"p{i}",
            "meta": {"lastUpdated": transaction_time},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                            "value": tiny_nhs_number(i)}],
            "name": [{"family": family, "given": [given]}],
            "gender": "female" if i % 2 else "male",
            "birthDate": f"19{40 + i}-0{1 + i % 9}-1{i % 9}",
        })
        resources["Encounter"].append({
            "resourceType": "Encounter", "id": f"e{i}", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "IMP"},
            "subject": {"reference": f"Patient/p{i}"},
            "period": {"start": "2026-11-20T10:00:00+00:00"},
            "location": [{"location": {"reference": "Location/ward-w1"}, "status": "active"}],
        })
    return resources


@pytest.fixture
def write_tiny_drop() -> object:
    """``write(folder, patients=4, transaction_time=..., marker=True)`` writes one Bulk Data
    style extract (NDJSON per type + manifest.json, written last) into ``folder``."""
    import json

    def write(folder: Path, patients: int = 4,
              transaction_time: str = "2026-11-24T06:00:00+00:00", marker: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        outputs = []
        for rtype, items in tiny_bulk_extract(patients, transaction_time).items():
            name = f"{rtype}.ndjson"
            (folder / name).write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items),
                encoding="utf-8",
            )
            outputs.append({"type": rtype, "url": name, "count": len(items)})
        if marker:
            manifest = {"transactionTime": transaction_time, "request": "x/$export",
                        "requiresAccessToken": False, "output": outputs, "error": []}
            (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        return folder

    return write


@pytest.fixture
def tiny_extract_resources() -> object:
    """``make(patients, transaction_time) -> {type: [resource, ...]}`` (see tiny_bulk_extract)."""
    return tiny_bulk_extract


@pytest.fixture
def record_issued(data_dir: Path):  # type: ignore[no-untyped-def]
    """Re-entry: record printed forms in this test's register without printing.

    ``record_issued("news2", count=2, patient_id="p1", ward_code="W1")`` -> [IssuedForm].
    """
    from datetime import UTC, datetime, timedelta

    from paperfallback.register import IssuedForm, Register
    from paperfallback.workstore import WorkStore

    def make(form_id: str, count: int = 1, **fields: object) -> list[IssuedForm]:
        conn = WorkStore.open(data_dir, TEST_KEY)
        try:
            register = Register(conn, pc_code="T1")
            defaults: dict[str, object] = {
                "form_version": "1.0", "scope": "patient", "page_count": 1,
                "printed_at": datetime.now(UTC) - timedelta(hours=2), "pc_id": "test-pc",
            }
            defaults.update(fields)
            items = [
                IssuedForm(instance_id=register.instance_id(), form_id=form_id, **defaults)  # type: ignore[arg-type]
                for _ in range(count)
            ]
            register.record(items)
            return items
        finally:
            conn.close()

    return make


# ---- a small hand-made ward for the printed forms (render tests) ----------------------------

def sample_as_of_time():  # type: ignore[no-untyped-def]
    """When the hand-made cache's data is as of: 05-Jan-2026 08:30 UTC."""
    from datetime import UTC, datetime

    return datetime(2026, 1, 5, 8, 30, tzinfo=UTC)


def sample_snapshot():  # type: ignore[no-untyped-def]
    """Three patients on Cedar Ward: a Welsh name with a recorded allergy and SpO2 scale 2,
    a patient with no NHS number and no known allergies, and a very long name with
    allergies not recorded; plus a clinic and a theatre list."""
    from datetime import date, timedelta

    from paperfallback.domain.records import (
        Alert,
        Allergy,
        Appointment,
        NextOfKin,
        Observation,
        ObservationKind,
        Patient,
        Phone,
        Prescription,
        PrescriptionKind,
        Sex,
        Snapshot,
        Stay,
        TheatreCase,
        Ward,
    )

    t0 = sample_as_of_time()
    ward = Ward("CED", "Cedar Ward", "Ysbyty Enghraifft")
    patients = (
        Patient("p1", tiny_nhs_number(1), "RM100001", "Llŷr-Pritchard", "Gwenllïan",
                date(1948, 3, 5), Sex.FEMALE, phones=(Phone("07700 900123", "mobile"),),
                next_of_kin=(NextOfKin("Dafydd Llŷr", "son", "07700 900456"),)),
        Patient("p2", None, "RM100002", "Wójcik", "Łukasz", date(1990, 11, 30), Sex.MALE),
        Patient("p3", tiny_nhs_number(3), "RM100003",
                "Llewellyn-ap-Rhys-Pritchard-Vaughan-Ölander-Ŵynne",
                "Angharad Gwenhwyfar Myfanwy Siân", date(1935, 1, 1), Sex.FEMALE),
    )
    stays = tuple(
        Stay(f"s{i}", p.id, "CED", bed, consultant="Dr Ffion Hughes",
             admitted_at=t0 - timedelta(days=3))
        for i, (p, bed) in enumerate(zip(patients, ("Bed 1", "Bed 2", "Side room 3"),
                                         strict=True))
    )
    allergies = (
        Allergy("a1", "p1", "Penicillin", "anaphylaxis", "severe"),
        Allergy("a2", "p2", "No known allergies", no_known_allergies=True),
    )
    alerts = (Alert("f1", "p1", "DNACPR in place"),)
    rx = (
        Prescription("rx1", "p1", "Amoxicillin", "500 mg", "oral", "three times daily",
                     ("08:00", "14:00", "22:00"), start_date=date(2026, 1, 3),
                     prescriber="Dr Ŵ Evans"),
        Prescription("rx2", "p1", "Enoxaparin", "40 mg", "subcut", "once daily", ("18:00",)),
        Prescription("rx3", "p1", "Paracetamol", "1 g", "oral", kind=PrescriptionKind.PRN,
                     prn_indication="pain or fever", prn_max_24h="4 g",
                     last_administered=t0 - timedelta(hours=5)),
        Prescription("rx4", "p1", "Sodium chloride 0.9%", "1000 ml", "IV",
                     kind=PrescriptionKind.INFUSION, instructions="over 8 hours"),
    )
    obs = []
    readings = [  # resp, spo2, oxygen, flow, sbp, dbp, pulse, acvpu, temp, total
        (18, 93, "A", None, 128, 76, 88, "A", 37.1, 0),
        (22, 90, "O2", 2.0, 104, 60, 104, "A", 38.4, 5),
        (26, 97, "O2", 4.0, 88, 50, 132, "C", 39.4, 14),
    ]
    for j, (rr, sp, ox, flow, sbp, dbp, pulse, acvpu, temp, total) in enumerate(readings):
        when = t0 - timedelta(hours=4 * (len(readings) - j))
        values = {ObservationKind.RESP_RATE: rr, ObservationKind.SPO2: sp,
                  ObservationKind.SBP: sbp, ObservationKind.DBP: dbp,
                  ObservationKind.PULSE: pulse, ObservationKind.TEMP: temp,
                  ObservationKind.NEWS2_TOTAL: total}
        for kind, value in values.items():
            obs.append(Observation(f"o{j}{kind.value}", "p1", kind, when, float(value)))
        obs.append(Observation(f"o{j}ox", "p1", ObservationKind.OXYGEN, when, text=ox))
        obs.append(Observation(f"o{j}ac", "p1", ObservationKind.ACVPU, when, text=acvpu))
        if flow is not None:
            obs.append(Observation(f"o{j}fl", "p1", ObservationKind.O2_FLOW, when, flow,
                                   text="nasal cannulae"))
    day = t0.date()
    appointments = (
        Appointment("ap1", "p2", "Fracture clinic", t0.replace(hour=9, minute=30),
                    clinician="Mr Emyr Jones"),
        Appointment("ap2", "p1", "Fracture clinic", t0.replace(hour=10, minute=0),
                    clinician="Mr Emyr Jones"),
    )
    cases = (TheatreCase("tc1", "p3", "Theatre 2", day, 1, "Hemiarthroplasty, left hip",
                         t0.replace(hour=9), "Ms Nia Rowlands", "Dr Owain Bell"),)
    return Snapshot(
        data_as_of=t0, as_of_source="option", patients=patients, wards=(ward,), stays=stays,
        allergies=allergies, alerts=alerts, prescriptions=rx, observations=tuple(obs),
        appointments=appointments, theatre_cases=cases, spo2_scale={"p1": 2},
    )


@pytest.fixture
def sample_data_dir(data_dir: Path) -> Path:
    """This test's data folder with the hand-made Cedar Ward cache (data as of
    ``sample_as_of``; pass ``now`` to render_pack to make it fresh or stale)."""
    from paperfallback.cache.store import CacheStore

    with CacheStore.open(data_dir, TEST_KEY) as store:
        store.replace_snapshot(sample_snapshot())
    return data_dir


@pytest.fixture
def sample_as_of():  # type: ignore[no-untyped-def]
    return sample_as_of_time()


@pytest.fixture
def make_sample_snapshot():  # type: ignore[no-untyped-def]
    """The builder of the hand-made Cedar Ward snapshot, to vary it in a test."""
    return sample_snapshot


@pytest.fixture
def smart_token_server():  # type: ignore[no-untyped-def]
    """A SMART Backend Services token endpoint on 127.0.0.1 (tests/servers/)."""
    from smart_token_server import SmartTokenServer

    with SmartTokenServer() as server:
        yield server


@pytest.fixture
def smart_client_key(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An ES384 key pair for a test client: ``.pem_path``, ``.jwks_path``, ``.public_jwk``."""
    from smart_token_server import make_client_key

    return make_client_key(tmp_path / "keys", "ES384", kid="ward-pc-key")
