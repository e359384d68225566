"""Start the desktop app: ``run_app(ctx)`` is what ``paperfallback gui`` calls."""

from __future__ import annotations

import sys

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QApplication, QWidget

from paperfallback.ui.context import AppContextLike
from paperfallback.ui.main_window import MainWindow
from paperfallback.ui.theme import apply_theme

PREFERRED_SIZE = QSize(1280, 800)
# Window frame outside the client area: borders, and the title bar (about 31 px on
# Windows 10/11 at 100 %), so the whole window, frame included, stays on the screen.
FRAME_ALLOWANCE = QSize(16, 40)


def create_app() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("PaperFallback")
    app.setApplicationDisplayName("PaperFallback — downtime copy")
    apply_theme(app)
    return app


def fit_window(window: QWidget, available: QRect | None = None) -> None:
    """Size the window for the screen it opens on: the preferred size where it fits, else
    the screen's work area (less the taskbar and room for the title bar), so a 1366×768
    ward screen shows the bottom rows and the status line. The layouts do the rest."""
    area = available if available is not None else window.screen().availableGeometry()
    width = min(PREFERRED_SIZE.width(), area.width() - FRAME_ALLOWANCE.width())
    height = min(PREFERRED_SIZE.height(), area.height() - FRAME_ALLOWANCE.height())
    window.resize(max(width, 1), max(height, 1))
    window.move(area.left() + (area.width() - window.width()) // 2,
                area.top() + max(0, (area.height() - FRAME_ALLOWANCE.height()
                                     - window.height()) // 2))


def run_app(ctx: AppContextLike) -> int:
    """Show the main window on this PC's ward and run until it is closed."""
    app = create_app()
    window = MainWindow(ctx)
    fit_window(window)
    window.show()
    return int(app.exec())
