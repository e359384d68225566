"""UI test fixtures: scripted dialogs, the tiny ward, and a window factory that closes
what it opened (no leaked top-level widgets, no running threads)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pf_ui_helpers import (
    CUPS_QUEUE,
    FakePrompts,
    describe,
    flush_deletes,
    leaked_windows,
    tiny_snapshot,
    top_level_ids,
    write_cache,
)

from paperfallback.cli.context import AppContext
from paperfallback.settings import Settings


@pytest.fixture(autouse=True)
def no_leaked_windows(qapp: Any) -> Iterator[None]:
    """Fail a test that leaves a new top-level widget behind (as napari's
    ``make_napari_viewer`` does): every window and dialog a test opens must be closed and
    deleted by the end of the test, or by the fixture that made it (``make_window``).
    A leaked window keeps threads, stores and timers alive into the next test."""
    before = top_level_ids()
    yield
    leaked = leaked_windows(before)
    names = ", ".join(describe(w) for w in leaked)
    for widget in leaked:  # do not let one leak fail the tests after it
        widget.close()
        widget.deleteLater()
    flush_deletes()
    if leaked:
        pytest.fail("top-level widgets leaked (close them in the test or its fixture): "
                    + names, pytrace=False)


@pytest.fixture
def prompts() -> FakePrompts:
    return FakePrompts()


@pytest.fixture
def tiny_cache(data_dir: Path) -> Path:
    """The tiny ward, data as of 10 minutes ago; this PC's ward is set to Aneurin Ward (AN),
    as IT sets it on a ward PC (``"ward": ""`` would list all wards)."""
    from paperfallback.cache.staleness import utc_now

    write_cache(data_dir, "test-key-not-secret", tiny_snapshot(utc_now() - timedelta(minutes=10)))
    Settings(ward="AN").save(data_dir)
    return data_dir


@pytest.fixture
def demo_data_dir(demo_data_dir: Path) -> Path:
    """The demo hospital, on a PC whose ward is the demo's first ward (W3), as IT sets it."""
    from paperfallback.cache.demo import FULL_WARD_CODE

    Settings(ward=FULL_WARD_CODE).save(demo_data_dir)
    return demo_data_dir


@pytest.fixture
def make_window(qtbot: Any, prompts: FakePrompts) -> Iterator[Callable[..., Any]]:
    """Build a MainWindow on the test's data folder; closes it and its dialogs afterwards."""
    from paperfallback.ui.main_window import MainWindow

    made: list[tuple[MainWindow, AppContext]] = []

    def make(data_dir: Path, *, settings: Settings | None = None) -> MainWindow:
        if settings is not None:
            settings.save(data_dir)
        ctx = AppContext(data_dir_option=str(data_dir))
        window = MainWindow(ctx, prompts=prompts)  # type: ignore[arg-type]
        qtbot.addWidget(window)
        window.show()
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        made.append((window, ctx))
        return window

    yield make
    for window, ctx in made:
        window.close()
        ctx.close()


@pytest.fixture
def open_window(qtbot: Any, data_dir: Path) -> Iterator[Callable[[], Any]]:
    """Open keying windows (Re-enter forms) on the test's data folder; closes each window
    and its stores afterwards."""
    from paperfallback.ui.keying import KeyingWindow

    made: list[tuple[KeyingWindow, AppContext]] = []

    def make() -> KeyingWindow:
        ctx = AppContext(data_dir_option=str(data_dir))
        window = KeyingWindow(ctx)
        qtbot.addWidget(window)
        window.show()
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        made.append((window, ctx))
        return window

    yield make
    for window, ctx in made:
        window.close()
        ctx.close()


# ---- a real print system (tests marked cups) -----------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _scheduler_running() -> bool:
    result = subprocess.run(["lpstat", "-r"], capture_output=True, text=True, check=False)
    return "scheduler is running" in result.stdout


@pytest.fixture(scope="session")
def cups_queue() -> str:
    """The CUPS PDF queue, started with .ci/setup-system when this machine can; else skip."""
    if not shutil.which("lp") or not shutil.which("lpstat"):
        pytest.skip("CUPS client tools (lp, lpstat) are not installed")
    missing = not _scheduler_running() or subprocess.run(
        ["lpstat", "-p", CUPS_QUEUE], capture_output=True, check=False).returncode != 0
    if missing and shutil.which("cupsd") and os.geteuid() == 0:
        subprocess.run([str(ROOT / ".ci" / "setup-system")], capture_output=True,
                       check=False, timeout=300)
    if not _scheduler_running():
        pytest.skip("the CUPS scheduler (cupsd) is not running and could not be started")
    if subprocess.run(["lpstat", "-p", CUPS_QUEUE], capture_output=True, check=False).returncode:
        pytest.skip(f"no CUPS queue {CUPS_QUEUE} (cups-pdf); run .ci/setup-system as root")
    return CUPS_QUEUE


@pytest.fixture
def cups_pdf_folder(cups_queue: str) -> Iterator[Path]:
    """Where cups-pdf writes this user's jobs (cups-pdf.conf: Out ${HOME}/PDF)."""
    folder = Path(pwd.getpwuid(os.getuid()).pw_dir) / "PDF"
    yield folder
