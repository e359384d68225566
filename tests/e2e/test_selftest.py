"""``paperfallback self-test``: one PASS/FAIL line per check, exit 0 only if all pass."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cli.main import main
from paperfallback.cli.selftest_cmd import Failed, check_pdf, compact_age
from paperfallback.settings import Settings


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_all_checks_pass_on_a_fresh_demo_cache(
    demo_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--seed", "7"]) == 0  # fresh data-as-of time
    capsys.readouterr()

    assert main(["self-test"]) == 0

    lines = _lines(capsys)
    assert all(line.startswith(("PASS ", "WARN pc_code not set")) for line in lines), lines
    assert "PASS cache opens with key from PAPERFALLBACK_KEY" in lines
    assert any(line.startswith("PASS cache age ") for line in lines)
    render = next(line for line in lines if "render a pack of every form" in line)
    assert render.endswith("PDFs valid")
    # The rendered pack used a throwaway register and left no patient data on disk.
    assert not (demo_data_dir / "work.db").exists()
    assert not any((demo_data_dir / "refresh-tmp").iterdir())


def test_stale_cache_fails_the_age_check(
    data_dir: Path, tmp_path: Path, write_tiny_drop: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = (datetime.now(UTC) - timedelta(hours=3, minutes=20, seconds=30)).isoformat()
    drop = write_tiny_drop(tmp_path / "drop", transaction_time=old)
    assert main(["cache", "import", str(drop)]) == 0
    capsys.readouterr()

    assert main(["self-test"]) == 1

    lines = _lines(capsys)
    assert "FAIL cache age 3 h 20 min > 60 min" in lines
    assert "PASS cache opens with key from PAPERFALLBACK_KEY" in lines
    assert main(["self-test", "--max-age-minutes", "240"]) == 0
    assert "PASS cache age 3 h 20 min <= 240 min" in _lines(capsys)


def test_wrong_key_fails_cleanly_and_skips_what_needs_the_cache(
    demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERFALLBACK_KEY", "not-the-key")

    assert main(["self-test"]) == 1

    lines = _lines(capsys)
    assert lines[2].startswith("FAIL cache opens with key from PAPERFALLBACK_KEY: cannot decrypt")
    assert "FAIL skipped: the cache did not open" in lines
    assert len(lines) == 8  # every check still reports a line


def test_empty_cache_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["self-test"]) == 1
    assert any(line.startswith("FAIL cache holds no snapshot") for line in _lines(capsys))


def test_pdf_check_needs_no_pdf_library() -> None:
    good = b"%PDF-1.4\n1 0 obj << /Type /Pages >> endobj\n2 0 obj << /Type /Page >> endobj\n" \
           b"xref\ntrailer\nstartxref\n9\n%%EOF\n"
    assert check_pdf(good, 1) == 1
    with pytest.raises(Failed, match="trailer"):
        check_pdf(good[:-20])
    with pytest.raises(Failed, match="header"):
        check_pdf(b"<html>" + good)
    with pytest.raises(Failed, match="renderer reported 2"):
        check_pdf(good, 2)


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "0 min"), (59, "59 min"), (60, "1 h"), (200, "3 h 20 min"), (60 * 50, "2 d 2 h")],
)
def test_compact_age(minutes: int, text: str) -> None:
    assert compact_age(timedelta(minutes=minutes)) == text


def test_self_test_runs_as_a_subprocess_headless(demo_data_dir: Path) -> None:
    """As IT and the bundle run it: a separate process, no display."""
    assert main(["demo", "--seed", "7"]) == 0
    done = subprocess.run(
        [sys.executable, "-m", "paperfallback", "--data-dir", str(demo_data_dir), "self-test"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS ") == 7 and done.stdout.count("WARN ") == 1


def test_an_unset_pc_code_warns_but_does_not_fail(
    demo_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Derived codes are 3 characters from the PC name: across hundreds of PCs two may
    share one, and their form-instance IDs collide. Printing is still safe now: WARN."""
    assert main(["demo", "--seed", "7"]) == 0
    capsys.readouterr()
    assert main(["self-test"]) == 0
    [line] = [x for x in _lines(capsys) if "pc_code" in x]
    assert line.startswith("WARN pc_code not set: form-instance IDs use ")
    assert line.endswith("ask IT to assign one (docs/install.md)")

    settings = Settings.load(demo_data_dir)
    settings.pc_code = "w7a"
    settings.save(demo_data_dir)
    assert main(["self-test"]) == 0
    lines = _lines(capsys)
    assert "PASS pc_code W7A set" in lines and not any(x.startswith("WARN") for x in lines)

    settings.pc_code = "OOPS!"  # refused by every print: a FAIL, with what to fix
    settings.save(demo_data_dir)
    assert main(["self-test"]) == 1
    lines = _lines(capsys)
    assert any(x.startswith("FAIL pc_code: ") and "PC code 'OOPS!' must be 1 to 4" in x
               for x in lines), lines
