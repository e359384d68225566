"""FHIR file shapes: Bundles, single resources, NDJSON, folders, Bulk Data manifests;
and errors that name file, line and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.domain.errors import InputError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NHS = "https://fhir.nhs.uk/Id/nhs-number"


def patient(pid: str = "p1", nhs: str | None = "9990000026", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/local-patient-identifier",
                        "value": f"H{pid}"}],
        "name": [{"use": "official", "family": "Prys", "given": ["Gwenllïan"]}],
        "birthDate": "1950-02-03", "gender": "female",
    }
    if nhs:
        res["identifier"].append({"system": NHS, "value": nhs})
    res.update(extra)
    return res


def allergy(aid: str, pid: str = "p1", ref: str | None = None) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "id": aid,
            "code": {"text": "Penicillin"}, "patient": {"reference": ref or f"Patient/{pid}"}}


def bundle(kind: str, *resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    entries = []
    for r in resources:
        entry: dict[str, Any] = {"fullUrl": f"urn:uuid:{r['id']}", "resource": r}
        if kind == "transaction":
            entry["request"] = {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
        if kind == "searchset":
            entry["search"] = {"mode": "match"}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries, **extra}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def ndjson(path: Path, *resources: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["collection", "searchset", "transaction"])
def test_bundles_of_each_type_import(tmp_path: Path, kind: str) -> None:
    f = write(tmp_path / "b.json", bundle(kind, patient(), allergy("a1"),
                                         timestamp="2026-03-02T11:00:00Z"))
    snap = read_extract([f], now=NOW)
    assert [p.nhs_number for p in snap.patients] == ["9990000026"]
    assert snap.patients[0].given == "Gwenllïan"
    assert [a.substance for a in snap.allergies] == ["Penicillin"]
    assert snap.as_of_source == "bundle.timestamp"


def test_transaction_resolves_urn_uuid_references(tmp_path: Path) -> None:
    p = patient("urn-pt")
    p.pop("id")
    b = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:5b0e4b0e-1", "resource": p,
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:5b0e4b0e-2",
         "resource": {**allergy("a9", ref="urn:uuid:5b0e4b0e-1")},
         "request": {"method": "POST", "url": "AllergyIntolerance"}},
    ]}
    snap = read_extract([write(tmp_path / "t.json", b)], now=NOW)
    assert snap.allergies[0].patient_id == snap.patients[0].id == "5b0e4b0e-1"


def test_single_resource_files(tmp_path: Path) -> None:
    a = write(tmp_path / "patient.json", patient())
    b = write(tmp_path / "allergy.json", allergy("a1"))
    snap = read_extract([a, b], now=NOW)
    assert len(snap.patients) == 1 and len(snap.allergies) == 1
    assert snap.as_of_source == "import time" and snap.data_as_of == NOW


def test_ndjson_and_folder_skips_other_files_and_counts_unknown_types(tmp_path: Path) -> None:
    ndjson(tmp_path / "Patient.ndjson", patient("p1"), patient("p2", nhs="9990000018"))
    ndjson(tmp_path / "Other.ndjson", {"resourceType": "CarePlan", "id": "c1"},
           {"resourceType": "CarePlan", "id": "c2"})
    (tmp_path / "README.md").write_text("# not data\n")
    snap = read_extract([tmp_path], now=NOW)
    assert {p.id for p in snap.patients} == {"p1", "p2"}
    assert snap.skipped["CarePlan resources (type not used)"] == 2
    assert snap.skipped["file README.md (not an extract file)"] == 1


def test_bad_nhs_number_names_file_line_and_field(tmp_path: Path) -> None:
    f = ndjson(tmp_path / "Patient.ndjson", patient("p1"), patient("p2", nhs="9990000027"))
    with pytest.raises(InputError) as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:2"
    assert "NHS number" in str(err.value) and "check digit" in str(err.value)


def test_not_json_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "Patient.ndjson"
    f.write_text(json.dumps(patient()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON") as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:2"


def test_json_file_syntax_error_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "b.json"
    f.write_text('{\n  "resourceType": "Bundle",\n  "entry": [,]\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:3"


def test_non_resource_json_fails(tmp_path: Path) -> None:
    f = ndjson(tmp_path / "x.ndjson", patient(), {"hello": "world"})
    with pytest.raises(InputError, match="not a FHIR resource") as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:2"


def test_error_inside_a_bundle_entry_names_its_line(tmp_path: Path) -> None:
    f = write(tmp_path / "b.json", bundle("collection", patient("p1"),
                                         patient("p2", nhs="123")))
    with pytest.raises(InputError, match="must have 10 digits") as err:
        read_extract([f], now=NOW)
    text = f.read_text().splitlines()
    line = int(str(err.value.where).rsplit(":", 1)[1])
    assert '"id": "p2"' in text[line - 1]


def test_stay_for_a_missing_patient_fails_with_where(tmp_path: Path) -> None:
    enc = {"resourceType": "Encounter", "id": "e1", "status": "in-progress",
           "class": {"code": "IMP"}, "subject": {"reference": "Patient/ghost"},
           "location": [{"location": {"reference": "Location/w1", "display": "Ward 1"}}]}
    f = ndjson(tmp_path / "Encounter.ndjson", enc)
    with pytest.raises(InputError, match="ghost") as err:
        read_extract([f, write(tmp_path / "p.json", patient())], now=NOW)
    assert err.value.where == f"{f}:1"


def test_facts_about_absent_patients_are_skipped_and_counted(tmp_path: Path) -> None:
    f = ndjson(tmp_path / "A.ndjson", allergy("a1"), allergy("a2", pid="ghost"))
    snap = read_extract([f, write(tmp_path / "p.json", patient())], now=NOW)
    assert [a.id for a in snap.allergies] == ["a1"]
    assert snap.skipped["AllergyIntolerance about a patient not in the extract"] == 1


def test_duplicate_nhs_number_on_two_patients_fails(tmp_path: Path) -> None:
    f = ndjson(tmp_path / "Patient.ndjson", patient("p1"), patient("p2"))
    with pytest.raises(InputError, match="same NHS number"):
        read_extract([f], now=NOW)


def _bulk(folder: Path, names: list[str], counts: dict[str, int] | None = None) -> None:
    output = [{"type": n.split(".")[0], "url": f"https://x.example/out/{n}",
               **({"count": counts[n]} if counts and n in counts else {})} for n in names]
    write(folder / "manifest.json",
          {"transactionTime": "2026-03-02T10:30:00+00:00", "output": output})


def test_manifest_matching_files_gives_transaction_time(tmp_path: Path) -> None:
    ndjson(tmp_path / "Patient.ndjson", patient())
    _bulk(tmp_path, ["Patient.ndjson"], {"Patient.ndjson": 1})
    snap = read_extract([tmp_path], now=NOW)
    assert snap.as_of_source == "manifest.transactionTime"
    assert snap.data_as_of == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def test_manifest_lists_a_missing_file(tmp_path: Path) -> None:
    ndjson(tmp_path / "Patient.ndjson", patient())
    _bulk(tmp_path, ["Patient.ndjson", "Observation.ndjson"])
    with pytest.raises(InputError, match=r"Observation\.ndjson") as err:
        read_extract([tmp_path], now=NOW)
    assert err.value.where == str(tmp_path / "manifest.json")


def test_manifest_misses_an_extra_file(tmp_path: Path) -> None:
    ndjson(tmp_path / "Patient.ndjson", patient())
    ndjson(tmp_path / "Flag.ndjson")
    _bulk(tmp_path, ["Patient.ndjson"])
    with pytest.raises(InputError, match="not listed in the Bulk Data manifest"):
        read_extract([tmp_path], now=NOW)


def test_manifest_count_detects_a_truncated_file(tmp_path: Path) -> None:
    ndjson(tmp_path / "Patient.ndjson", patient())
    _bulk(tmp_path, ["Patient.ndjson"], {"Patient.ndjson": 2})
    with pytest.raises(InputError, match="truncated"):
        read_extract([tmp_path], now=NOW)


def test_explicit_unknown_file_type_fails(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(InputError, match="not an extract file"):
        read_extract([f], now=NOW)


def test_trust_hospital_number_system_and_searchset_outcome(tmp_path: Path) -> None:
    p = patient("p1")
    p["identifier"].append({"system": "https://trust.example/mrn", "value": "RM 123456"})
    b = bundle("searchset", p)
    b["entry"].append({"search": {"mode": "outcome"},
                       "resource": {"resourceType": "OperationOutcome", "id": "oo"}})
    f = write(tmp_path / "s.json", b)
    snap = read_extract([f], hospital_number_systems=["https://trust.example/mrn"], now=NOW)
    assert snap.patients[0].hospital_number == "RM 123456"
    assert not snap.skipped  # the outcome entry is not data
    default = read_extract([f], now=NOW)
    assert default.patients[0].hospital_number == "Hp1"
