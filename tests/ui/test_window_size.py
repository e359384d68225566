"""The main window fits a 1366×768 ward screen and scales down by its layouts (#12.13):
at that size every control, the bottom rows and the "Sent N pages" line are inside the
window; on smaller screens it shrinks instead of running off the bottom of the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QSizeGrip, QWidget

from paperfallback.ui.app import fit_window

SENT = "Sent 149 pages to Ward3-Laser (CUPS job 12)."


def _worst_case(window: Any) -> None:
    """Every optional line at once: a stale banner, a ward problem, NEWS2 flags, a message."""
    window.ward_problem_label.setText("<b>Ward not found.</b> " + "this PC's ward setting "
                                      "'Ward 7' matches no ward in the patient data. " * 2)
    window.ward_problem_label.setVisible(True)
    window.flags_label.setText("! 2 patients on this ward: a paper NEWS2 total differs from "
                               "its keyed values (Ctrl+R)")
    for widget in (window.flags_label, window.review_button):
        widget.setVisible(True)
    window.statusBar().showMessage(SENT)


def _outside(window: Any) -> list[str]:
    """Visible widgets of the window that are not wholly inside it, or are clipped by a
    parent that is not a scroll area (a scroll area shows a scroll bar instead)."""
    bad = []
    inside = window.rect()
    for widget in window.findChildren(QWidget):
        if not widget.isVisible() or widget.isWindow() or isinstance(widget, QSizeGrip):
            continue  # the size grip is the platform's corner handle, not a control
        top_left = widget.mapTo(window, QPoint(0, 0))
        rect = QRect(top_left, widget.size())
        scrolled = any(isinstance(p, QAbstractScrollArea) for p in _parents(widget, window))
        if not inside.contains(rect) and not scrolled:
            bad.append(f"{type(widget).__name__} {widget.objectName()!r} {rect} not in {inside}")
        elif not scrolled and _clipped(widget, window, rect):
            bad.append(f"{type(widget).__name__} {widget.objectName()!r} clipped")
    return bad


def _clipped(widget: QWidget, window: QWidget, rect: QRect) -> bool:
    """Part of ``rect`` (window coordinates) lies outside one of the widget's parents."""
    for parent in _parents(widget, window):
        if not QRect(parent.mapTo(window, QPoint(0, 0)), parent.size()).contains(rect):
            return True
    return False


def _parents(widget: QWidget, top: QWidget) -> list[QWidget]:
    out = []
    parent = widget.parentWidget()
    while parent is not None and parent is not top:
        out.append(parent)
        parent = parent.parentWidget()
    return out


@pytest.mark.parametrize("screen", [(1366, 768), (1280, 800), (1280, 1024), (1920, 1080)])
def test_the_window_fits_the_screen_it_opens_on(
        demo_data_dir: Path, make_window: Any, qtbot: Any, screen: tuple[int, int]) -> None:
    window = make_window(demo_data_dir)
    available = QRect(0, 0, screen[0], screen[1] - 40)  # a Windows taskbar at the bottom
    fit_window(window, available)
    qtbot.wait(10)
    frame = window.frameGeometry()
    assert available.contains(QRect(window.pos(), window.size())), (window.size(), available)
    assert window.width() <= available.width() and window.height() <= available.height() - 30
    assert frame.width() >= min(1280, available.width() - 16)


def test_every_control_is_visible_at_1366x768(
        demo_data_dir: Path, make_window: Any, qtbot: Any) -> None:
    window = make_window(demo_data_dir)
    fit_window(window, QRect(0, 0, 1366, 728))  # 1366×768 less a 40 px taskbar
    window.reload()
    _worst_case(window)
    qtbot.wait(10)
    assert _outside(window) == []
    for widget in (window.print_ward_button, window.print_blank_button, window.clinic_button,
                   window.theatre_button, window.reenter_button, window.export_button,
                   window.ward_combo, window.search_edit, window.count_label,
                   window.ward_problem_label, window.flags_label, window.review_button):
        assert widget.isVisible(), widget
        assert window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))
    bar = window.statusBar()
    assert bar.isVisible() and bar.currentMessage() == SENT
    assert window.rect().contains(QRect(bar.mapTo(window, QPoint(0, 0)), bar.size()))
    assert bar.fontMetrics().horizontalAdvance(SENT) < bar.width()
    rows = window.table.viewport().height() // window.table.verticalHeader().defaultSectionSize()
    assert rows >= 10  # the bottom rows of the list: at least ten patients at a time


@pytest.mark.parametrize("size", [(1093, 574), (1024, 560), (960, 520)])
def test_the_window_scales_down_without_losing_controls(
        demo_data_dir: Path, make_window: Any, qtbot: Any, size: tuple[int, int]) -> None:
    """1366×768 at 125 % display scaling is 1093×614 logical pixels: smaller than the old
    fixed minimum. The window shrinks; what does not fit scrolls, nothing is cut off."""
    window = make_window(demo_data_dir)
    _worst_case(window)
    window.resize(*size)
    qtbot.wait(10)
    assert (window.width(), window.height()) == size
    assert _outside(window) == []
    assert window.statusBar().isVisible()


def test_the_preview_and_settings_fit_the_screen(
        tiny_cache: Path, make_window: Any, qtbot: Any) -> None:
    """Dialogs taller than a 1366×768 work area lost their buttons below the screen edge;
    they open at most as large as the screen they open on (the test screen is 800×800)."""
    from pf_ui_helpers import open_ward_dialog
    from PySide6.QtCore import Qt

    window = make_window(tiny_cache)
    area = window.screen().availableGeometry()
    dialog = open_ward_dialog(window, qtbot)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Preview
    qtbot.waitUntil(lambda: dialog.output is not None
                    and dialog.output.preview_dialog is not None, timeout=30_000)
    preview = dialog.output.preview_dialog
    assert preview.height() <= area.height() - 30 and preview.width() <= area.width()
    preview.close()
    dialog.close()
    window.open_settings()
    settings = window.open_dialog
    assert settings.height() <= area.height() - 30
    assert area.contains(QRect(settings.pos(), settings.size()))
    settings.close()
