"""Round trip (issue 11 item 1): key values from paper, export FHIR, let the EPR take the
export in, import the EPR's next extract through the real importer, and the next printed
NEWS2 chart, MAR and handover list show the same values, the same SpO2 scale and the same
NEWS2 total. Read back from the PDFs with pypdf text extraction.

The "EPR" step is the minimum any FHIR server does with a transaction: it resolves the
logical patient reference (NHS number) to its own Patient id, gives each resource an id
(here the entry's fullUrl UUID) and drops the request. Nothing else is changed, so every
code the importer meets is exactly the code the exporter wrote - the defect this guards
against is a scale 2 code written by one and not recognised by the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from paperfallback.cache.staleness import format_uk
from paperfallback.cli.main import main
from paperfallback.domain import terminology as terms
from paperfallback.domain.news2 import News2Observation, score
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.model import EntryPass, EntryState
from paperfallback.reentry.printed import issued_layout
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.reentry.workflow import finish_pass
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

TEST_KEY = "test-key-not-secret"
Resources = dict[str, list[dict[str, Any]]]
FORMS = load_catalogue()
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
OBS_TIME = NOW - timedelta(minutes=40)
GIVEN_AT = NOW - timedelta(minutes=20)
# SpO2 95 on oxygen: Scale 2 scores 2, Scale 1 scores 1 (RCP NEWS2 2017, chart 1).
COLUMN = {"resp_rate": "22", "spo2": "95", "oxygen": "O2", "o2_flow": "2", "sbp": "104",
          "dbp": "66", "pulse": "96", "acvpu": "A", "temp": "38.4", "initials": "SW"}


def _extract(tiny: Callable[[int, str], Resources], epr_scale_2: bool) -> Resources:
    resources = tiny(2, NOW.isoformat())
    resources["MedicationRequest"] = [{
        "resourceType": "MedicationRequest", "id": "rx-prn", "status": "active",
        "intent": "order", "subject": {"reference": "Patient/p0"},
        "authoredOn": (NOW - timedelta(days=2)).isoformat(),
        "medicationCodeableConcept": {"text": "Paracetamol 500 mg tablets"},
        "dosageInstruction": [{"text": "1 g when required for pain",
                               "asNeededCodeableConcept": {"text": "Pain"},
                               "route": {"text": "Oral"},
                               "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "g"}}]}],
    }]
    if epr_scale_2:
        resources["Flag"] = [{
            "resourceType": "Flag", "id": "f0", "status": "active",
            "subject": {"reference": "Patient/p0"},
            "code": {"coding": [{"system": terms.SPO2_SCALE_SYSTEM, "code": "scale-2"}],
                     "text": "Target SpO2 88-92 %: NEWS2 SpO2 scale 2"}}]
    return resources


def _write(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in resources),
                    encoding="utf-8")
    return path


def _cli(data_dir: Path, *args: str) -> None:
    assert main(["--data-dir", str(data_dir), *args]) == 0


def _text(pdf: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


def _issued(data_dir: Path, form_id: str) -> IssuedForm:
    conn = WorkStore.open(data_dir, TEST_KEY)
    try:
        return Register(conn, pc_code="T1").list(form_id=form_id)[-1]
    finally:
        conn.close()


def _key(data_dir: Path, issued: IssuedForm, rows: dict[tuple[str, int], dict[str, str]]) -> None:
    conn = WorkStore.open(data_dir, TEST_KEY)
    try:
        store = EntriesStore(conn)
        layout = issued_layout(FORMS.get(issued.form_id), issued)
        session = KeyingSession(store, layout, issued, clerk="Siân",
                                ctx=KeyingContext(printed_at=issued.printed_at))
        for (section, index), values in rows.items():
            for field_id, value in values.items():
                outcome = session.enter(section, index, field_id, value)
                assert outcome.state is EntryState.VALUE, (field_id, outcome)
                assert "NEWS2" not in outcome.notice, outcome.notice
        finish_pass(store, issued.instance_id, EntryPass.FIRST, double_entry=False, by="Siân")
    finally:
        conn.close()


def _epr_takes_in(bundle: Path, patients: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_nhs = {p["identifier"][0]["value"]: p["id"] for p in patients}
    out = []
    for entry in json.loads(bundle.read_text(encoding="utf-8"))["entry"]:
        resource = dict(entry["resource"])
        if resource["resourceType"] not in ("Observation", "MedicationAdministration"):
            continue
        resource["id"] = entry["fullUrl"].rsplit(":", 1)[1]
        nhs = resource["subject"]["identifier"]["value"]
        resource["subject"] = {"reference": f"Patient/{by_nhs[nhs]}"}
        out.append(resource)
    return out


@pytest.mark.parametrize(("epr_scale_2", "keyed_scale"), [
    (True, None),  # the chart printed "Scale 2" (from the EPR); "Scale used" left blank
    (False, "2"),  # no scale in the EPR; the nurse wrote Scale 2 in the column
])
def test_keyed_values_come_back_the_same_after_fhir_export_and_reimport(
        tmp_path: Path, tiny_extract_resources: Callable[[int, str], Resources],
        epr_scale_2: bool, keyed_scale: str | None) -> None:
    ward, back = tmp_path / "ward-pc", tmp_path / "after-epr"
    resources = _extract(tiny_extract_resources, epr_scale_2)
    patient = resources["Patient"][0]
    nhs = patient["identifier"][0]["value"]
    _cli(ward, "cache", "import", str(_write(tmp_path / "x1.ndjson",
                                              [r for rs in resources.values() for r in rs])))
    _cli(ward, "print", "--patient", nhs, "--forms", "news2,mar", "--out",
         str(tmp_path / "printed.pdf"))
    news2, mar = _issued(ward, "news2"), _issued(ward, "mar")
    assert news2.spo2_scale == (2 if epr_scale_2 else 1)

    column = {"obs_time": OBS_TIME.isoformat(), **COLUMN}
    if keyed_scale:
        column["spo2_scale"] = keyed_scale
    expected = score(News2Observation(22, 95, "O2", 104, 96, "A", 38.4, spo2_scale=2))
    column["news2_total"] = str(expected.total)
    _key(ward, news2, {("observations", 0): column})
    _key(ward, mar, {("prn", 0): {"prn_time_1": GIVEN_AT.isoformat(),
                                  "prn_given_dose_1": "1 g", "prn_initials_1": "SW"}})
    bundle = tmp_path / "export.json"
    _cli(ward, "export", "--format", "fhir", "--out", str(bundle))

    # The EPR's next extract: the same patients, no flag, and what it took in.
    again = [r for rtype, rs in resources.items() if rtype != "Flag" for r in rs]
    _cli(back, "cache", "import", str(_write(tmp_path / "x2.ndjson",
                                              again + _epr_takes_in(bundle, resources["Patient"]))))
    for data_dir in (ward, back):
        _cli(data_dir, "print", "--patient", nhs, "--forms", "news2,mar", "--out",
             str(tmp_path / f"{data_dir.name}.pdf"))
        _cli(data_dir, "print", "--ward", "W1", "--forms", "handover", "--no-cover", "--out",
             str(tmp_path / f"{data_dir.name}-handover.pdf"))

    chart = _text(tmp_path / "after-epr.pdf")
    assert "SpO2 scale recorded in the EPR: Scale 2." in chart
    tail = chart.split("Initials\nA+BCDE\n", 1)[1].split()
    column_values = tail[2:13]  # after the date and time of the one column
    assert column_values == ["22", "95", "2", "O2", "2.0", "104", "66", "96", "A", "38.4",
                             str(expected.total)], tail
    # The MAR's "Last given (cache)" of the PRN row is the administration keyed on paper.
    prn_row = " ".join(chart.split()).split("Paracetamol 500 mg tablets", 1)[1]
    assert prn_row.strip().startswith(f"1 g Oral Pain {format_uk(GIVEN_AT)}"), prn_row[:80]

    # The handover's latest NEWS2: keyed from paper ("P") on the ward PC, from the EPR after.
    for name in ("ward-pc", "after-epr"):
        handover = " ".join(_text(tmp_path / f"{name}-handover.pdf").split())
        when = format_uk(OBS_TIME).split()[1]
        assert f"{expected.total} at {when}" in handover, (name, handover)
