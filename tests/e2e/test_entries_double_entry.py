"""R-ENT-6 through the CLI: the second keying is blind, and a difference once recorded is
settled only by a third person keying the value from the paper."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from paperfallback.cli.main import main
from paperfallback.register import IssuedForm

SHEET = "fluid-balance.hours"


def _shows(text: str, value: str) -> bool:
    """The keyed value appears as a number of its own (not inside a time stamp or a form ID,
    which made this test flaky: "…:12:00.200…")."""
    return re.search(rf"(?<![\d.:-]){value}(?![\d.:-])", text) is not None


def _filled(template: Path, out: Path, in_oral: int) -> Path:
    shutil.copy(template, out)
    wb = load_workbook(out)
    ws = wb[SHEET]
    header = [c.value for c in ws[1]]
    ws.cell(row=3, column=header.index("fb_hour") + 1, value="07:00")
    ws.cell(row=3, column=header.index("in_oral") + 1, value=in_oral)
    wb.save(out)
    return out


@pytest.fixture
def keyed_twice(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
                record_issued: Callable[..., list[IssuedForm]]) -> tuple[str, Path]:
    """Ann keys 200, Bob keys 300 blind: one recorded difference."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "settings.json").write_text(json.dumps({"double_entry_forms": ["fluid-balance"]}))
    (issued,) = record_issued("fluid-balance", 1, patient_id="p1", patient_name="JONES, Ffion",
                              nhs_number="9990000026", ward_code="w3")
    template = tmp_path / "fb.xlsx"
    assert main(["entries", "workbook", "--form", "fluid-balance", "--ward", "w3",
                 "--out", str(template)]) == 0
    fb1 = _filled(template, tmp_path / "fb1.xlsx", 200)
    fb2 = _filled(template, tmp_path / "fb2.xlsx", 300)
    assert main(["entries", "import", str(fb1), "--clerk", "Ann"]) == 0
    capsys.readouterr()
    assert main(["entries", "import", str(fb2), "--clerk", "Bob", "--pass", "second"]) == 0
    out = capsys.readouterr().out
    # Blind: the second clerk learns how many fields differ, never the first clerk's values.
    assert "1 field(s) differ from the first keying" in out
    assert "third person will resolve them against the paper" in out
    assert not _shows(out, "200") and not _shows(out, "300")
    return issued.instance_id, fb1


def _status_of(capsys: pytest.CaptureFixture[str], instance_id: str) -> dict[str, object]:
    assert main(["entries", "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (line,) = [i for i in report["instances"] if i["instance_id"] == instance_id]
    return {"status": line["status"], "discrepancies": report["discrepancies"]}


def test_second_clerk_rekeying_first_values_does_not_verify(
    keyed_twice: tuple[str, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    instance_id, fb1 = keyed_twice
    assert main(["entries", "import", str(fb1), "--clerk", "Bob", "--pass", "second"]) == 0
    out = capsys.readouterr().out
    assert not _shows(out, "200")
    state = _status_of(capsys, instance_id)
    assert state["status"] == "keyed"
    (open_one,) = state["discrepancies"]  # type: ignore[misc]
    assert open_one["kind"] == "double_entry"
    assert not _shows(json.dumps(open_one), "200") and not _shows(json.dumps(open_one), "300")
    assert main(["entries", "status"]) == 0
    text = capsys.readouterr().out
    assert not _shows(text, "200") and not _shows(text, "300")


def test_only_a_third_person_resolves_from_the_paper(
    keyed_twice: tuple[str, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    instance_id, _fb1 = keyed_twice
    # The keying clerks cannot see the values nor resolve.
    assert main(["entries", "differences", "--resolver", "Bob"]) == 0
    out = capsys.readouterr().out
    assert not _shows(out, "200") and not _shows(out, "300") and "another person" in out
    assert main(["entries", "differences", "--resolver", "Cai", "--json"]) == 0
    (difference,) = json.loads(capsys.readouterr().out)
    assert difference["first"] == "200" and difference["second"] == "300"
    assert difference["field_id"] == "in_oral"
    number = str(difference["id"])
    assert main(["entries", "resolve", number, "250", "--resolver", "Ann"]) == 1
    assert "third person" in capsys.readouterr().err
    assert main(["entries", "resolve", number, "lots", "--resolver", "Cai"]) == 1
    capsys.readouterr()
    assert _status_of(capsys, instance_id)["status"] == "keyed"
    assert main(["entries", "resolve", number, "250", "--resolver", "Cai"]) == 0
    assert "verified" in capsys.readouterr().out
    state = _status_of(capsys, instance_id)
    assert state["status"] == "verified" and state["discrepancies"] == []
