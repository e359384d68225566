"""A site form added by IT, with no code change, goes the whole way: print -> keying
screen -> workbook -> workbook import -> FHIR export -> CSV.

The form (a pressure-area care chart with a Waterlow score) lives in a temporary folder
listed in ``settings.json`` (``form_dirs``); nothing in ``paperfallback/`` names it. Its
chart section declares ``export: observation`` and the Waterlow field a code, so the
scores leave as Observations with that code at the keyed time; the care plan section
declares nothing and leaves as a QuestionnaireResponse. Hazard-log row F-FORM-1: every
value keyed from a site form reaches the export.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from paperfallback.cli.context import AppContext
from paperfallback.cli.main import main
from paperfallback.reentry.store import EntriesStore

KEY = "test-key-not-secret"
SITE_CODE_SYSTEM = "https://fhir.example-trust.nhs.uk/CodeSystem/site-observations"
WATERLOW_YAML = f"""\
# A site form: pressure-area care with the Waterlow risk score (synthetic test form).
id: pressure-care
version: "1.0"
title: Pressure area care chart (Waterlow)
short_title: Pressure care
scope: patient
page: {{size: A4, orientation: landscape, margin_mm: 10}}
legend:
  - "Waterlow: 10+ at risk, 15+ high risk, 20+ very high risk. Reposition as planned."
sections:
  - id: checks
    kind: chart
    export: observation
    time_field: pc_time
    blank_columns: 8
    fields:
      - {{id: pc_time, label: Date and time, type: datetime, required: true,
         role: observation_time}}
      - {{id: pc_waterlow, label: Waterlow score, type: number, min: 1, max: 64, bold: true,
         code: [{{system: "{SITE_CODE_SYSTEM}", code: waterlow-score,
                  display: Waterlow pressure ulcer risk score}}]}}
      - id: pc_position
        label: Position
        type: choice
        choices:
          - {{code: L, label: Left side}}
          - {{code: R, label: Right side}}
          - {{code: B, label: Back}}
      - {{id: pc_initials, label: Initials, type: initials, role: performer}}
  - id: plan
    kind: fields
    title: Care plan
    fields:
      - {{id: pc_mattress, label: Mattress or cushion, type: text}}
      - {{id: pc_turns, label: Turn every (hours), type: number, min: 1, max: 12}}
"""


def _type(qtbot: Any, text: str) -> None:
    widget = QApplication.focusWidget()
    assert widget is not None
    if text:
        qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _site_settings(data_dir: Path, tmp_path: Path) -> None:
    site = tmp_path / "site-forms"
    site.mkdir()
    (site / "pressure-care.yaml").write_text(WATERLOW_YAML, encoding="utf-8")
    (data_dir / "settings.json").write_text(
        json.dumps({"form_dirs": [str(site)], "pc_code": "K7"}), encoding="utf-8")


def _a_patient(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["patients", "--json"]) == 0
    patients = json.loads(capsys.readouterr().out)
    return next(p["nhs_number"] for p in patients if p.get("nhs_number"))


def test_a_site_form_from_form_dirs_goes_from_print_to_csv(
    qtbot: Any, tmp_path: Path, demo_data_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _site_settings(demo_data_dir, tmp_path)
    nhs = _a_patient(capsys)

    # 1. print two copies for one patient
    pdf = tmp_path / "pressure.pdf"
    assert main(["print", "--patient", nhs, "--forms", "pressure-care", "--copies", "2",
                 "--out", str(pdf)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    page = pymupdf.open(pdf)[0].get_text()
    assert "Pressure area care chart (Waterlow)" in page and "Waterlow score" in page
    assert "SpO2" not in page  # a site chart is not taken for a NEWS2 chart
    assert main(["register", "list", "--json"]) == 0
    issued = [i for i in json.loads(capsys.readouterr().out)
              if i["form_id"] == "pressure-care"]
    assert len(issued) == 2
    first, second = sorted(i["instance_id"] for i in issued)

    # 2. copy 1 through the keying screen, by keyboard
    from paperfallback.ui.keying import KeyingWindow

    when_1 = datetime.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    ctx = AppContext(data_dir_option=str(demo_data_dir))
    window = KeyingWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    try:
        window.clerk_edit.setFocus()
        _type(qtbot, "Ann Wyn")
        _type(qtbot, first)
        assert window.session is not None, window.id_message.text()
        assert QApplication.focusWidget() is window.field("checks", 0, "pc_time")
        for text in (when_1.strftime("%d/%m/%Y %H:%M"), "17", "l", "AW"):
            _type(qtbot, text)
        assert window.field("checks", 0, "pc_position").text() == "L"
        window.field("plan", 0, "pc_mattress").setFocus()
        _type(qtbot, "Dynamic air mattress")
        _type(qtbot, "2")
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return,
                       Qt.KeyboardModifier.ControlModifier)  # finished keying this form
    finally:
        window.close()
        ctx.close()
    with EntriesStore.open(demo_data_dir, KEY) as store:
        keyed = {e.address.field_id: e.value for e in store.entries(first)}
        record = store.instance(first)
    assert keyed["pc_waterlow"] == "17" and keyed["pc_turns"] == "2"
    assert record is not None and record.status.value == "keyed"

    # 3. copy 2 through a workbook, built and imported by the CLI
    book = tmp_path / "pressure.xlsx"
    assert main(["entries", "workbook", "--form", "pressure-care", "--out", str(book)]) == 0, \
        capsys.readouterr().err
    capsys.readouterr()
    when_2 = when_1 + timedelta(minutes=10)
    workbook = load_workbook(book)
    filled = 0
    for sheet in workbook.worksheets:
        if sheet.sheet_state != "visible" or sheet.max_row < 2:
            continue
        header = [c.value for c in sheet[1]]
        if "form_instance_id" not in header:
            continue
        for row in sheet.iter_rows(min_row=2):
            if row[header.index("form_instance_id")].value != second:
                continue
            values: dict[str, Any] = {}
            if "pc_waterlow" in header and not filled & 1:
                values = {"pc_time": when_2.strftime("%d/%m/%Y %H:%M"), "pc_waterlow": 21,
                          "pc_position": "B", "pc_initials": "CJ"}
                filled |= 1
            elif "pc_mattress" in header and not filled & 2:
                values = {"pc_mattress": "Pressure-relieving cushion"}
                filled |= 2
            for field_id, value in values.items():
                row[header.index(field_id)].value = value
    assert filled == 3, "the workbook has a row of copy 2 for the chart and the care plan"
    workbook.save(book)
    assert main(["entries", "import", str(book), "--clerk", "Cai Jones"]) == 0, \
        capsys.readouterr().err
    capsys.readouterr()

    # 4. FHIR: the coded score as Observations, the care plan as a QuestionnaireResponse
    bundle_path = tmp_path / "bundle.json"
    assert main(["export", "--format", "fhir", "--out", str(bundle_path)]) == 0, \
        capsys.readouterr().err
    capsys.readouterr()
    resources = [e["resource"] for e in json.loads(bundle_path.read_text())["entry"]]
    scores = sorted(
        (r["valueQuantity"]["value"], r["effectiveDateTime"][:16])
        for r in resources if r["resourceType"] == "Observation"
        and r["code"]["coding"][0] == {"system": SITE_CODE_SYSTEM, "code": "waterlow-score",
                                       "display": "Waterlow pressure ulcer risk score"})
    assert scores == [(17, when_1.isoformat()[:16]), (21, when_2.isoformat()[:16])]
    positions = sorted(r["valueCodeableConcept"]["text"] for r in resources
                       if r["resourceType"] == "Observation"
                       and r["code"]["coding"][0]["code"] == "pressure-care/pc_position")
    assert positions == ["Back", "Left side"]
    answers = sorted(
        answer for r in resources if r["resourceType"] == "QuestionnaireResponse"
        and "pressure-care" in r["questionnaire"]
        for group in r["item"] for item in group["item"] for answer in
        [str(next(iter(item["answer"][0].values())))])
    assert answers == ["2.0", "Dynamic air mattress", "Pressure-relieving cushion"]
    assert sum(r["resourceType"] == "Provenance" for r in resources) >= 4

    # 5. CSV: one row per keyed value, the score with its code
    out = tmp_path / "csv"
    assert main(["export", "--format", "csv", "--all", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    with (out / "pressure-care.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_value = {(r["form_instance_id"], r["field_id"]): r for r in rows}
    assert by_value[(first, "pc_waterlow")]["value"] == "17"
    assert by_value[(second, "pc_waterlow")]["value"] == "21"
    assert SITE_CODE_SYSTEM in by_value[(second, "pc_waterlow")]["other_codes"]
    assert by_value[(second, "pc_waterlow")]["effective"].startswith(when_2.isoformat()[:16])
    assert by_value[(first, "pc_mattress")]["value"] == "Dynamic air mattress"
    assert by_value[(first, "pc_initials")]["value"] == "AW"
