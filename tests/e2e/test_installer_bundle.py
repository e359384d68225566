"""The PyInstaller bundle builds, finds its forms and fonts, and passes its own self-test.

This is the CI step for the installer: ``scripts/build-installer`` builds
``dist/paperfallback/`` (about a minute on 2 cores; reused while it is newer than every
source it bundles), then the bundled program builds the demo cache and runs ``self-test``
headless, as IT would on a ward PC. A lock serialises builds from concurrent test runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "paperfallback"
PROGRAM = BUNDLE / "paperfallback"
INPUTS = ("paperfallback", "forms", "resources", "build_installer.spec", "scripts/gui_entry.py",
          "scripts/build-installer", "pyproject.toml")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="the Linux CI bundle; Windows: docs"),
]


def _newest_input_mtime() -> float:
    newest = 0.0
    for name in INPUTS:
        path = ROOT / name
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for file in files:
            if "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def bundle() -> Iterator[Path]:
    import fcntl

    lock_path = ROOT / "build" / ".bundle.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not PROGRAM.exists() or PROGRAM.stat().st_mtime < _newest_input_mtime():
            done = subprocess.run([str(ROOT / "scripts" / "build-installer")], cwd=ROOT,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield PROGRAM
        fcntl.flock(lock, fcntl.LOCK_UN)


def _run(program: Path, *args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(QT_QPA_PLATFORM="offscreen", PAPERFALLBACK_KEY="bundle-test-key")
    return subprocess.run([str(program), "--data-dir", str(data), *args], env=env,
                          capture_output=True, text=True, timeout=180)


def test_bundled_app_builds_the_demo_and_passes_its_self_test(
    bundle: Path, tmp_path: Path
) -> None:
    data = tmp_path / "ward-pc"

    demo = _run(bundle, "demo", data=data)
    assert demo.returncode == 0, demo.stderr
    test = _run(bundle, "self-test", data=data)

    assert test.returncode == 0, test.stdout + test.stderr
    lines = test.stdout.splitlines()
    # the demo data folder has no pc_code: a WARN line, not a failure (docs/install.md)
    assert len(lines) == 8 and all(line.startswith(("PASS ", "WARN pc_code not set"))
                                   for line in lines), lines
    forms_line = next(line for line in lines if "forms load from" in line)
    assert str(BUNDLE / "_internal" / "forms") in forms_line  # the bundle's, not the source's
    assert (data / "logs" / "paperfallback.log").exists()


def test_bundle_carries_qt_plugins_and_both_programs(bundle: Path) -> None:
    internal = BUNDLE / "_internal"
    plugins = next(internal.rglob("plugins"))
    assert (plugins / "platforms" / "libqoffscreen.so").exists()
    assert any((plugins / "printsupport").iterdir())
    assert list(internal.rglob("libQt6Pdf.so*"))
    assert list(internal.rglob("_sqlite3*.so"))  # sqlcipher3, SQLCipher linked in
    assert (BUNDLE / "paperfallback-gui").exists()
    assert not list(internal.rglob("pypdf")), "test tools must not be bundled"


def test_bundled_help_lists_every_command(bundle: Path, tmp_path: Path) -> None:
    done = _run(bundle, "--help", data=tmp_path)
    assert done.returncode == 0
    for command in ("gui", "demo", "cache", "patients", "self-test"):
        assert command in done.stdout


def test_bundled_desktop_app_starts_offscreen(bundle: Path, tmp_path: Path) -> None:
    """The windowed program loads Qt (platform plugin, widgets, the main window) and keeps
    running; a missing plugin or module makes it exit at once."""
    data = tmp_path / "ward-pc"
    assert _run(bundle, "demo", data=data).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(QT_QPA_PLATFORM="offscreen", PAPERFALLBACK_KEY="bundle-test-key")
    gui = subprocess.Popen([str(BUNDLE / "paperfallback-gui"), "--data-dir", str(data)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        code = gui.wait(timeout=6)
    except subprocess.TimeoutExpired:
        code = None  # still running: it started
    finally:
        gui.kill()
        _, err = gui.communicate(timeout=10)
    assert code is None, f"the app exited with {code}: {err[-2000:]}"
    assert "gui: started" in (data / "logs" / "paperfallback.log").read_text(encoding="utf-8")
