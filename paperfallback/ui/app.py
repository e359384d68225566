"""Start the desktop app: ``run_app(ctx)`` is what ``paperfallback gui`` calls."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from paperfallback.ui.context import AppContextLike
from paperfallback.ui.main_window import MainWindow
from paperfallback.ui.screen_fit import fit_window
from paperfallback.ui.theme import apply_theme

__all__ = ["create_app", "fit_window", "run_app"]


def create_app() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("PaperFallback")
    app.setApplicationDisplayName("PaperFallback — downtime copy")
    apply_theme(app)
    return app


def run_app(ctx: AppContextLike) -> int:
    """Show the main window on this PC's ward and run until it is closed."""
    app = create_app()
    window = MainWindow(ctx)
    fit_window(window)
    window.show()
    return int(app.exec())
