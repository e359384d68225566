"""The main window's widgets: banners, the big action buttons, the three pages and the menus.

Only construction lives here (what is on screen and in which order); what the widgets do
lives in ``main_window`` (state, ward list, actions) and ``cache_jobs`` (demo and import).
Split from ``main_window`` to keep each module one idea and under 600 lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from paperfallback.ui import theme
from paperfallback.ui.banners import CacheStatusBanner, DowntimeBanner
from paperfallback.ui.patient_model import Column, PatientTableModel


class ActionButton(QPushButton):
    """A big action button that Enter presses too (outside dialogs Qt only uses Space)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            self.click()
            return
        super().keyPressEvent(event)


class MainWindowLayout(QMainWindow):
    """Builds the main window's widgets; ``MainWindow`` adds the behaviour behind them."""

    def _build(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 8)
        outer.setSpacing(0)
        self.downtime_banner = DowntimeBanner(central)
        self.cache_banner = CacheStatusBanner(central)
        outer.addWidget(self.downtime_banner)
        outer.addWidget(self.cache_banner)

        body = QHBoxLayout()
        body.setContentsMargins(10, 10, 10, 0)
        body.setSpacing(12)
        outer.addLayout(body, 1)
        body.addWidget(self._build_actions_area(central))
        self.pages = QStackedWidget(central)
        self.ward_page = self._build_ward_page()
        self.first_run_page = self._build_first_run_page()
        self.problem_page = self._build_problem_page()
        for page in (self.ward_page, self.first_run_page, self.problem_page):
            self.pages.addWidget(page)
        body.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        order = [self.print_ward_button, self.print_blank_button, self.clinic_button,
                 self.theatre_button, self.reenter_button, self.export_button,
                 self.ward_combo, self.search_edit, self.table, self.review_button]
        for first, second in itertools.pairwise(order):
            self.setTabOrder(first, second)
        self.print_ward_button.setFocus()

    def _action_button(self, text: str, shortcut: str, tip: str,
                       slot: Callable[[], Any]) -> QPushButton:
        button = ActionButton(text, self)
        button.setProperty("primary", True)
        button.setToolTip(f"{tip}  ({QKeySequence(shortcut).toString()})")
        button.setAccessibleDescription(tip)
        button.setMinimumWidth(240)
        button.clicked.connect(slot)
        QShortcut(QKeySequence(shortcut), self, activated=button.click)
        return button

    def _build_actions_area(self, parent: QWidget) -> QScrollArea:
        """The action buttons in a frameless scroll area: on a short screen (1366×768 at
        125 % scaling) the window shrinks and this column scrolls, instead of the window
        running off the bottom of the screen with its status line."""
        actions = QWidget(parent)
        actions.setLayout(self._build_actions())
        area = QScrollArea(parent)
        area.setObjectName("actionsArea")
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setWidgetResizable(True)
        area.setWidget(actions)
        area.setMinimumWidth(actions.minimumSizeHint().width()
                             + area.verticalScrollBar().sizeHint().width())
        area.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.actions_area = area
        return area

    def _build_actions(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setSpacing(10)
        self.print_ward_button = self._action_button(
            "Print ward pack", "Ctrl+P",
            "Print the paper forms for every patient on this ward (or the ones you selected), "
            "filled in from the downtime copy.", self.open_print_ward_pack)
        self.print_blank_button = self._action_button(
            "Print blank forms", "Ctrl+B",
            "Print empty forms to fill in by hand, for example for new admissions.",
            self.open_print_blank)
        self.clinic_button = self._action_button(
            "Clinic lists", "Ctrl+L",
            "Print an outpatient clinic list for a chosen clinic and day, with phone numbers.",
            self.open_clinic_lists)
        self.theatre_button = self._action_button(
            "Theatre lists", "Ctrl+T",
            "Print a theatre list for a chosen theatre and day.", self.open_theatre_lists)
        self.reenter_button = self._action_button(
            "Re-enter forms", "Ctrl+E",
            "After the outage: type the handwritten paper forms back in.", self.open_reentry)
        self.export_button = self._action_button(
            "Export for re-import", "Ctrl+Shift+E",
            "After the outage: write the re-entered forms to a file the EPR can import.",
            self.open_export)
        for button in (self.print_ward_button, self.print_blank_button, self.clinic_button,
                       self.theatre_button):
            column.addWidget(button)
        separator = QFrame(self)
        separator.setFrameShape(QFrame.Shape.HLine)
        column.addWidget(separator)
        column.addWidget(QLabel("<b>When the EPR is back</b>", self))
        column.addWidget(self.reenter_button)
        column.addWidget(self.export_button)
        column.addStretch(1)
        return column

    def _build_ward_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        controls = QHBoxLayout()
        ward_label = QLabel("&Ward:", page)
        self.ward_combo = QComboBox(page)
        self.ward_combo.setMinimumWidth(220)
        self.ward_combo.setPlaceholderText("Choose a ward…")
        self.ward_combo.setToolTip("Choose which ward's patients to list, or all patients.")
        ward_label.setBuddy(self.ward_combo)
        search_label = QLabel("&Search:", page)
        self.search_edit = QLineEdit(page)
        self.search_edit.setPlaceholderText("Name, NHS number or hospital number  (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip(
            "Type the start of a surname or first name, an NHS number or a hospital number. "
            "Press Escape to clear.")
        search_label.setBuddy(self.search_edit)
        self.count_label = QLabel(page)
        controls.addWidget(ward_label)
        controls.addWidget(self.ward_combo)
        controls.addSpacing(16)
        controls.addWidget(search_label)
        controls.addWidget(self.search_edit, 1)
        controls.addWidget(self.count_label)
        layout.addLayout(controls)
        self.ward_problem_label = QLabel(page)
        self.ward_problem_label.setObjectName("wardProblem")
        self.ward_problem_label.setWordWrap(True)
        self.ward_problem_label.setTextFormat(Qt.TextFormat.RichText)
        self.ward_problem_label.setStyleSheet(
            f"background: {theme.STALE_RED}; color: white; padding: 6px;")
        self.ward_problem_label.setVisible(False)
        layout.addWidget(self.ward_problem_label)

        self.model = PatientTableModel()
        self.table = QTableView(page)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        for column, width in ((Column.WARD, 110), (Column.BED, 66), (Column.NAME, 280),
                              (Column.NHS, 122), (Column.AGE, 46), (Column.ALLERGIES, 180),
                              (Column.ALERTS, 180), (Column.NEWS2, 126)):
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(Column.ALERTS, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip(
            "Patients in the downtime copy. Select patients (Shift/Ctrl + arrows) and press "
            "Ctrl+P to print their forms, or press Enter on one patient.")
        self.table.activated.connect(
            lambda _index: self.open_print_ward_pack(prefer_selected=True))
        layout.addWidget(self.table, 1)

        flags_row = QHBoxLayout()
        self.flags_label = QLabel(page)
        self.flags_label.setObjectName("news2FlagsLabel")
        self.flags_label.setWordWrap(True)
        self.flags_label.setStyleSheet(
            f"background: {theme.WARN_AMBER}; color: black; font-weight: bold; padding: 4px;")
        self.review_button = QPushButton("&Review NEWS2 flag…", page)
        self.review_button.setToolTip(
            "A paper NEWS2 total differs from the score of the values keyed from it: review "
            "the patient and the chart, then record your name and a note  (Ctrl+R)")
        self.review_button.clicked.connect(self.open_news2_review)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.open_news2_review)
        flags_row.addWidget(self.flags_label, 1)
        flags_row.addWidget(self.review_button)
        layout.addLayout(flags_row)
        for widget in (self.flags_label, self.review_button):
            widget.setVisible(False)

        self.ward_combo.currentIndexChanged.connect(self._ward_changed)
        self.search_edit.textChanged.connect(self._apply_search)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.focus_search)
        QShortcut(QKeySequence("Escape"), self.search_edit, activated=self.search_edit.clear)
        self.search_edit.returnPressed.connect(self._search_enter)
        return page

    def _build_first_run_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        title = QLabel("This PC has no patient data yet", page)
        title.setObjectName("pageTitle")
        text = QLabel(
            "PaperFallback keeps a copy of the ward's patients from the EPR so that you can "
            "print filled-in paper forms when the EPR is down. IT normally sets this up and "
            "the copy is refreshed automatically.<br><br>"
            "<b>Now:</b> you can still print <b>blank forms</b> (left).<br>"
            "<b>To try the app:</b> load the demo hospital (made-up patients only).<br>"
            "<b>To load real data:</b> import an extract file or folder from the EPR.",
            page)
        text.setObjectName("problemText")
        text.setWordWrap(True)
        buttons = QHBoxLayout()
        self.load_demo_button = QPushButton("Load &demo hospital", page)
        self.load_demo_button.setToolTip(
            "Fill this PC with a made-up demo hospital to practise. Replaces any data here.")
        self.load_demo_button.clicked.connect(self.load_demo)
        self.import_button = QPushButton("&Import extract…", page)
        self.import_button.setToolTip("Choose the EPR extract files (FHIR JSON, NDJSON, CSV "
                                      "or xlsx) to copy onto this PC.")
        self.import_button.clicked.connect(lambda: self.import_extract(folder=False))
        for button in (self.load_demo_button, self.import_button):
            button.setMinimumHeight(44)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.first_run_progress = QLabel(page)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addLayout(buttons)
        layout.addWidget(self.first_run_progress)
        layout.addStretch(1)
        return page

    def _build_problem_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        box = QFrame(page)
        box.setObjectName("problemBox")
        inner = QVBoxLayout(box)
        self.problem_title = QLabel(box)
        self.problem_title.setObjectName("pageTitle")
        self.problem_text = QLabel(box)
        self.problem_text.setObjectName("problemText")
        self.problem_text.setWordWrap(True)
        self.problem_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        inner.addWidget(self.problem_title)
        inner.addWidget(self.problem_text)
        layout.addWidget(box)
        layout.addStretch(1)
        return page

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, slot in (
            ("Import extract &files…", lambda: self.import_extract(folder=False)),
            ("Import extract f&older…", lambda: self.import_extract(folder=True)),
            ("Load &demo hospital", self.load_demo),
        ):
            action = QAction(text, self)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        tools = self.menuBar().addMenu("&Tools")
        self.settings_action = QAction("Settings for &IT staff…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+Alt+S"))
        self.settings_action.setToolTip("For IT staff: ward, printer, forms and data folder.")
        self.settings_action.triggered.connect(self.open_settings)
        tools.addAction(self.settings_action)
        self.addAction(self.settings_action)
