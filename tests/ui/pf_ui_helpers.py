"""Helpers for the UI tests: a hand-built tiny ward and scripted answers to dialogs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from paperfallback.cache.store import CacheStore
from paperfallback.domain.records import (
    Alert,
    Allergy,
    Observation,
    ObservationKind,
    Patient,
    Snapshot,
    Stay,
    Ward,
)

# Synthetic NHS numbers from the test range with valid Modulus 11 check digits.
NHS = ("9990000018", "9990000026", "9990000034", "9990000042", "9990000050")


def tiny_snapshot(as_of: datetime) -> Snapshot:
    """Two wards, five patients, non-ASCII names, each allergy state, one NEWS2."""
    patients = (
        Patient("p1", NHS[0], "RM100001", "Ap Gwŷn-Łopez", "Siân", date(1948, 3, 2)),
        Patient("p2", NHS[1], "RM100002", "Öztürk", "Emre", date(1990, 7, 30)),
        Patient("p3", None, "RM100003", "Jones", "Ffion", date(1975, 1, 12)),
        Patient("p4", NHS[3], "RM100004", "Okafor", "Chidi", date(1961, 11, 5)),
        Patient("p5", NHS[4], "RM100005", "Élan", "Zoë", date(2001, 4, 22)),
    )
    stays = (
        Stay("s1", "p1", "AN", "Bed 1"), Stay("s2", "p2", "AN", "Bed 2"),
        Stay("s3", "p3", "AN", "Bed 10"), Stay("s4", "p4", "BV", "Bed 1"),
        Stay("s5", "p5", "BV", "SR 2"),
    )
    at = as_of - timedelta(hours=2)
    return Snapshot(
        data_as_of=as_of, as_of_source="option", patients=patients,
        wards=(Ward("AN", "Aneurin Ward"), Ward("BV", "Bevan Ward")), stays=stays,
        allergies=(Allergy("a1", "p1", "Penicillin", reaction="Rash"),
                   Allergy("a2", "p2", "No known allergies", no_known_allergies=True)),
        alerts=(Alert("f1", "p1", "DNACPR"), Alert("f2", "p4", "Falls risk")),
        observations=(Observation("o1", "p1", ObservationKind.NEWS2_TOTAL, at, value=6),),
    )


def write_cache(folder: Path, key: str, snapshot: Snapshot) -> None:
    with CacheStore.open(folder, key) as store:
        store.replace_snapshot(snapshot, force=True)


class FakePrompts:
    """Scripted answers for every dialog that would block; records what was asked."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.save_to: str | None = None
        self.printer_ok = True
        self.printer_setup: Callable[[Any], None] | None = None
        self.confirm_answer = True
        self.messages: list[tuple[str, str, str]] = []

    def open_paths(self, parent: Any, title: str, **_kw: Any) -> list[str]:
        self.messages.append(("open", title, ""))
        return list(self.paths)

    def save_path(self, parent: Any, title: str, suggested: str, *_a: Any) -> str | None:
        self.messages.append(("save", title, suggested))
        return self.save_to

    def choose_printer(self, parent: Any, printer: Any) -> bool:
        self.messages.append(("printer", printer.printerName(), ""))
        if self.printer_setup is not None:
            self.printer_setup(printer)
        return self.printer_ok

    def info(self, parent: Any, title: str, text: str) -> None:
        self.messages.append(("info", title, text))

    def error(self, parent: Any, title: str, text: str) -> None:
        self.messages.append(("error", title, text))

    def confirm(self, parent: Any, title: str, text: str) -> bool:
        self.messages.append(("confirm", title, text))
        return self.confirm_answer

    def kinds(self, kind: str) -> list[tuple[str, str, str]]:
        return [m for m in self.messages if m[0] == kind]


def now_utc() -> datetime:
    return datetime.now(UTC)


def register_list(folder: Path, key: str) -> list[Any]:
    """Every issued form in the register of the data folder ``folder``."""
    from paperfallback.register import Register
    from paperfallback.settings import Settings

    with Register.open(folder, key, Settings.load(folder)) as register:
        return register.list()


def open_ward_dialog(window: Any, qtbot: Any, *, timeout_ms: int = 60_000) -> Any:
    """Ctrl+P on the main window; wait for the print dialog and its first page count."""
    from PySide6.QtCore import Qt

    from paperfallback.ui.print_dialog import PrintDialog

    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    dialog = window.open_dialog
    assert isinstance(dialog, PrintDialog)
    qtbot.waitUntil(dialog.isActiveWindow)
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=timeout_ms)
    return dialog


# ---- leaked top-level widgets (the no_leaked_windows fixture) --------------------------------

def _pointer(widget: Any) -> int:
    import shiboken6

    return int(shiboken6.getCppPointer(widget)[0])


def top_level_ids() -> set[int]:
    """The C++ addresses of the application's top-level widgets now."""
    from PySide6.QtWidgets import QApplication

    return {_pointer(w) for w in QApplication.topLevelWidgets()}


def flush_deletes() -> None:
    """Run pending ``deleteLater`` calls (pytest-qt closes registered widgets that way)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()


def leaked_windows(before: set[int]) -> list[Any]:
    """Top-level widgets that were not there before and are still alive after the test:
    visible ones, and hidden ones not deleted (a closed dialog without WA_DeleteOnClose)."""
    from PySide6.QtWidgets import QApplication

    flush_deletes()
    return [w for w in QApplication.topLevelWidgets() if _pointer(w) not in before]


def describe(widget: Any) -> str:
    title = widget.windowTitle() or widget.objectName()
    state = "visible" if widget.isVisible() else "hidden"
    return f"{type(widget).__name__}({title!r}, {state})"


# ---- a real print system (tests marked cups) ------------------------------------------------

CUPS_QUEUE = "PaperFallbackPDF"  # .ci/setup-system: a cups-pdf queue


def job_pdf(folder: Any, job_id: str, timeout_s: float = 60) -> Any:
    """The PDF cups-pdf wrote for CUPS job ``job_id`` ("PaperFallbackPDF-17"): its PPD
    labels every file with a trailing "-job_17" (Label 2), once it is complete."""
    import time

    number = job_id.rsplit("-", 1)[1]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = list(folder.glob(f"*-job_{number}.pdf")) if folder.is_dir() else []
        if found:
            size = found[0].stat().st_size
            time.sleep(0.3)  # cups-pdf writes then closes: wait for a stable size
            if size and found[0].stat().st_size == size:
                return found[0]
        time.sleep(0.1)
    raise AssertionError(f"cups-pdf wrote no PDF for job {job_id} into {folder} "
                         f"within {timeout_s} s")
