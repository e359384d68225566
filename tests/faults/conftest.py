"""Storage faults caused for real (issue #12): what every fault test checks.

Each test breaks a data folder the way a ward PC breaks (a wrong key, a full disk, a
read-only folder, damaged pages, a lock held by another process, two imports at once,
crash leftovers, loose permissions) and asserts four things: blank forms still print, the
message names the true cause, nothing already saved is lost, and no traceback is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pf_fault_helpers import Run

from paperfallback.cli.main import main


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write this machine's real keyring (a lost key is simulated)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("print", "--blank", "news2", ...) -> (exit code, stdout, stderr)``, in process,
    asserting that no traceback reached the user."""

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        for text in (out, err):
            assert "Traceback" not in text and "Error:" not in text.replace("error:", ""), text
        return code, out, err

    return call


@pytest.fixture
def blank_prints(run: Run, tmp_path: Path) -> Callable[[], str]:
    """Print two blank NEWS2 forms; assert a PDF came out; return the command's stderr."""
    counter = iter(range(1000))

    def check() -> str:
        out = tmp_path / f"blank-{next(counter)}.pdf"
        code, _stdout, err = run("print", "--blank", "news2", "--count", "2", "--out", str(out))
        assert code == 0, err
        assert out.read_bytes().startswith(b"%PDF")
        return err

    return check

