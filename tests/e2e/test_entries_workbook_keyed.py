"""Issue #13 item 7 through the CLI: a workbook import never changes a verified form (it
lists the rows it left alone), never overwrites another clerk's keying (values stay
credited to who keyed them), and workbooks hold only forms still to key unless
``--include-keyed``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from paperfallback.cli.main import main
from paperfallback.reentry.model import EntryPass, InstanceStatus
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm

KEY = "test-key-not-secret"
SHEET = "fluid-balance.hours"


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
def template(tmp_path: Path, data_dir: Path,
             record_issued: Callable[..., list[IssuedForm]]) -> tuple[str, Path]:
    (issued,) = record_issued("fluid-balance", 1, patient_id="p1", patient_name="JONES, Ffion",
                              nhs_number="9990000026", ward_code="w3")
    out = tmp_path / "fb.xlsx"
    assert main(["entries", "workbook", "--form", "fluid-balance", "--out", str(out)]) == 0
    return issued.instance_id, out


def _oral(data_dir: Path, instance_id: str) -> list[tuple[str | None, str]]:
    with EntriesStore.open(data_dir, KEY) as store:
        return [(e.value, e.keyed_by) for e in store.entries(instance_id, EntryPass.FIRST)
                if e.address.field_id == "in_oral"]


def test_a_verified_form_is_left_alone(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
        template: tuple[str, Path]) -> None:
    instance_id, workbook = template
    (data_dir / "settings.json").write_text(json.dumps({"double_entry_forms": ["fluid-balance"]}))
    keyed = _filled(workbook, tmp_path / "a.xlsx", 200)
    assert main(["entries", "import", str(keyed), "--clerk", "Ann"]) == 0
    assert main(["entries", "import", str(keyed), "--clerk", "Bob", "--pass", "second"]) == 0
    with EntriesStore.open(data_dir, KEY) as store:
        record = store.instance(instance_id)
        assert record is not None and record.status is InstanceStatus.VERIFIED
    capsys.readouterr()
    late = _filled(workbook, tmp_path / "late.xlsx", 999)
    for clerk in ("Ann", "Dan"):
        assert main(["entries", "import", str(late), "--clerk", clerk]) == 0
        out = capsys.readouterr().out
        assert f"Left alone: {SHEET} / row 3 / form_instance_id" in out
        assert "already verified" in out
    assert _oral(data_dir, instance_id) == [("200", "Ann")]
    with EntriesStore.open(data_dir, KEY) as store:
        record = store.instance(instance_id)
        assert record is not None and record.status is InstanceStatus.VERIFIED
        assert store.discrepancies(instance_id) == []


def test_another_clerks_keying_is_not_overwritten(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
        template: tuple[str, Path]) -> None:
    instance_id, workbook = template
    assert main(["entries", "import", str(_filled(workbook, tmp_path / "a.xlsx", 200)),
                 "--clerk", "Ann"]) == 0
    capsys.readouterr()
    assert main(["entries", "import", str(_filled(workbook, tmp_path / "d.xlsx", 300)),
                 "--clerk", "Dan"]) == 1
    err = capsys.readouterr().err
    assert "Ann keyed the first pass" in err
    assert _oral(data_dir, instance_id) == [("200", "Ann")]


def test_workbooks_hold_only_forms_still_to_key(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
        template: tuple[str, Path], record_issued: Callable[..., list[IssuedForm]]) -> None:
    instance_id, workbook = template
    assert main(["entries", "import", str(_filled(workbook, tmp_path / "a.xlsx", 200)),
                 "--clerk", "Ann"]) == 0
    (fresh,) = record_issued("fluid-balance", 1, patient_id="p2", patient_name="OWEN, Sian",
                             nhs_number="9990000034", ward_code="w3")
    capsys.readouterr()
    out = tmp_path / "next.xlsx"
    assert main(["entries", "workbook", "--form", "fluid-balance", "--out", str(out)]) == 0
    assert "1 form(s) already keyed were left out" in capsys.readouterr().out
    ids = {c.value for row in load_workbook(out)[SHEET].iter_rows(min_row=3) for c in row[:1]}
    assert fresh.instance_id in ids and instance_id not in ids
    every = tmp_path / "every.xlsx"
    assert main(["entries", "workbook", "--form", "fluid-balance", "--include-keyed",
                 "--out", str(every)]) == 0
    ids = {c.value for row in load_workbook(every)[SHEET].iter_rows(min_row=3)
           for c in row[:1]}
    assert {fresh.instance_id, instance_id} <= ids
