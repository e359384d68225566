"""Open windows at a size that fits the screen they open on.

A ward PC is often a 1366×768 screen (less a 40 px taskbar), sometimes with 125 % display
scaling: a window opened at a fixed size taller than the work area loses its bottom rows
and its status line ("Sent N pages", "NOT PRINTED") below the screen edge.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QWidget

PREFERRED_SIZE = QSize(1280, 800)  # the main window where the screen allows it
# Window frame outside the client area: borders, and the title bar (about 31 px on
# Windows 10/11 at 100 %), so the whole window, frame included, stays on the screen.
FRAME_ALLOWANCE = QSize(16, 40)


def fit_window(window: QWidget, available: QRect | None = None,
               preferred: QSize = PREFERRED_SIZE) -> None:
    """Size ``window`` to ``preferred`` where the screen's work area allows it, else to the
    work area less the frame, and centre it there. The layouts do the rest."""
    area = available if available is not None else window.screen().availableGeometry()
    width = min(preferred.width(), area.width() - FRAME_ALLOWANCE.width())
    height = min(preferred.height(), area.height() - FRAME_ALLOWANCE.height())
    window.resize(max(width, 1), max(height, 1))
    window.move(area.left() + (area.width() - window.width()) // 2,
                area.top() + max(0, (area.height() - FRAME_ALLOWANCE.height()
                                     - window.height()) // 2))
