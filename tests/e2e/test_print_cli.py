"""``paperfallback print`` and ``paperfallback register list`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from paperfallback.cli.main import main


def _print(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), "print", *args])


def _register(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "register", "list", "--json"]) == 0
    items: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return items


def test_ward_pack_is_saved_and_recorded(sample_data_dir: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pack.pdf"
    assert _print(sample_data_dir, "--ward", "Cedar Ward", "--out", str(out)) == 0
    said = capsys.readouterr().out
    doc = pymupdf.open(out)
    assert f"Saved {out}: {doc.page_count} pages, 11 forms" in said
    assert "STALE DATA" in said  # the sample cache is from January
    assert "Ward pack cover sheet" in doc[0].get_text()
    issued = _register(sample_data_dir, capsys)
    assert [i["form_id"] for i in issued[:2]] == ["pack-cover", "handover"]
    assert {i["form_id"] for i in issued[2:]} == {"news2", "mar", "fluid-balance"}
    assert sum(int(str(i["page_count"])) for i in issued) == doc.page_count
    # a second pack never reuses an ID
    assert _print(sample_data_dir, "--ward", "ced", "--forms", "news2", "--out", str(out)) == 0
    again = _register(sample_data_dir, capsys)
    ids = [i["instance_id"] for i in again]
    assert len(ids) == len(set(ids)) == len(issued) + 4


def test_patient_clinic_theatre_and_blank(sample_data_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.pdf"
    assert _print(sample_data_dir, "--patient", "RM100002", "999 100 0976", "--forms",
                  "news2,continuation", "--out", str(out)) == 0
    assert pymupdf.open(out).page_count == 2 * (2 + 1)
    assert _print(sample_data_dir, "--clinic", "fracture clinic", "--date", "05-Jan-2026",
                  "--out", str(out)) == 0
    assert _print(sample_data_dir, "--theatre", "Theatre 2", "--date", "2026-01-05",
                  "--out", str(out)) == 0
    assert _print(sample_data_dir, "--blank", "downtime-registration", "--count", "3",
                  "--out", str(out)) == 0
    assert pymupdf.open(out).page_count == 3
    issued = _register(sample_data_dir, capsys)
    forms = [i["form_id"] for i in issued]
    assert forms.count("clinic-list") == 1 and forms.count("theatre-list") == 1
    downtime = [i["downtime_number"] for i in issued if i["form_id"] == "downtime-registration"]
    assert len(set(downtime)) == 3


def test_errors_are_one_line(sample_data_dir: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.pdf"
    for usage in (["--clinic", "fracture clinic"], ["--blank", "news2", "--count", "0"],
                  ["--blank", "news2", "--count", "100000"], ["--ward", "ced", "--copies", "x"]):
        with pytest.raises(SystemExit) as info:  # usage errors exit 2, as argparse does
            _print(sample_data_dir, *usage, "--out", str(out))
        assert info.value.code == 2
        assert "usage:" in capsys.readouterr().err
    assert _print(sample_data_dir, "--ward", "ced", "--forms", "news3", "--out", str(out)) == 1
    assert "no form 'news3'" in capsys.readouterr().err
    assert _print(sample_data_dir, "--ward", "Oak", "--out", str(out)) == 1
    assert "Cedar Ward (CED)" in capsys.readouterr().err
    assert not out.exists()


def test_demo_ward_pack(demo_data_dir: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ward.pdf"
    assert _print(demo_data_dir, "--ward", "W3", "--out", str(out)) == 0
    doc = pymupdf.open(out)
    issued = _register(demo_data_dir, capsys)
    patients = {i["patient_id"] for i in issued if i["patient_id"]}
    assert doc.page_count == sum(int(str(i["page_count"])) for i in issued)
    assert len(patients) >= 20
    assert out.stat().st_size / doc.page_count < 20_000
