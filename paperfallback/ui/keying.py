"""The "Re-enter forms" window: name the clerk, type or scan a form ID, key the paper.

A USB barcode scanner types the QR text and Enter, so the focused ID box opens that form
at once; a mistyped ID is refused by its check character before any lookup. Reopening a
form continues where keying stopped. The reconciliation tab shows what has come back.

``KeyingWindow(ctx)`` takes the app context (data folder, key, cache) like MainWindow.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.formspec import FormCatalogue
from paperfallback.reentry.keying_service import KeyingService, OpenForm
from paperfallback.reentry.model import (
    Discrepancy,
    DiscrepancyKind,
    EntryPass,
    FieldAddress,
)
from paperfallback.reentry.reconciliation import reconcile
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.ward_flags import acknowledge_news2, news2_flag
from paperfallback.register import IssuedForm, Register, pc_code_for
from paperfallback.scan.store import ScanStore
from paperfallback.settings import Settings
from paperfallback.ui.keying_form import (
    FieldEdit,
    FormKeyingWidget,
    remember_clerk,
    remembered_clerk,
)
from paperfallback.ui.scan_pane import ScanPane
from paperfallback.ui.scan_queue import ScanQueueView
from paperfallback.workstore import WorkStore

PASSES = (
    ("First keying", EntryPass.FIRST),
    ("Second keying (blind, double entry)", EntryPass.SECOND),
    ("Resolve differences from the paper", EntryPass.RESOLVED),
)


class KeyingWindow(QWidget):
    """Keying forms back in, and the reconciliation of what came back."""

    def __init__(self, ctx: Any, parent: QWidget | None = None, *,
                 catalogue: FormCatalogue | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PaperFallback — re-enter forms")
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.ctx = ctx
        self.settings = Settings.load(ctx.data_dir)
        key, source = ctx.key
        self._work = WorkStore.open(ctx.data_dir, key, key_source=source)
        self.store = EntriesStore(self._work)
        self.register = Register(self._work, pc_code=pc_code_for(self.settings))
        self.catalogue = catalogue or ctx.catalogue
        self._scans: ScanStore | None = None
        self.service = KeyingService(
            self.store, self.register, self.catalogue,
            window_hours=self.settings.entry_window_hours,
            double_entry_forms=self.settings.double_entry_forms, open_cache=ctx.open_cache)
        self.opened: OpenForm | None = None
        self.form_widget: FormKeyingWidget | None = None

        tabs = QTabWidget(self)
        self.tabs = tabs
        tabs.addTab(self._keying_tab(), "Key a form")
        self.reconciliation = ReconciliationView(self)
        tabs.addTab(self.reconciliation, "Reconciliation")
        self.scan_queue = ScanQueueView(self._scan_stores, self)
        tabs.addTab(self.scan_queue, "Scanned pages")
        tabs.currentChanged.connect(lambda i: i == 2 and self.scan_queue.refresh())
        tabs.currentChanged.connect(lambda i: i == 1 and self.reconciliation.refresh())
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.finish_form)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=self._focus_id)
        self.resize(1200, 800)
        self.clerk_edit.setText(remembered_clerk(ctx.data_dir))
        self.clerk_edit.setFocus()
        self.clerk_edit.selectAll()

    # ---- layout -------------------------------------------------------------------------

    def _keying_tab(self) -> QWidget:
        tab = QWidget(self)
        top = QHBoxLayout()
        self.clerk_edit = QLineEdit(tab)
        self.clerk_edit.setObjectName("clerk")
        self.clerk_edit.setPlaceholderText("Your name (recorded with every value)")
        self.clerk_edit.returnPressed.connect(self._focus_id)
        self.pass_box = QComboBox(tab)
        for text, _pass in PASSES:
            self.pass_box.addItem(text)
        self.id_edit = QLineEdit(tab)
        self.id_edit.setObjectName("formId")
        self.id_edit.setPlaceholderText("Form ID from the paper, or scan its QR code")
        self.id_edit.returnPressed.connect(self.open_typed_id)
        for label, widget in (("Clerk:", self.clerk_edit), ("Keying:", self.pass_box),
                              ("Form ID:", self.id_edit)):
            top.addWidget(QLabel(label, tab))
            top.addWidget(widget, 1)
        self.id_message = QLabel("", tab)
        self.id_message.setObjectName("idMessage")
        self.id_message.setWordWrap(True)
        self.form_title = QLabel("", tab)
        self.form_title.setObjectName("formTitle")
        self.form_title.setStyleSheet("font-weight: bold; font-size: 13pt;")
        self.scroll = QScrollArea(tab)
        self.scroll.setWidgetResizable(True)
        bottom = QHBoxLayout()
        self.finish_button = QPushButton("Finish this form (Ctrl+Enter)", tab)
        self.finish_button.clicked.connect(self.finish_form)
        self.finish_button.setEnabled(False)
        self.status_label = QLabel("", tab)
        self.status_label.setObjectName("formStatus")
        self.status_label.setWordWrap(True)
        self.same_patient_button = QPushButton("It is this &patient", tab)
        self.same_patient_button.clicked.connect(lambda: self.confirm_patient(True))
        self.other_patient_button = QPushButton("&Not this patient (new downtime patient)", tab)
        self.other_patient_button.clicked.connect(lambda: self.confirm_patient(False))
        for button in (self.same_patient_button, self.other_patient_button):
            button.setVisible(False)
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.same_patient_button)
        bottom.addWidget(self.other_patient_button)
        bottom.addWidget(self.finish_button)
        help_text = QLabel(
            "Tab or Enter: next field.  ? or F7: illegible.  - or F8: not recorded.  "
            "Choices: the printed code or its first letter.  Ctrl+L: another form.", tab)
        help_text.setWordWrap(True)
        column = QVBoxLayout(tab)
        column.addLayout(top)
        column.addWidget(self.id_message)
        column.addWidget(self.form_title)
        # The returned page beside the fields, zoomed to the column keyed (scan-back):
        # the clerk keys from the screen and the paper can go to medical records.
        self.scan_pane = ScanPane(tab)
        self.scan_pane.setObjectName("scanPane")
        split = QSplitter(Qt.Orientation.Horizontal, tab)
        split.addWidget(self.scroll)
        split.addWidget(self.scan_pane)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        column.addWidget(split, 1)
        column.addLayout(bottom)
        column.addWidget(help_text)
        return tab

    def _focus_id(self) -> None:
        self.id_edit.setFocus()
        self.id_edit.selectAll()

    @property
    def entry_pass(self) -> EntryPass:
        return PASSES[self.pass_box.currentIndex()][1]

    def double_entry_forms(self) -> list[str]:
        return list(self.settings.double_entry_forms)

    @property
    def session(self) -> KeyingSession | None:
        return self.opened.session if self.opened is not None else None

    @property
    def issued(self) -> IssuedForm | None:
        return self.opened.issued if self.opened is not None else None

    # ---- opening a form -------------------------------------------------------------------

    def open_typed_id(self) -> bool:
        """Open the form whose ID was typed or scanned; False with a message if not."""
        clerk = self.clerk_edit.text().strip()
        if not clerk:
            self.id_message.setText("Type your name first: every value records who keyed it.")
            self.clerk_edit.setFocus()
            return False
        try:
            opened = self.service.open(self.id_edit.text(), clerk, self.entry_pass)
        except PaperFallbackError as exc:
            self.id_message.setStyleSheet("color: #B3000C; font-weight: bold;")
            self.id_message.setText(str(exc))
            self.id_edit.selectAll()
            return False
        remember_clerk(self.ctx.data_dir, clerk)
        self.show_form(opened)
        return True

    def open_form(self, issued: IssuedForm, clerk: str) -> FormKeyingWidget:
        """Open an issued form for the chosen pass (the service checks who may)."""
        return self.show_form(self.service.open(issued, clerk, self.entry_pass))

    def show_form(self, opened: OpenForm) -> FormKeyingWidget:
        """Show what the service opened: values, editable fields and hints as it says."""
        widget = FormKeyingWidget(opened)
        widget.changed.connect(self._update_status)
        widget.field_entered.connect(lambda edit: self.scroll.ensureWidgetVisible(edit, 60, 40))
        widget.field_entered.connect(self._follow_scan)
        old = self.scroll.takeWidget()
        if isinstance(old, FormKeyingWidget):
            old.closed = True
        if old is not None:
            old.deleteLater()
        self.scroll.setWidget(widget)
        self.opened, self.form_widget = opened, widget
        for button in (self.same_patient_button, self.other_patient_button):
            button.setVisible(False)
        self.form_title.setText(opened.title())
        self.id_message.setStyleSheet("color: #006747;")
        self.id_message.setText(opened.opened_message())
        self.finish_button.setEnabled(True)
        self._update_status()
        widget.focus_resume_point()
        return widget

    def _scan_stores(self) -> tuple[Any, ScanStore]:
        if self._scans is None:
            self._scans = ScanStore(self.service.register.work)
        return self.service.register, self._scans

    def _follow_scan(self, edit: Any) -> None:
        _register, scans = self._scan_stores()
        self.scan_pane.follow(self.issued, scans, edit.section.id, edit.index, edit.spec.id,
                              edit.section.index_label(edit.index) or edit.spec.label)

    # ---- finishing ----------------------------------------------------------------------

    def finish_form(self) -> None:
        if self.opened is None or self.form_widget is None:
            return
        widget = self.form_widget
        focused = widget.focusWidget()
        if isinstance(focused, FieldEdit):
            widget.commit(focused)
        bad = widget.invalid_fields()
        if bad:
            self.status_label.setText(f"{len(bad)} field(s) still have a problem: fix them or "
                                      "mark them illegible (?) first.")
            bad[0].setFocus()
            return
        try:
            finished = self.opened.finish()
        except PaperFallbackError as exc:
            self.status_label.setText(str(exc))
            return
        self.status_label.setText(finished.message)
        if finished.missing and not finished.done:
            edit = widget.edits.get(finished.missing[0])
            if edit is not None and edit.focusPolicy() != Qt.FocusPolicy.NoFocus:
                edit.setFocus()
            return
        if finished.patient:
            self.form_title.setText(self.form_title.text() + f" — patient: {finished.patient}")
        if finished.to_confirm:
            # A name-only match: the clerk checks the paper and says (#13 item 8).
            for button in (self.same_patient_button, self.other_patient_button):
                button.setVisible(True)
            self.same_patient_button.setFocus()
            return
        if finished.done:
            self._focus_id()

    def confirm_patient(self, same: bool) -> None:
        """The clerk's answer to 'is it the same person?' for a name-only match."""
        if self.opened is None:
            return
        try:
            message = self.opened.confirm_patient(same)
        except PaperFallbackError as exc:
            self.status_label.setText(str(exc))
            return
        for button in (self.same_patient_button, self.other_patient_button):
            button.setVisible(False)
        self.status_label.setText(message + " Scan or type the next form ID.")
        self._focus_id()

    def open_from_list(self, instance_id: str) -> None:
        """Reconciliation: open the chosen form on the keying tab (the clerk's pass)."""
        self.tabs.setCurrentIndex(0)
        self.id_edit.setText(instance_id)
        if self.open_typed_id():
            return
        self.id_edit.setFocus()

    def _update_status(self) -> None:
        if self.opened is not None:
            self.status_label.setText(self.opened.status_text())

    def closeEvent(self, event: Any) -> None:
        if self.form_widget is not None:
            focused = self.form_widget.focusWidget()
            if isinstance(focused, FieldEdit):
                self.form_widget.commit(focused)
            self.form_widget.closed = True
        self._work.close()
        super().closeEvent(event)

    def field(self, section: str, index: int, field_id: str) -> FieldEdit:
        """The edit box of one field of the open form (tests, benchmarks)."""
        assert self.opened is not None and self.form_widget is not None
        return self.form_widget.edits[FieldAddress(self.opened.instance_id, section,
                                                   index, field_id)]


def paper_back(returned: set[int], pages: int) -> str:
    """The chain of custody in one cell: which scanned pages have come back."""
    if not returned:
        return "not scanned"
    missing = [str(p) for p in range(1, pages + 1) if p not in returned]
    return f"{len(returned)}/{pages}" + (f" (page {', '.join(missing)} missing)" if missing
                                         else "")


class ReconciliationView(QWidget):
    """Printed / keyed / verified / exported per form, and the open discrepancies."""

    def __init__(self, window: KeyingWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.summary = QLabel("", self)
        self.summary.setObjectName("reconciliationSummary")
        self.summary.setWordWrap(True)
        self.instances = QTableWidget(0, 7, self)
        self.instances.setHorizontalHeaderLabels(
            ["Form ID", "Form", "Ward / list", "Patient", "Printed", "Status", "Paper back"])
        self.instances.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.instances.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.instances.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.instances.setTabKeyNavigation(False)
        self.instances.setToolTip("Enter or double-click: key this form")
        self.instances.activated.connect(lambda index: self.open_row(index.row()))
        self.instances.installEventFilter(self)
        self.discrepancies = QTableWidget(0, 4, self)
        self.discrepancies.setHorizontalHeaderLabels(["Form ID", "Where", "Kind", "What"])
        self.discrepancies.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.discrepancies.installEventFilter(self)
        self.discrepancies.activated.connect(lambda index: self.open_discrepancy(index.row()))
        for table in (self.instances, self.discrepancies):
            table.horizontalHeader().setStretchLastSection(True)
            table.setWordWrap(False)
        self.discrepancies.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.discrepancies.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.discrepancies.setTabKeyNavigation(False)
        self.discrepancies.itemSelectionChanged.connect(self._enable_review)
        self.open_items: list[Discrepancy] = []
        self.instance_ids: list[str] = []
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.refresh)
        self.review_button = QPushButton("&Record NEWS2 review… (Ctrl+R)", self)
        self.review_button.setToolTip(
            "For a NEWS2 total flag: record who reviewed it with the ward and what was done. "
            "Double-entry differences are resolved from the paper on the keying tab.")
        self.review_button.clicked.connect(self.review_selected)
        self.review_button.setEnabled(False)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.review_selected)
        self.review_dialog: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.instances, 2)
        layout.addWidget(QLabel("Open discrepancies (for the clerk and the ward):", self))
        layout.addWidget(self.discrepancies, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.review_button)
        buttons.addStretch(1)
        buttons.addWidget(refresh)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        w = self.window_
        report = reconcile(w.register.list(), w.store, double_entry_forms=w.double_entry_forms())
        backlog = report.backlog()
        counts = report.counts()
        self.summary.setText(
            f"{backlog['total']} form(s): " + ", ".join(f"{v} {k}" for k, v in counts.items())
            + f". Not come back yet: {len(report.not_returned())}. "
            f"Done: {backlog['done_share']:.0%}.")
        self.instances.setRowCount(len(report.instances))
        _register, scans = w._scan_stores()
        returned = scans.returned_pages()
        pages = {i.instance_id: i.page_count for i in w.register.list()}
        for row, line in enumerate(report.instances):
            back = paper_back(returned.get(line.instance_id, set()),
                              pages.get(line.instance_id, 0))
            for col, text in enumerate((line.instance_id, line.form_id, line.ward, line.patient,
                                        line.printed_at, line.status.value, back)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.instances.setItem(row, col, item)
        self.instance_ids = [line.instance_id for line in report.instances]
        self.open_items = list(report.discrepancies)
        self.discrepancies.setRowCount(len(report.discrepancies))
        for row, d in enumerate(report.discrepancies):
            where = f"{d.address.section} {d.address.index + 1} {d.address.field_id}"
            for col, text in enumerate((d.address.instance_id, where, d.kind.value,
                                        d.describe())):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.discrepancies.setItem(row, col, item)
        # Columns as wide as their text: nothing a clerk needs is cut off.
        for table in (self.instances, self.discrepancies):
            table.resizeColumnsToContents()
        self._enable_review()

    def eventFilter(self, watched: Any, event: Any) -> bool:
        """Enter on a row opens it (Qt's 'activated' is platform-dependent for Enter)."""
        if event.type() == QEvent.Type.KeyPress and event.key() in (
                Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if watched is self.instances and self.instances.currentRow() >= 0:
                self.open_row(self.instances.currentRow())
                return True
            if watched is self.discrepancies and self.discrepancies.currentRow() >= 0:
                self.open_discrepancy(self.discrepancies.currentRow())
                return True
        return bool(super().eventFilter(watched, event))

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.instance_ids):
            self.window_.open_from_list(self.instance_ids[row])

    def open_discrepancy(self, row: int) -> None:
        if 0 <= row < len(self.open_items):
            self.window_.open_from_list(self.open_items[row].address.instance_id)

    def selected_discrepancy(self) -> Discrepancy | None:
        rows = self.discrepancies.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.open_items):
            return None
        return self.open_items[rows[0].row()]

    def _enable_review(self) -> None:
        chosen = self.selected_discrepancy()
        self.review_button.setEnabled(
            chosen is not None and chosen.kind is DiscrepancyKind.NEWS2_TOTAL)

    def review_selected(self) -> None:
        """Record the review of the selected NEWS2 flag (the ward's ! mark goes)."""
        chosen = self.selected_discrepancy()
        if chosen is None or chosen.kind is not DiscrepancyKind.NEWS2_TOTAL:
            return
        from paperfallback.ui.news2_review import News2ReviewDialog

        store = self.window_.store
        flag = news2_flag(store, chosen)

        def acknowledge(discrepancy_id: int, by: str, note: str) -> None:
            acknowledge_news2(store, discrepancy_id, by=by, note=note)

        dialog = News2ReviewDialog(self, [flag], patient=f"form {flag.instance_id}",
                                   acknowledge=acknowledge,
                                   reviewer=self.window_.clerk_edit.text().strip())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.finished.connect(lambda _r: self.refresh())
        self.review_dialog = dialog
        dialog.show()
