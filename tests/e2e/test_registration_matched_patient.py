"""Issue #13 item 8 end to end: a downtime registration keyed without NHS number that
matches a cached patient by name and date of birth is never exported on that match alone
(listed for the data manager); once a clerk confirms it, the Bundle references the
existing patient by NHS number and holds NO new Patient."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from openpyxl import load_workbook

from paperfallback.cache.staleness import UK
from paperfallback.cli.main import main

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _fill(path: Path, sheet: str, values: dict[str, Any]) -> None:
    workbook = load_workbook(path)
    ws = workbook[sheet]
    header = [c.value for c in ws[1]]
    for field_id, value in values.items():
        cell = ws.cell(row=3, column=header.index(field_id) + 1, value=value)
        cell.data_type = "s"
    workbook.save(path)


def _existing_patient(data_dir: Path) -> Any:
    from paperfallback.cache.store import CacheStore
    from paperfallback.settings import cache_key

    cache = CacheStore.open(data_dir, cache_key(data_dir)[0])
    try:
        rows = [r.patient for r in cache.patients() if r.patient.nhs_number
                and r.patient.birth_date]
        names = [(p.family.casefold(), p.given.casefold(), p.birth_date) for p in rows]
        return next(p for p, n in zip(rows, names, strict=True) if names.count(n) == 1)
    finally:
        cache.close()


def test_matched_registration_exports_no_new_patient(
        demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    person = _existing_patient(demo_data_dir)
    code, out = _run(capsys, "print", "--blank", "downtime-registration", "--count", "1",
                     "--out", str(tmp_path / "reg.pdf"))
    assert code == 0, out
    book = tmp_path / "reg.xlsx"
    assert _run(capsys, "entries", "workbook", "--form", "downtime-registration",
                "--out", str(book))[0] == 0
    arrived = datetime.now(UTC).astimezone(UK) - timedelta(hours=1)
    _fill(book, "downtime-registration.identity", {
        "dt_family": person.family.upper(), "dt_given": person.given,
        "dt_birth_date": person.birth_date.strftime("%d/%m/%Y"), "dt_sex": "F"})
    _fill(book, "downtime-registration.arrival", {
        "dt_arrived": arrived.strftime("%d/%m/%Y %H:%M"), "dt_triage": "2",
        "dt_complaint": "Chest pain", "dt_registered_by": "RB"})
    code, out = _run(capsys, "entries", "import", str(book), "--clerk", "Sam")
    assert code == 0, out
    assert "To confirm: form" in out and person.display_name in out
    (issued,) = json.loads(_run(capsys, "register", "list", "--json")[1])
    instance_id = issued["instance_id"]
    # Unconfirmed: listed for the data manager and never exported silently.
    code, out = _run(capsys, "entries", "status", "--json")
    (waiting,) = json.loads(out)["patients_to_confirm"]
    assert waiting["instance_id"] == instance_id
    bundle_path = tmp_path / "first.json"
    code, out = _run(capsys, "export", "--format", "fhir", "--out", str(bundle_path))
    assert code == 1 and "a clerk must confirm it is the same person" in out
    first = json.loads(bundle_path.read_text(encoding="utf-8"))
    assert not any(instance_id in json.dumps(e) for e in first.get("entry", []))
    # The clerk checks the paper against the record and confirms.
    code, out = _run(capsys, "entries", "confirm", f"{instance_id}/1", "--clerk", "Dai")
    assert code == 0 and "confirmed by Dai" in out
    code, out = _run(capsys, "export", "--format", "fhir", "--out", str(tmp_path / "b.json"))
    assert code == 0, out
    bundle = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    assert not [r for r in resources if r["resourceType"] == "Patient"]  # no new Patient
    (encounter,) = [r for r in resources if r["resourceType"] == "Encounter"]
    assert encounter["subject"]["identifier"] == {"system": NHS_SYSTEM,
                                                  "value": person.nhs_number}
    answers = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    assert answers and all(a["subject"]["identifier"]["value"] == person.nhs_number
                           for a in answers)
    assert issued["downtime_number"] in json.dumps(encounter["identifier"])
