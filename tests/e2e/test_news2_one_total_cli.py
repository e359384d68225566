"""Audit defect (issue 11): the same keyed NEWS2 column scored 5 on the keying screen and
2 in CSV/xlsx and FHIR, because only the screen used the patient's SpO2 scale when the
nurse had not written "Scale used". The scale printed on the chart is now recorded on
the issued form and every path scores on it: print -> workbook -> CSV, xlsx, FHIR agree.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from paperfallback.cache.staleness import UK
from paperfallback.cli.main import main
from paperfallback.domain.terminology import NEWS2_TOTAL, SPO2_SCALE_SCORE

# Scale 2 on oxygen (RCP NEWS2 2017, chart 1): SpO2 97 scores 3, oxygen 2, the rest 0 = 5.
# On Scale 1 the same column scores 2.
COLUMN = {"resp_rate": 16, "spo2": 97, "oxygen": "O2", "sbp": 120, "pulse": 70,
          "acvpu": "A", "temp": 37.0, "news2_total": 5, "initials": "SŴ"}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    return out.out


def test_a_column_without_scale_used_scores_on_the_printed_scale_everywhere(
        demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--data-dir", str(demo_data_dir)]
    _run(capsys, *base, "print", "--patient", "DH100001", "--forms", "news2",
         "--out", str(tmp_path / "chart.pdf"))  # DH100001's EPR scale is 2
    [issued] = json.loads(_run(capsys, *base, "register", "list", "--json"))
    book = tmp_path / "key.xlsx"
    _run(capsys, *base, "entries", "workbook", "--form", "news2", "--out", str(book))
    wb = load_workbook(book)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    when = datetime.now(UTC).astimezone(UK) - timedelta(hours=1)
    for field_id, value in {**COLUMN, "obs_time": when.strftime("%d/%m/%Y %H:%M")}.items():
        ws.cell(row=3, column=header.index(field_id) + 1, value=value)
    wb.save(book)
    out = _run(capsys, *base, "entries", "import", str(book), "--clerk", "Siân Clerk")
    assert "NEWS2" not in out  # the handwritten 5 agrees: nothing flagged

    _run(capsys, *base, "export", "--format", "csv", "--out", str(tmp_path / "csv"))
    with (tmp_path / "csv" / "news2.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    [computed] = [r for r in rows if r["field_id"] == "news2_total_computed"]
    assert computed["value"] == "5" and "SpO2 scale 2" in computed["note"]

    _run(capsys, *base, "export", "--format", "xlsx", "--all", "--out", str(tmp_path / "x.xlsx"))
    sheet = load_workbook(tmp_path / "x.xlsx")["news2"]
    columns = [c.value for c in sheet[1]]
    xlsx = [dict(zip(columns, [c.value for c in r], strict=True)) for r in sheet.iter_rows(2)]
    assert [r["value"] for r in xlsx if r["field_id"] == "news2_total_computed"] == ["5"]

    _run(capsys, *base, "export", "--format", "fhir", "--all", "--out", str(tmp_path / "b.json"))
    bundle = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    [total] = [e["resource"] for e in bundle["entry"]
               if e["resource"].get("code", {}).get("coding", [{}])[0].get("code")
               == NEWS2_TOTAL.code]
    assert total["valueQuantity"]["value"] == 5
    spo2_component = total["component"][2]["code"]["coding"][0]["code"]
    assert spo2_component == SPO2_SCALE_SCORE[2].code
    assert issued["spo2_scale"] == 2  # decided at print time, kept in the register
