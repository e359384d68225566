"""Demo cache → print → key through the workbook → export → read back → export again → merge.

Runs the real commands (``paperfallback print``, ``entries workbook``/``import``,
``export``, ``merge``) on a private copy of the demo hospital, fills the keying workbooks
with openpyxl as a clerk would, and reads every output back independently: the FHIR
Bundle with fhir.resources (R4B), the spreadsheets with openpyxl and csv.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from openpyxl import load_workbook

from paperfallback.cache.staleness import UK
from paperfallback.cli.main import main

EVIL_NOTE = '=HYPERLINK("http://example.invalid","click")'


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _fill(path: Path, sheet: str, rows: dict[int, dict[str, Any]]) -> None:
    workbook = load_workbook(path)
    ws = workbook[sheet]
    header = [c.value for c in ws[1]]
    for row, values in rows.items():
        for field_id, value in values.items():
            cell = ws.cell(row=row, column=header.index(field_id) + 1, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # typed text, even when it looks like a formula
    workbook.save(path)


def _read_bundle(path: Path) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    for entry in bundle.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return bundle


def _by_identifier(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in bundle.get("entry", []):
        ids = entry["resource"].get("identifier")
        if ids:
            first = ids[0] if isinstance(ids, list) else ids
            out[first["value"]] = entry
    return out


@pytest.mark.slow
def test_print_key_export_read_back_and_merge(
    demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, "print", "--patient", "DH100003", "--forms",
                     "news2,mar,fluid-balance,continuation", "--out", str(tmp_path / "p.pdf"))
    assert code == 0, out
    code, out = _run(capsys, "register", "list", "--json")
    issued = {i["form_id"]: i for i in json.loads(out)}
    nhs_number = issued["news2"]["nhs_number"]
    assert nhs_number

    books = {}
    for form in ("news2", "mar", "fluid-balance", "continuation"):
        books[form] = tmp_path / f"key-{form}.xlsx"
        code, out = _run(capsys, "entries", "workbook", "--form", form, "--out",
                         str(books[form]))
        assert code == 0, out
    now = datetime.now(UTC).astimezone(UK).replace(second=0, microsecond=0)
    obs_time = now - timedelta(hours=2)
    _fill(books["news2"], "news2", {3: {
        "obs_time": obs_time.strftime("%d/%m/%Y %H:%M"), "resp_rate": 22, "spo2": 95,
        "oxygen": "A", "sbp": 118, "dbp": 72, "pulse": 96, "acvpu": "A", "temp": 37.9,
        "news2_total": 2, "initials": "SŴ"}})
    _fill(books["mar"], "mar.prn", {3: {
        "prn_time_1": (now - timedelta(hours=1)).strftime("%d/%m/%Y %H:%M"),
        "prn_given_dose_1": "1 g", "prn_initials_1": "CD"}})
    _fill(books["fluid-balance"], "fluid-balance.day", {3: {"fb_date": now.strftime("%d/%m/%Y")}})
    _fill(books["fluid-balance"], "fluid-balance.hours", {3: {"in_oral": 200, "out_urine": 150}})
    _fill(books["continuation"], "continuation", {3: {
        "note_time": (now - timedelta(hours=1)).strftime("%d/%m/%Y %H:%M"),
        "note_text": EVIL_NOTE, "note_signed": "Dr Öztürk"}})
    for form, path in books.items():
        code, out = _run(capsys, "entries", "import", str(path), "--clerk", "Siân Clerk")
        assert code == 0, (form, out)

    # ---- FHIR ----------------------------------------------------------------------------
    first = tmp_path / "first.json"
    code, out = _run(capsys, "export", "--format", "fhir", "--out", str(first))
    assert code == 0, out
    assert "from 4 forms" in out
    bundle = _read_bundle(first)
    assert bundle["type"] == "transaction"
    entries = _by_identifier(bundle)
    news2_id = issued["news2"]["instance_id"]
    log_text = (demo_data_dir / "logs" / "paperfallback.log").read_text(encoding="utf-8")
    export_lines = [line for line in log_text.splitlines() if "export fhir to first.json" in line]
    assert export_lines and news2_id in export_lines[-1]  # exports are logged by instance ID
    assert nhs_number not in log_text  # ... and never by patient
    resp = entries[f"{news2_id}/resp_rate/1"]
    assert resp["request"]["method"] == "POST"
    assert resp["request"]["ifNoneExist"].endswith(f"|{news2_id}/resp_rate/1")
    resource = resp["resource"]
    assert resource["valueQuantity"]["value"] == 22
    assert {c["code"] for c in resource["code"]["coding"]} == {"86290005", "9279-1"}
    assert resource["subject"]["identifier"] == {
        "system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}
    assert resource["effectiveDateTime"] == obs_time.isoformat(timespec="seconds")
    total = entries[f"{news2_id}/news2_total/1"]["resource"]
    assert total["valueQuantity"]["value"] == 4  # 22/min scores 2, temp 37.9 0, pulse 96 1 ...
    assert "handwritten on the paper chart was 2" in " ".join(n["text"] for n in total["note"])
    mar_id = issued["mar"]["instance_id"]
    given = entries[f"{mar_id}/prn_time_1/1"]["resource"]
    assert given["resourceType"] == "MedicationAdministration"
    assert given["medicationCodeableConcept"]["text"]  # the drug printed from the cache
    assert given["request"]["reference"].startswith("MedicationRequest/")
    fluid_id = issued["fluid-balance"]["instance_id"]
    urine = entries[f"{fluid_id}/out_urine/1"]["resource"]
    assert urine["code"]["coding"][0]["code"] == "9187-6"
    assert urine["valueQuantity"]["code"] == "mL"
    provenance = [e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Provenance"]
    assert provenance and all("Siân Clerk" in p["agent"][0]["who"]["display"]
                              for p in provenance)
    code, out = _run(capsys, "entries", "status", "--json")
    statuses = {i["instance_id"]: i["status"] for i in json.loads(out)["instances"]}
    assert statuses[news2_id] == "exported"

    # nothing new: an empty transaction Bundle, said so
    second = tmp_path / "second.json"
    code, out = _run(capsys, "export", "--format", "fhir", "--out", str(second))
    assert code == 0 and "Nothing new to export" in out
    assert "entry" not in _read_bundle(second)

    # everything again into a folder: same identifiers, NDJSON per type
    again = tmp_path / "again"
    code, out = _run(capsys, "export", "--format", "fhir", "--all", "--out", str(again))
    assert code == 0, out
    again_bundle = _read_bundle(again / "bundle.json")
    assert sorted(_by_identifier(again_bundle)) == sorted(entries)
    assert (again / "Observation.ndjson").exists()
    assert (again / "MedicationAdministration.ndjson").exists()

    merged = tmp_path / "merged"
    code, out = _run(capsys, "merge", str(first), str(again), str(second), "--out", str(merged))
    assert code == 0, out
    merged_bundle = _read_bundle(merged / "bundle.json")
    urls = [e["fullUrl"] for e in merged_bundle["entry"]]
    assert len(urls) == len(set(urls)) == len(bundle["entry"])  # no duplicates

    # ---- spreadsheets --------------------------------------------------------------------
    xlsx = tmp_path / "export.xlsx"
    code, out = _run(capsys, "export", "--format", "xlsx", "--out", str(xlsx))
    assert code == 0, out
    workbook = load_workbook(xlsx)
    assert set(workbook.sheetnames) == {"news2", "mar", "fluid-balance", "continuation"}
    sheet = workbook["continuation"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True))
            for r in sheet.iter_rows(min_row=2)]
    note = next(r for r in rows if r["field_id"] == "note_text")
    assert note["value"] == "'" + EVIL_NOTE
    assert note["nhs_number"] == nhs_number
    news2_rows = [dict(zip(header, (c.value for c in r), strict=True))
                  for r in workbook["news2"].iter_rows(min_row=2)]
    resp_row = next(r for r in news2_rows if r["field_id"] == "resp_rate")
    assert resp_row["effective"] == obs_time.isoformat(timespec="seconds")
    assert resp_row["loinc_code"] == "9279-1" and resp_row["snomed_code"] == "86290005"

    folder = tmp_path / "csv"
    code, out = _run(capsys, "export", "--format", "csv", "--out", str(folder))
    assert code == 0, out
    with (folder / "news2.csv").open(encoding="utf-8-sig", newline="") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert {r["form_instance_id"] for r in csv_rows} == {news2_id}
    computed = next(r for r in csv_rows if r["field_id"] == "news2_total_computed")
    assert computed["value"] == "4" and "DIFFERS" in computed["note"]


@pytest.mark.slow
def test_lists_and_downtime_registration(
    demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paperfallback.cache.store import CacheStore
    from paperfallback.settings import cache_key

    cache = CacheStore.open(demo_data_dir, cache_key(demo_data_dir)[0])
    try:
        clinic = cache.clinics()[0]
        clinic_day = cache.appointment_days(clinic)[0]
        appointments = cache.appointments(clinic, clinic_day)
        theatre = cache.theatres()[0]
        theatre_day = cache.theatre_days(theatre)[0]
        cases = cache.theatre_cases(theatre, theatre_day)
    finally:
        cache.close()
    for args in (["--clinic", clinic, "--date", clinic_day.isoformat()],
                 ["--theatre", theatre, "--date", theatre_day.isoformat()],
                 ["--blank", "downtime-registration", "--count", "1"]):
        code, out = _run(capsys, "print", *args, "--out", str(tmp_path / "x.pdf"))
        assert code == 0, out
    code, out = _run(capsys, "register", "list", "--json")
    issued = {i["form_id"]: i for i in json.loads(out)}
    books = {}
    for form in ("clinic-list", "theatre-list", "downtime-registration"):
        books[form] = tmp_path / f"key-{form}.xlsx"
        assert _run(capsys, "entries", "workbook", "--form", form, "--out",
                    str(books[form]))[0] == 0
    now = datetime.now(UTC).astimezone(UK).replace(second=0, microsecond=0)
    _fill(books["clinic-list"], "clinic-list", {3: {"cl_outcome": "ATT", "cl_initials": "KL"},
                                                4: {"cl_outcome": "DNA"}})
    _fill(books["theatre-list"], "theatre-list", {3: {"th_outcome": "DONE"},
                                                  4: {"th_outcome": "CANC",
                                                      "th_reason": "no ITU bed"}})
    _fill(books["downtime-registration"], "downtime-registration.identity", {3: {
        "dt_family": "Llŷr", "dt_given": "Gwenllïan", "dt_birth_date": "02/03/1961",
        "dt_sex": "F"}})
    _fill(books["downtime-registration"], "downtime-registration.arrival", {3: {
        "dt_arrived": (now - timedelta(hours=1)).strftime("%d/%m/%Y %H:%M"),
        "dt_triage": "2", "dt_complaint": "Chest pain", "dt_registered_by": "RB"}})
    for form, path in books.items():
        code, out = _run(capsys, "entries", "import", str(path), "--clerk", "Clerk Öwen")
        assert code == 0, (form, out)
    out_file = tmp_path / "lists.json"
    code, out = _run(capsys, "export", "--format", "fhir", "--out", str(out_file))
    assert code == 0, out
    bundle = _read_bundle(out_file)
    patches = {e["request"]["url"]: e["resource"] for e in bundle["entry"]
               if e["request"]["method"] == "PATCH"}
    status = {url: p["parameter"][0]["part"][2]["valueCode"] for url, p in patches.items()}
    assert status == {f"Appointment/{appointments[0][0].id}": "fulfilled",
                      f"Appointment/{appointments[1][0].id}": "noshow"}
    entries = _by_identifier(bundle)
    theatre_id = issued["theatre-list"]["instance_id"]
    done = entries[f"{theatre_id}/th_outcome/1"]["resource"]
    assert done["status"] == "completed"
    assert done["code"]["text"] == cases[0][0].procedure
    assert done["subject"]["identifier"]["value"] == cases[0][1].nhs_number
    cancelled = entries[f"{theatre_id}/th_outcome/2"]["resource"]
    assert cancelled["statusReason"]["text"] == "Cancelled: no ITU bed"
    registration = issued["downtime-registration"]
    downtime = {"system": "https://paperfallback.example.nhs.uk/Id/downtime-number/demo",
                "value": registration["downtime_number"]}
    patient = entries[f"{registration['instance_id']}/patient/1"]["resource"]
    encounter = entries[f"{registration['instance_id']}/encounter/1"]["resource"]
    assert downtime in patient["identifier"] and downtime in encounter["identifier"]
    assert patient["name"][0]["family"] == "Llŷr" and patient["birthDate"] == "1961-03-02"
    assert encounter["class"]["code"] == "EMER"
