"""The command-line contract: exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperfallback.cli.main import main


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["cache", "frobnicate"])
    assert info.value.code == 2


def test_status_without_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["has_snapshot"] is False
    assert status["stale"] is True


def test_patients_without_cache_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patients"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "no cache yet" in err
    assert "Traceback" not in err


def test_wrong_key_is_a_one_line_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "status"]) == 0
    monkeypatch.setenv("PAPERFALLBACK_KEY", "another-key")
    assert main(["cache", "status"]) == 1
    err = capsys.readouterr().err.strip()
    assert "PAPERFALLBACK_KEY" in err and "key is wrong" in err
    assert "Traceback" not in err


def test_bad_as_of_names_the_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["cache", "import", str(tmp_path), "--as-of", "yesterday"]) == 1
    assert "--as-of" in capsys.readouterr().err
