"""Look and feel for a ward PC: large type, strong contrast, and one colour that says
"downtime copy" everywhere so the app is never mistaken for the live EPR."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BASE_POINT_SIZE = 11

# NHS identity colours (NHS England colour guidance); the downtime yellow is deliberately
# unlike any EPR screen.
DOWNTIME_YELLOW = "#FFB81C"
DOWNTIME_INK = "#000000"
FRESH_BLUE = "#003087"
STALE_RED = "#B3000C"
NO_DATA_GREY = "#425563"
ALLERGY_RED = "#8A1538"
WARN_AMBER = "#FFE08A"
NEWS2_MEDIUM = "#ED8B00"
NEWS2_HIGH = "#DA291C"

STYLESHEET = f"""
QWidget {{ font-size: {BASE_POINT_SIZE}pt; }}
QPushButton {{ padding: 6px 12px; }}
QPushButton[primary="true"] {{
    font-size: {BASE_POINT_SIZE + 2}pt; font-weight: bold; min-height: 52px;
    padding: 6px 14px; text-align: left;
    background: #F0F4F5; border: 2px solid #425563; border-radius: 6px;
}}
QPushButton[primary="true"]:focus {{ border: 3px solid #005EB8; background: #E8EDEE; }}
QPushButton[primary="true"]:hover {{ background: #E8EDEE; }}
QPushButton[primary="true"]:disabled {{ color: #768692; border-color: #AEB7BD; }}
QPushButton[default="true"] {{ font-weight: bold; }}
QLabel#downtimeBanner {{
    background: {DOWNTIME_YELLOW}; color: {DOWNTIME_INK}; font-weight: bold;
    font-size: {BASE_POINT_SIZE + 1}pt; padding: 6px 10px;
}}
QFrame#cacheBanner[level="fresh"] {{ background: {FRESH_BLUE}; }}
QFrame#cacheBanner[level="stale"] {{ background: {STALE_RED}; border: 4px solid #000000; }}
QFrame#cacheBanner[level="none"] {{ background: {NO_DATA_GREY}; }}
QFrame#cacheBanner[level="problem"] {{ background: {STALE_RED}; }}
QFrame#cacheBanner QLabel {{ color: white; }}
QLabel#cacheHeadline {{ font-size: {BASE_POINT_SIZE + 3}pt; font-weight: bold; }}
QFrame#cacheBanner[level="stale"] QLabel#cacheHeadline {{ font-size: {BASE_POINT_SIZE + 7}pt; }}
QLabel#pageTitle {{ font-size: {BASE_POINT_SIZE + 6}pt; font-weight: bold; }}
QLabel#problemText {{ font-size: {BASE_POINT_SIZE + 1}pt; }}
QFrame#problemBox {{ border: 3px solid {STALE_RED}; background: #FFF5F5; }}
QTableView {{ gridline-color: #AEB7BD; selection-background-color: #005EB8;
             selection-color: white; }}
QHeaderView::section {{ font-weight: bold; padding: 4px; background: #E8EDEE;
                        border: 1px solid #AEB7BD; }}
QLineEdit, QComboBox, QSpinBox {{ min-height: 30px; }}
QProgressBar {{ min-height: 24px; }}
"""


def apply_theme(app: QApplication) -> None:
    """Fusion style with a light, high-contrast palette and a readable base font."""
    app.setStyle("Fusion")
    font = QFont(app.font())
    font.setPointSize(BASE_POINT_SIZE)
    app.setFont(font)
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#FFFFFF"))
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#212B32"))
    palette.setColor(QPalette.ColorRole.Base, QColor("#FFFFFF"))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#F0F4F5"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#212B32"))
    palette.setColor(QPalette.ColorRole.Button, QColor("#F0F4F5"))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor("#212B32"))
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#005EB8"))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#FFFFFF"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor("#FFFFE0"))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor("#000000"))
    app.setPalette(palette)
    app.setStyleSheet(STYLESHEET)
