"""``print --patient`` and ``patients --search`` with a mistyped NHS number say the check
digit is wrong (NHS Data Dictionary: Modulus 11), not "not in cache" or "0 patients"."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfallback.cli.main import main
from paperfallback.domain.nhs_number import check_digit

GOOD = "9991000011"  # not in the Cedar Ward cache
assert check_digit(GOOD[:9]) == int(GOOD[9])


@pytest.fixture
def p1_nhs(make_sample_snapshot) -> str:  # type: ignore[no-untyped-def]
    number: str = make_sample_snapshot().patients[0].nhs_number
    return number


def _mistyped(good: str) -> str:
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    return f"{bad[:3]} {bad[3:6]} {bad[6:]}"


def test_patients_search_with_a_bad_check_digit(
    sample_data_dir: Path, p1_nhs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["patients", "--search", _mistyped(p1_nhs)]) == 1
    captured = capsys.readouterr()
    assert "--search" in captured.err and "check digit is wrong" in captured.err
    assert "0 patients" not in captured.out
    assert main(["patients", "--search", p1_nhs]) == 0
    assert "1 patient" in capsys.readouterr().out


def test_print_patient_with_a_bad_check_digit(
    sample_data_dir: Path, p1_nhs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.pdf"
    assert main(["print", "--patient", _mistyped(p1_nhs), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "check digit is wrong" in err and "not in the cache" not in err
    assert not out.exists()


def test_an_unknown_valid_number_is_still_not_in_the_cache(
    sample_data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["print", "--patient", GOOD,
                 "--out", str(tmp_path / "p.pdf")]) == 1
    assert "in the cache" in capsys.readouterr().err
