"""The main window's states: ward list, search, stale warning, first run, wrong key."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

from pf_ui_helpers import now_utc, tiny_snapshot, write_cache
from PySide6.QtCore import Qt

from paperfallback.cache.ward_summary import CacheLevel
from paperfallback.settings import Settings
from paperfallback.ui.patient_model import Column


def _column(window: Any, column: Column) -> list[str]:
    model = window.model
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_opens_on_the_pcs_own_ward_with_fresh_status(tiny_cache: Path, make_window: Any) -> None:
    window = make_window(tiny_cache, settings=Settings(ward="bevan ward"))
    assert window.pages.currentWidget() is window.ward_page
    assert window.current_ward_code() == "BV"
    assert _column(window, Column.NAME) == ["OKAFOR, Chidi", "ÉLAN, Zoë"]
    assert window.cache_banner.level is CacheLevel.FRESH
    assert window.cache_banner.headline.text().startswith("Data as of ")
    assert "(10 minutes ago)" in window.cache_banner.headline.text()
    assert "DOWNTIME COPY" in window.windowTitle()
    assert "DOWNTIME COPY" in window.downtime_banner.text()
    assert window.downtime_banner.isVisible()
    assert window.print_ward_button.isEnabled()


def test_ward_list_columns_of_the_pcs_ward(tiny_cache: Path, make_window: Any) -> None:
    window = make_window(tiny_cache)
    assert window.current_ward_code() == "AN"
    assert _column(window, Column.BED) == ["Bed 1", "Bed 2", "Bed 10"]
    assert _column(window, Column.NHS) == ["999 000 0018", "999 000 0026", "Not recorded"]
    assert _column(window, Column.ALLERGIES) == [
        "⚠ Penicillin", "No known allergies", "Not recorded"]
    assert _column(window, Column.ALERTS)[0] == "DNACPR"
    assert _column(window, Column.NEWS2)[0].startswith("6   ")
    assert window.table.isColumnHidden(Column.WARD)


def test_search_by_name_nhs_and_hospital_number(
        tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search_edit.hasFocus()
    qtbot.keyClicks(window.search_edit, "ozt")  # accent-free prefix of Öztürk
    assert _column(window, Column.NAME) == ["ÖZTÜRK, Emre"]
    window.search_edit.clear()
    qtbot.keyClicks(window.search_edit, "999 000 0018")
    assert _column(window, Column.NAME) == ["AP GWŶN-ŁOPEZ, Siân"]
    window.search_edit.clear()
    qtbot.keyClicks(window.search_edit, "rm100003")
    assert _column(window, Column.NAME) == ["JONES, Ffion"]
    window.search_edit.clear()
    qtbot.keyClicks(window.search_edit, "okafor")  # on the other ward
    assert window.model.rowCount() == 0
    assert "All patients" in window.count_label.text()
    qtbot.keyClick(window.search_edit, Qt.Key.Key_Escape)
    assert window.search_edit.text() == ""
    assert window.model.rowCount() == 3


def test_all_patients_choice_shows_every_ward(tiny_cache: Path, make_window: Any) -> None:
    window = make_window(tiny_cache)
    window.ward_combo.setCurrentIndex(window.ward_combo.findText("All patients"))
    assert window.model.rowCount() == 5
    assert not window.table.isColumnHidden(Column.WARD)
    assert _column(window, Column.WARD)[-1] == "Bevan Ward"
    assert window.windowTitle().startswith("All patients")


def test_stale_cache_shows_an_unmissable_warning(data_dir: Path, make_window: Any) -> None:
    write_cache(data_dir, "test-key-not-secret", tiny_snapshot(now_utc() - timedelta(hours=3)))
    window = make_window(data_dir, settings=Settings(stale_minutes=60))
    banner = window.cache_banner
    assert banner.level is CacheLevel.STALE
    assert banner.property("level") == "stale"
    assert banner.headline.text() == "STALE DATA — last updated 3 hours ago"
    assert banner.isVisible()
    # Printing is still allowed, and the print dialog says every page will be marked.
    assert window.print_ward_button.isEnabled()
    window.print_ward_button.click()
    warning = window.open_dialog.stale_label
    assert warning.isVisible() and "STALE DATA — last updated 3 hours ago" in warning.text()


def test_status_turns_stale_while_the_window_is_open(
        tiny_cache: Path, make_window: Any) -> None:
    window = make_window(tiny_cache, settings=Settings(stale_minutes=60))
    assert window.cache_banner.level is CacheLevel.FRESH
    Settings(stale_minutes=5).save(tiny_cache)
    window.settings.stale_minutes = 5
    window.refresh_status()  # what the 30-second timer does
    assert window.cache_banner.level is CacheLevel.STALE


def test_first_run_explains_and_offers_demo_and_import(
        data_dir: Path, make_window: Any) -> None:
    window = make_window(data_dir)
    assert window.pages.currentWidget() is window.first_run_page
    assert window.cache_banner.level is CacheLevel.NONE
    assert "NO PATIENT DATA" in window.cache_banner.headline.text()
    assert window.load_demo_button.isVisible() and window.import_button.isVisible()
    assert not window.print_ward_button.isEnabled()
    assert window.print_blank_button.isEnabled()  # blank forms need no cache


def test_wrong_key_shows_a_clear_message_not_a_crash(
        data_dir: Path, make_window: Any, monkeypatch: Any) -> None:
    write_cache(data_dir, "the-right-key", tiny_snapshot(now_utc()))
    window = make_window(data_dir)  # opened with the test key: wrong
    assert window.pages.currentWidget() is window.problem_page
    assert window.problem_title.text() == "Patient data cannot be opened"
    assert "key is wrong" in window.problem_text.text()
    assert "IT service desk" in window.problem_text.text()
    assert "CANNOT BE OPENED" in window.cache_banner.headline.text()
    assert not window.print_ward_button.isEnabled()
    assert window.print_blank_button.isEnabled()


def test_damaged_patient_data_shows_a_problem_not_a_crash(
        tiny_cache: Path, make_window: Any, monkeypatch: Any) -> None:
    from paperfallback.cache.store import CacheStore
    from paperfallback.domain.errors import CacheError

    def damaged(self: Any, **kwargs: Any) -> Any:
        raise CacheError("the cache file cache.db is damaged (database disk image is malformed)")

    monkeypatch.setattr(CacheStore, "patients", damaged)
    window = make_window(tiny_cache)
    assert window.pages.currentWidget() is window.problem_page
    assert "damaged" in window.problem_text.text()
    assert "CANNOT BE OPENED" in window.cache_banner.headline.text()
    assert not window.print_ward_button.isEnabled()
    assert window.print_blank_button.isEnabled()  # blank forms still print


def test_bad_settings_file_falls_back_with_a_warning(
        tiny_cache: Path, make_window: Any) -> None:
    (tiny_cache / "settings.json").write_text('{"stale_minutes": "soon"}', encoding="utf-8")
    window = make_window(tiny_cache)
    assert window.pages.currentWidget() is window.ward_page
    assert "Settings could not be read" in window.cache_banner.detail.text()


def test_import_extract_failure_is_reported(
        data_dir: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    prompts.paths = [str(bad)]
    window = make_window(data_dir)
    window.import_button.click()
    qtbot.waitUntil(lambda: bool(prompts.kinds("error")), timeout=10_000)
    title, text = prompts.kinds("error")[0][1:]
    assert title == "The extract was not imported"
    assert "broken.json" in text
    assert window.pages.currentWidget() is window.first_run_page


def test_load_demo_from_the_first_run_page(data_dir: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(data_dir)
    window.load_demo_button.click()
    assert not window.load_demo_button.isEnabled()  # busy, and the window still responds
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.ward_page, timeout=30_000)
    assert window.model.rowCount() > 20
    assert window.cache_banner.level is CacheLevel.FRESH


def test_demo_cache_opens_on_the_first_ward(demo_data_dir: Path, make_window: Any) -> None:
    window = make_window(demo_data_dir)
    assert window.pages.currentWidget() is window.ward_page
    assert window.current_ward_code() == window.ward_combo.itemData(0)
    assert 24 <= window.model.rowCount() <= 30


def test_keyboard_only_from_the_first_key(tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    assert window.print_ward_button.hasFocus()  # Enter prints the ward pack at once
    seen = []
    for _ in range(8):
        qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Tab)
        seen.append(window.focusWidget())
    assert seen[:5] == [window.print_blank_button, window.clinic_button,
                        window.theatre_button, window.reenter_button, window.export_button]
    assert seen[5:8] == [window.ward_combo, window.search_edit, window.table]
    window.print_ward_button.setFocus()
    qtbot.keyClick(window.print_ward_button, Qt.Key.Key_Return)
    dialog = window.open_dialog
    assert dialog.windowTitle().startswith("Print ward pack — Aneurin Ward")
    qtbot.waitUntil(dialog.isActiveWindow)
    assert dialog.preview_button.isDefault()  # Enter previews
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Escape closes
    assert not dialog.isVisible()
    for button in (window.print_ward_button, window.clinic_button, window.export_button):
        assert button.toolTip()


def test_run_app_shows_the_window_and_returns(tiny_cache: Path) -> None:
    """The real entry point (``paperfallback gui``), in its own process: app.exec() must
    not run inside the test process's shared QApplication."""
    script = textwrap.dedent(f"""
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from paperfallback.cli.context import AppContext
        from paperfallback.ui.app import create_app, run_app
        from paperfallback.ui.main_window import MainWindow
        from paperfallback.ui.theme import BASE_POINT_SIZE

        def close_it():
            shown = [w for w in QApplication.topLevelWidgets()
                     if isinstance(w, MainWindow) and w.isVisible()]
            app = QApplication.instance()
            print(len(shown), shown[0].current_ward_code(),
                  app.font().pointSize() == BASE_POINT_SIZE, flush=True)
            for window in shown:
                window.close()

        create_app()  # the same QApplication run_app will use, so the timer can run
        QTimer.singleShot(300, close_it)
        ctx = AppContext(data_dir_option={str(tiny_cache)!r})
        code = run_app(ctx)
        ctx.close()
        print("exit", code)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "AN", "True", "exit", "0"]


def test_data_of_unknown_age_shows_as_stale_not_fresh(
        tmp_path: Path, make_window: Any) -> None:
    import dataclasses

    folder = tmp_path / "unknown-age"
    folder.mkdir()
    snapshot = dataclasses.replace(tiny_snapshot(now_utc()), as_of_source="import time")
    write_cache(folder, "test-key-not-secret", snapshot)
    window = make_window(folder)
    assert window.cache_banner.level is CacheLevel.STALE
    assert window.cache_banner.headline.text().startswith("DATA AGE UNKNOWN")
    assert "ago" not in window.cache_banner.headline.text()
