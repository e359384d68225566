"""The ward pack dialog adds blank copies of ticked forms at the end of the same print:
the live page count includes them and the register records them only once saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdf
from pf_ui_helpers import open_ward_dialog, register_list
from PySide6.QtCore import Qt

from paperfallback.ui.background import TaskControl
from paperfallback.ui.pack_jobs import PackChoice, render_job
from paperfallback.ui.print_dialog import PrintDialog

KEY = "test-key-not-secret"


def _blank_pages(dialog: PrintDialog, form_id: str) -> int:
    """Pages of one blank copy, rendered the way the Print blank forms dialog does."""
    choice = PackChoice(kind="blank", title="Blank forms", form_ids=(form_id,), blank_count=1)
    pack = render_job(choice, dialog.place, count_only=True)(TaskControl(lambda *_a: None))
    return pack.page_count


def test_ward_pack_with_two_blank_news2_charts(
        tiny_cache: Path, make_window: Any, prompts: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot, timeout_ms=30_000)
    dialog.set_forms(["news2", "mar"])
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    ward_pages = dialog.page_count
    assert ward_pages is not None
    news2_spin = dialog.blank_copy_spins["news2"]
    assert news2_spin.isEnabled() and news2_spin.value() == 0
    assert not dialog.blank_copy_spins["fluid-balance"].isEnabled()  # not ticked

    # Keyboard only: Tab from the forms list into the blank copies, on to NEWS2's.
    dialog.forms_list.setFocus()
    spins = list(dialog.blank_copy_spins.values())
    for _ in range(len(spins) + 1):
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
        assert dialog.focusWidget() in spins  # only the ticked forms' boxes take focus
        if dialog.focusWidget() is news2_spin:
            break
    qtbot.keyClick(news2_spin, Qt.Key.Key_Up)
    qtbot.keyClick(news2_spin, Qt.Key.Key_Up)
    assert news2_spin.value() == 2
    assert dialog.blank_extra() == (("news2", 2),)
    qtbot.waitUntil(lambda: dialog.page_count is not None, timeout=30_000)
    per_chart = _blank_pages(dialog, "news2")
    assert dialog.page_count == ward_pages + 2 * per_chart
    assert f"+ {2 * per_chart} blank at the end" in dialog.count_label.text()
    assert register_list(tiny_cache, KEY) == []  # counting issues nothing

    prompts.save_to = str(tmp_path / "ward pack.pdf")
    qtbot.keyClick(dialog, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: dialog.output is not None and dialog.output.saved_to is not None,
                    timeout=30_000)
    pages = pypdf.PdfReader(tmp_path / "ward pack.pdf").pages
    assert len(pages) == ward_pages + 2 * per_chart == dialog.output.pack.page_count
    issued = register_list(tiny_cache, KEY)
    assert {i.instance_id for i in issued} == {i.instance_id for i in dialog.output.pack.issued}
    blank = [i for i in issued if i.form_id == "news2" and i.patient_id is None]
    assert len(blank) == 2 and len({i.instance_id for i in blank}) == 2
    patients = {i.patient_id for i in issued if i.form_id == "news2" and i.patient_id}
    assert patients == {"p1", "p2", "p3"}  # Aneurin Ward, pre-filled as before
    last_page = pages[-1].extract_text() or ""
    assert blank[-1].instance_id in last_page  # the blank copies come last


def test_unticking_a_form_drops_its_blank_copies(
        tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(tiny_cache)
    dialog = open_ward_dialog(window, qtbot, timeout_ms=30_000)
    dialog.set_forms(["news2", "mar"])
    dialog.set_blank_copies({"news2": 1, "mar": 3})
    assert sorted(dialog.blank_extra()) == [("mar", 3), ("news2", 1)]
    dialog.set_forms(["news2"])
    assert not dialog.blank_copy_spins["mar"].isEnabled()
    assert dialog.blank_extra() == (("news2", 1),)
    assert dialog.choice().blank_extra == (("news2", 1),)
    qtbot.keyClick(dialog, Qt.Key.Key_L, Qt.KeyboardModifier.AltModifier)  # the box's mnemonic
    assert dialog.focusWidget() is dialog.blank_copy_spins["news2"]  # the first ticked one
