"""The ward setting in the app (#12.9): a setting that matches no ward is shown before
anything prints and never opens another ward; ``"ward": ""`` lists all wards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pf_ui_helpers import register_list
from PySide6.QtCore import Qt

from paperfallback.cache.ward_summary import ALL_WARDS
from paperfallback.settings import Settings
from paperfallback.ui.print_dialog import PrintDialog

KEY = "test-key-not-secret"


def test_unmatched_ward_setting_is_shown_and_nothing_prints(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache, settings=Settings(ward="Aneurin"))  # not a full name
    problem = window.ward_problem_label
    assert problem.isVisible()
    text = problem.text()
    assert "'Aneurin'" in text  # which ward is configured
    assert "Aneurin Ward (AN)" in text and "Bevan Ward (BV)" in text  # what the cache has
    assert window.ward_combo.currentIndex() == -1  # no ward chosen for the nurse
    assert window.model.rowCount() == 0
    assert not window.print_ward_button.isEnabled()
    assert "Choose" in window.count_label.text()

    # The nurse's usual keys: Ctrl+P (print ward pack), Ctrl+P (Print…), Enter.
    for key, mods in ((Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier),
                      (Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier),
                      (Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier)):
        qtbot.keyClick(window.focusWidget() or window, key, mods)
    assert not isinstance(getattr(window, "open_dialog", None), PrintDialog)
    assert prompts.kinds("printer") == []
    assert register_list(tiny_cache, KEY) == []

    # Choosing the ward by hand lists it and allows printing; the warning stays.
    window.ward_combo.setCurrentIndex(window.ward_combo.findData("AN"))
    assert window.model.rowCount() == 3
    assert window.print_ward_button.isEnabled()
    assert problem.isVisible()
    window.reload()  # the 30-second check keeps the nurse's choice
    assert window.current_ward_code() == "AN"


def test_empty_ward_setting_lists_all_wards(tiny_cache: Path, make_window: Any) -> None:
    window = make_window(tiny_cache, settings=Settings(ward=""))
    assert window.current_ward_code() == ALL_WARDS
    assert window.ward_combo.currentText() == "All patients"
    assert window.model.rowCount() == 5
    assert not window.ward_problem_label.isVisible()


def test_a_ward_gone_from_a_new_extract_is_not_replaced_by_another(
        tiny_cache: Path, make_window: Any) -> None:
    from datetime import timedelta

    from pf_ui_helpers import now_utc, tiny_snapshot, write_cache

    from paperfallback.domain.records import Ward

    window = make_window(tiny_cache, settings=Settings(ward="BV"))
    assert window.current_ward_code() == "BV"
    snapshot = tiny_snapshot(now_utc() - timedelta(minutes=5))
    only_an = type(snapshot)(**{**{f: getattr(snapshot, f) for f in snapshot.__dataclass_fields__},
                                "wards": (Ward("AN", "Aneurin Ward"),),
                                "stays": tuple(s for s in snapshot.stays if s.ward_code == "AN")})
    write_cache(tiny_cache, KEY, only_an)
    window.reload()
    assert window.ward_combo.currentIndex() == -1
    assert not window.print_ward_button.isEnabled()
    assert "'BV'" in window.ward_problem_label.text()
