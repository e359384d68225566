"""The ward setting on the command line (#12.9): ``self-test`` fails and ``cache status``
needs attention when this PC's ward matches no ward, naming both; ``--ward`` never guesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperfallback.cli.main import main
from paperfallback.settings import Settings


def _out(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def test_self_test_fails_on_a_ward_setting_that_matches_no_ward(
        demo_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seed", "7"]) == 0
    Settings(ward="Ward 3", pc_code="W3A").save(demo_data_dir)  # W3's name is longer
    _out(capsys)
    assert main(["self-test"]) == 1
    lines = _out(capsys).splitlines()
    [line] = [x for x in lines if x.startswith("FAIL ward")]
    assert "'Ward 3'" in line and "(W3)" in line and "settings.json" in line

    Settings(ward="w3", pc_code="W3A").save(demo_data_dir)
    assert main(["self-test"]) == 0
    assert any(x.startswith("PASS ward setting 'w3' is ") for x in _out(capsys).splitlines())
    Settings(ward="", pc_code="W3A").save(demo_data_dir)
    assert main(["self-test"]) == 0
    assert "PASS ward setting empty: all wards" in _out(capsys).splitlines()


def test_cache_status_needs_attention_on_an_unmatched_ward(
        demo_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Settings(ward="Ward 3").save(demo_data_dir)
    _out(capsys)
    main(["cache", "status", "--json"])
    data = json.loads(_out(capsys))
    assert data["ward"] == "Ward 3"
    assert data["needs_attention"] is True
    [problem] = [p for p in data["problems"] if "ward" in p]
    assert "'Ward 3'" in problem and "(W3)" in problem
    assert main(["cache", "status", "--check"]) == 1
    assert "Needs attention: this PC's ward setting 'Ward 3'" in _out(capsys)


def test_print_ward_never_guesses(
        demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pack.pdf"
    assert main(["print", "--ward", "Ward 3", "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert "no ward 'Ward 3'" in err and "(W3)" in err
    assert not out.exists()


def test_entries_workbook_ward_by_code_or_full_name(
        demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``entries workbook --ward`` follows the same rule as everywhere (the user guide's
    example gives the ward's name): code or full name, never a part of the name."""
    assert main(["print", "--ward", "W3", "--forms", "news2", "--no-cover",
                 "--out", str(tmp_path / "pack.pdf")]) == 0
    for ward in ("W3", "ward 3 — dewi sant"):
        out = tmp_path / f"{ward[:2]}.xlsx"
        assert main(["entries", "workbook", "--form", "news2", "--ward", ward,
                     "--out", str(out)]) == 0, capsys.readouterr().err
        assert out.exists()
    capsys.readouterr()
    assert main(["entries", "workbook", "--form", "news2", "--ward", "Ward 3",
                 "--out", str(tmp_path / "x.xlsx")]) != 0
    assert "did you mean 'Ward 3 — Dewi Sant (W3)'" in capsys.readouterr().err
