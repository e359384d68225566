#!/usr/bin/env python3
"""Grab offscreen screenshots of each window into docs/screenshots/ (for the user guide).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Uses a private demo hospital in a temporary folder (never the user's data) and scripted
answers instead of blocking dialogs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PAPERFALLBACK_KEY", "screenshots-key")
ROOT = Path(__file__).resolve().parent.parent


class ScriptedPrompts:
    """Answers every dialog without blocking (the screenshots never print)."""

    def open_paths(self, *_a: Any, **_k: Any) -> list[str]:
        return []

    def save_path(self, *_a: Any, **_k: Any) -> str | None:
        return None

    def choose_printer(self, *_a: Any, **_k: Any) -> bool:
        return False

    def info(self, *_a: Any, **_k: Any) -> None:
        return None

    def error(self, *_a: Any, **_k: Any) -> None:
        return None

    def confirm(self, *_a: Any, **_k: Any) -> bool:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QApplication, QWidget

    from paperfallback.cache.demo import FULL_WARD_CODE
    from paperfallback.cli.context import AppContext
    from paperfallback.settings import Settings
    from paperfallback.ui.app import create_app, fit_window
    from paperfallback.ui.main_window import MainWindow

    app = create_app()
    prompts = ScriptedPrompts()
    key = os.environ["PAPERFALLBACK_KEY"]

    def settle(until: Callable[[], bool] = lambda: True, limit_s: float = 60) -> None:
        import time

        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            app.processEvents()
            if until():
                break
            time.sleep(0.01)
        for _ in range(5):
            app.processEvents()

    def save(widget: QWidget, name: str) -> None:
        settle()
        path = args.out / f"{name}.png"
        widget.grab().save(str(path))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    def window_on(folder: Path, width: int = 1280, height: int = 800) -> tuple[MainWindow, Any]:
        ctx = AppContext(data_dir_option=str(folder))
        window = MainWindow(ctx, prompts=prompts)  # type: ignore[arg-type]
        window.resize(width, height)
        window.show()
        settle()
        return window, ctx

    with tempfile.TemporaryDirectory(prefix="pf-shots-") as tmp:
        demo = Path(tmp) / "demo"
        demo.mkdir()
        env = dict(os.environ, PAPERFALLBACK_KEY=key)
        subprocess.run([sys.executable, "-m", "paperfallback", "--data-dir", str(demo), "demo"],
                       check=True, env=env, capture_output=True)
        Settings(ward=FULL_WARD_CODE).save(demo)  # a ward PC: its ward is set (install.md)
        flagged = _key_news2_flag(demo, key)

        window, ctx = window_on(demo)
        save(window, "main-window")
        for width, height in ((1366, 768), (1280, 800)):  # as fit_window opens it there
            fit_window(window, QRect(0, 0, width, height - 40))  # less a 40 px taskbar
            window.statusBar().showMessage("Sent 149 pages to Ward3-Laser (CUPS job 12).")
            save(window, f"main-window-{width}x{height}")
        window.statusBar().clearMessage()
        window.resize(1280, 800)
        window.search_edit.setText("mu")
        save(window, "main-window-search")
        window.search_edit.clear()

        window.select_patients([flagged])
        window.open_news2_review()
        review = window.open_dialog
        review.name_edit.setText("Siân Wyn, staff nurse")
        review.note_edit.setText("Re-scored 5, FY1 informed")
        save(review, "news2-review")
        review.close()

        window.open_print_ward_pack()
        dialog = window.open_dialog
        dialog.set_blank_copies({"news2": 2})
        settle(lambda: dialog.page_count is not None)
        save(dialog, "print-dialog")
        dialog.preview_button.click()
        settle(lambda: dialog.output is not None and dialog.output.preview_dialog is not None)
        preview = dialog.output.preview_dialog if dialog.output else None
        if preview is not None:
            settle(preview.thumbnails_done)
            save(preview, "preview")
            preview.close()
        dialog.close()

        window.open_print_blank()
        blank = window.open_dialog
        settle(lambda: blank.page_count is not None)
        save(blank, "print-blank-forms")
        blank.close()

        window.open_clinic_lists()
        save(window.open_dialog, "clinic-lists")
        window.open_dialog.close()
        window.open_theatre_lists()
        save(window.open_dialog, "theatre-lists")
        window.open_dialog.close()

        window.open_settings()
        save(window.open_dialog, "settings-it")
        window.open_dialog.close()
        window.close()
        ctx.close()

        stale = Path(tmp) / "stale"
        stale.mkdir()
        _copy_cache(demo, stale)
        Settings(ward=FULL_WARD_CODE, stale_minutes=60).save(stale)
        _age_cache(stale, key, hours=3)
        window, ctx = window_on(stale)
        save(window, "main-window-stale")
        window.close()
        ctx.close()

        unmatched = Path(tmp) / "unmatched"
        unmatched.mkdir()
        _copy_cache(demo, unmatched)
        Settings(ward="Ward 3").save(unmatched)  # a start of a name: matches no ward
        window, ctx = window_on(unmatched)
        save(window, "ward-not-found")
        window.close()
        ctx.close()

        empty = Path(tmp) / "empty"
        empty.mkdir()
        window, ctx = window_on(empty)
        save(window, "first-run")
        window.close()
        ctx.close()

        wrong = Path(tmp) / "wrong"
        wrong.mkdir()
        _copy_cache(demo, wrong)
        os.environ["PAPERFALLBACK_KEY"] = "not-the-right-key"
        window, ctx = window_on(wrong)
        save(window, "wrong-key")
        window.close()
        ctx.close()
        os.environ["PAPERFALLBACK_KEY"] = key
    QApplication.processEvents()
    return 0


def _key_news2_flag(folder: Path, key: str) -> str:
    """Key one NEWS2 column for a patient on the home ward whose handwritten total (2)
    differs from the score of its values (5), as a clerk would; returns the patient id."""
    from paperfallback.cache.staleness import utc_now
    from paperfallback.cache.store import CacheStore
    from paperfallback.cache.wards import home_ward
    from paperfallback.formspec import load_catalogue
    from paperfallback.reentry.layout import form_layout
    from paperfallback.reentry.session import KeyingSession
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.reentry.validation import KeyingContext
    from paperfallback.register import IssuedForm, Register, pc_code_for
    from paperfallback.settings import Settings

    settings = Settings.load(folder)
    with CacheStore.open(folder, key) as cache:
        ward = home_ward(settings.ward, cache.wards())
        assert ward is not None
        row = cache.patients(ward_code=ward.code)[1]
    printed = utc_now() - timedelta(hours=3)
    with EntriesStore.open(folder, key) as store:
        register = Register(store.work, pc_code=pc_code_for(settings))
        issued = IssuedForm(instance_id=register.instance_id(), form_id="news2",
                            form_version="1.0", scope="patient", page_count=1,
                            printed_at=printed, pc_id=settings.pc_id or "demo-pc",
                            patient_id=row.patient.id, ward_code=ward.code,
                            patient_name=row.patient.display_name,
                            bed=row.stay.bed if row.stay else "")
        register.record([issued])
        session = KeyingSession(store, form_layout(load_catalogue().get("news2")), issued,
                                clerk="Demo Clerk", ctx=KeyingContext(printed))
        when = (utc_now() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        values = {"obs_time": when.isoformat(), "resp_rate": "22", "spo2": "95",
                  "oxygen": "A", "sbp": "120", "pulse": "95", "acvpu": "A", "temp": "38.2",
                  "news2_total": "2"}  # scores 2+1+0+0+1+0+1 = 5 (RCP NEWS2 2017)
        for field_id, value in values.items():
            session.enter("observations", 0, field_id, value)
    return row.patient.id


def _copy_cache(source: Path, target: Path) -> None:
    import shutil

    for item in source.iterdir():
        if item.name.startswith("cache.db"):
            shutil.copy2(item, target / item.name)


def _age_cache(folder: Path, key: str, *, hours: int) -> None:
    """The demo hospital as extracted some hours ago, as after a long outage."""
    from paperfallback.cache.demo import write_demo_extract
    from paperfallback.cache.importers import read_extract
    from paperfallback.cache.staleness import utc_now
    from paperfallback.cache.store import CacheStore

    then = utc_now() - timedelta(hours=hours)
    with tempfile.TemporaryDirectory(prefix="pf-age-") as tmp:
        snapshot = read_extract([write_demo_extract(Path(tmp), seed=2018, now=then)])
    with CacheStore.open(folder, key) as store:
        store.replace_snapshot(snapshot, force=True)


if __name__ == "__main__":
    raise SystemExit(main())
