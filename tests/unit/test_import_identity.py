"""Identity never silently changes at import (issue 13 items 1-2, issue 14 item 3, issue 12
item 6): duplicate resource ids, identity fields of the wrong JSON type, the hospital number
from an identifier typed MR, and JSON nested too deep."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.cache.importers.json_text import MAX_JSON_DEPTH
from paperfallback.domain.errors import InputError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NHS = "https://fhir.nhs.uk/Id/nhs-number"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


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


def bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind,
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def ndjson(path: Path, *resources: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def _impostor() -> dict[str, Any]:
    p = patient("p1", nhs=None)
    p["name"] = [{"use": "official", "family": "IMPOSTOR", "given": ["Ivor"]}]
    return p


def test_two_patients_with_one_id_fail_naming_both_places(tmp_path: Path) -> None:
    f = ndjson(tmp_path / "Patient.ndjson", patient("p0", nhs="9990000018"), patient("p1"),
               _impostor())
    with pytest.raises(InputError, match="two different Patient resources with id 'p1'") as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:3"
    assert f"{f}:2" in str(err.value)


def test_a_later_last_updated_does_not_let_a_duplicate_win(tmp_path: Path) -> None:
    first = patient("p1", meta={"lastUpdated": "2026-03-01T10:00:00Z"})
    second = {**_impostor(), "meta": {"lastUpdated": "2026-03-02T10:00:00Z"}}
    a = ndjson(tmp_path / "a.ndjson", first)
    b = write(tmp_path / "b.json", bundle("collection", second))
    with pytest.raises(InputError, match="two different Patient resources") as err:
        read_extract([a, b], now=NOW)
    assert f"{a}:1" in str(err.value)
    assert str(err.value.where).startswith(str(b))


def test_duplicate_ids_of_other_types_fail_too(tmp_path: Path) -> None:
    rx = {"resourceType": "MedicationRequest", "id": "rx1", "status": "active",
          "intent": "order", "subject": {"reference": "Patient/p1"},
          "medicationCodeableConcept": {"text": "Morphine"}}
    f = ndjson(tmp_path / "MedicationRequest.ndjson", rx,
               {**rx, "medicationCodeableConcept": {"text": "Midazolam"}})
    with pytest.raises(InputError, match="MedicationRequest resources with id 'rx1'"):
        read_extract([f, write(tmp_path / "p.json", patient())], now=NOW)


def test_an_identical_copy_is_harmless_and_kept_once(tmp_path: Path) -> None:
    # Per-patient Bundles often repeat a shared Practitioner or Location word for word.
    a = write(tmp_path / "a.json", bundle("collection", patient("p1")))
    b = write(tmp_path / "b.json", bundle("collection", patient("p1")))
    snap = read_extract([a, b], now=NOW)
    assert [p.id for p in snap.patients] == ["p1"]


def test_two_csv_patient_rows_with_one_id_fail_naming_both_rows(tmp_path: Path) -> None:
    f = tmp_path / "patients.csv"
    f.write_text("id,family,given\np1,PRYS,Gwen\np1,IMPOSTOR,Ivor\n", encoding="utf-8")
    with pytest.raises(InputError, match="two patients rows with id 'p1'") as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:3"
    assert f"{f}:2" in str(err.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["identifier"].__setitem__(1, {
            "system": "https://fhir.nhs.uk/Id/nhs-number", "value": 9990000026}),
         "identifier[1].value"),
        (lambda p: p["name"][0].__setitem__("family", {"text": "Prys"}), "name[0].family"),
        (lambda p: p["name"][0].__setitem__("given", "Gwenllian"), "name[0].given"),
        (lambda p: p["name"][0].__setitem__("given", [["Gwen"]]), "name[0].given[0]"),
        (lambda p: p.__setitem__("name", {"family": "Prys"}), "name"),
        (lambda p: p.__setitem__("identifier", "9990000026"), "identifier"),
        (lambda p: p.__setitem__("birthDate", 19500203), "birthDate"),
        (lambda p: p.__setitem__("gender", ["female"]), "gender"),
        (lambda p: p.__setitem__("deceasedBoolean", "false"), "deceasedBoolean"),
        (lambda p: p.__setitem__("id", 1), "id"),
    ],
)
def test_identity_field_of_the_wrong_json_type_fails(
    tmp_path: Path, change: Any, field: str
) -> None:
    p = patient("p1")
    change(p)
    f = ndjson(tmp_path / "Patient.ndjson", patient("p0", nhs="9990000018"), p)
    with pytest.raises(InputError) as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:2"
    assert f"field {field}:" in str(err.value)
    assert "expected" in str(err.value)


def test_a_fact_whose_patient_reference_is_not_text_fails(tmp_path: Path) -> None:
    allergy = {"resourceType": "AllergyIntolerance", "id": "a1", "code": {"text": "Latex"},
               "patient": {"reference": ["Patient/p1"]}}
    f = ndjson(tmp_path / "AllergyIntolerance.ndjson", allergy)
    with pytest.raises(InputError, match=r"field patient\.reference: expected") as err:
        read_extract([f, write(tmp_path / "p.json", patient())], now=NOW)
    assert err.value.where == f"{f}:1"


def test_unused_fields_of_odd_types_are_ignored(tmp_path: Path) -> None:
    p = patient("p1", maritalStatus=7, photo="not a list", communication={"x": 1})
    snap = read_extract([ndjson(tmp_path / "Patient.ndjson", p)], now=NOW)
    assert snap.patients[0].nhs_number == "9990000026"


def _typed_mr(value: str, system: str = "http://hospital.example/mrn") -> dict[str, Any]:
    return {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "system": system,
            "value": value}


def test_identifier_typed_mr_is_the_hospital_number_by_default(tmp_path: Path) -> None:
    p = patient("p1", nhs=None)
    p["identifier"] = [{"system": "https://github.com/synthetichealth/synthea", "value": "x"},
                       _typed_mr("MRN-42")]
    snap = read_extract([ndjson(tmp_path / "Patient.ndjson", p)], now=NOW)
    assert snap.patients[0].hospital_number == "MRN-42"


def test_a_configured_system_wins_over_an_mr_type(tmp_path: Path) -> None:
    p = patient("p1")
    p["identifier"].insert(0, _typed_mr("MRN-42"))
    snap = read_extract([ndjson(tmp_path / "Patient.ndjson", p)], now=NOW)
    assert snap.patients[0].hospital_number == "Hp1"  # local-patient-identifier system


def test_synthea_patients_import_with_a_hospital_number(tmp_path: Path) -> None:
    sample = Path(__file__).parents[1] / "fixtures" / "synthea-bulk-10"
    snap = read_extract([sample / "Patient.000.ndjson"], now=NOW)
    assert len(snap.patients) == 13
    assert all(p.hospital_number for p in snap.patients)
    mr = {p.id: p.hospital_number for p in snap.patients}
    assert mr["129c6ac7-8d06-89de-ad63-0204a93e76c3"] == "129c6ac7-8d06-89de-ad63-0204a93e76c3"


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_json_nested_too_deep_fails_with_file_and_line(tmp_path: Path, depth: int) -> None:
    f = tmp_path / "Patient.ndjson"
    deep = "[" * depth + "]" * depth
    f.write_text(json.dumps(patient("p0", nhs="9990000018")) + "\n"
                 + json.dumps(patient("p1"))[:-1] + ', "extension": ' + deep + "}\n",
                 encoding="utf-8")
    with pytest.raises(InputError, match=f"nested deeper than {MAX_JSON_DEPTH} levels") as err:
        read_extract([f], now=NOW)
    assert err.value.where == f"{f}:2"


def test_json_file_nested_too_deep_fails(tmp_path: Path) -> None:
    f = tmp_path / "b.json"
    f.write_text(json.dumps(bundle("collection", patient("p1", extension=[_nested(200)]))),
                 encoding="utf-8")
    with pytest.raises(InputError, match="nested deeper") as err:
        read_extract([f], now=NOW)
    assert str(err.value.where).startswith(str(f))


def test_ordinary_nesting_is_fine(tmp_path: Path) -> None:
    f = write(tmp_path / "b.json", bundle("collection", patient("p1", extension=[_nested(30)])))
    assert len(read_extract([f], now=NOW).patients) == 1


def test_two_copies_in_one_bundle_are_named_by_their_own_lines(tmp_path: Path) -> None:
    f = write(tmp_path / "b.json", bundle("collection", patient("p1"), _impostor()))
    with pytest.raises(InputError, match="two different Patient") as err:
        read_extract([f], now=NOW)
    lines = f.read_text().splitlines()
    here = int(str(err.value.where).rsplit(":", 1)[1])
    there = int(str(err.value).split("the one at ")[1].split(":")[1].split(";")[0])
    assert here != there
    assert '"id": "p1"' in lines[here - 1] and '"id": "p1"' in lines[there - 1]
    assert "IMPOSTOR" in "".join(lines[here - 1:here + 12])


def test_a_shared_resource_repeated_in_nested_bundles_is_read_once(tmp_path: Path) -> None:
    doctor = {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Evans"}]}
    outer = bundle("collection", bundle("document", patient("p1"), doctor) | {"id": "d1"},
                   bundle("document", patient("p2", nhs="9990000018"), doctor) | {"id": "d2"})
    snap = read_extract([write(tmp_path / "docs.json", outer)], now=NOW)
    assert {p.id for p in snap.patients} == {"p1", "p2"}
    changed = {**doctor, "name": [{"family": "Impostor"}]}
    outer["entry"][1]["resource"]["entry"][1]["resource"] = changed
    with pytest.raises(InputError, match="two different Practitioner resources with id 'dr1'"):
        read_extract([write(tmp_path / "docs.json", outer)], now=NOW)


def test_null_given_paired_with_an_extension_is_valid_fhir_json(tmp_path: Path) -> None:
    p = patient("p1")
    p["name"][0]["given"] = ["Gwen", None]
    p["name"][0]["_given"] = [None, {"extension": [{"url": "http://x.example/e",
                                                    "valueString": "initial"}]}]
    snap = read_extract([ndjson(tmp_path / "Patient.ndjson", p)], now=NOW)
    assert snap.patients[0].given == "Gwen"


def test_a_client_log_nested_too_deep_fails_with_file_and_line(tmp_path: Path) -> None:
    ndjson(tmp_path / "Patient.ndjson", patient("p1"))
    event = {"eventId": "kickoff", "exportId": "x", "timestamp": "2026-03-02T10:00:00Z",
             "eventDetail": {}}
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    (tmp_path / "log.ndjson").write_text(
        json.dumps(event) + "\n" + json.dumps(event)[:-1] + ', "x": ' + deep + "}\n",
        encoding="utf-8")
    with pytest.raises(InputError, match="nested deeper") as err:
        read_extract([tmp_path], now=NOW)
    assert err.value.where == f"{tmp_path / 'log.ndjson'}:2"
