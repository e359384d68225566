"""The "Re-enter forms" window: name the clerk, type or scan a form ID, key the paper.

A USB barcode scanner types the QR text and Enter, so the focused ID box opens that form
at once; a mistyped ID is refused by its check character before any lookup. Reopening a
form continues where keying stopped. The reconciliation tab shows what has come back.

``KeyingWindow(ctx)`` takes the app context (data folder, key, cache) like MainWindow.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from paperfallback.cache.work_db import open_work_db
from paperfallback.domain.errors import PaperFallbackError
from paperfallback.formspec import FormCatalogue
from paperfallback.reentry.layout import PATIENT_SECTION
from paperfallback.reentry.model import (
    Discrepancy,
    DiscrepancyKind,
    EntryPass,
    EntryState,
    FieldAddress,
)
from paperfallback.reentry.printed import find_issued, is_blank_copy, issued_layout
from paperfallback.reentry.reconciliation import reconcile
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.reentry.ward_flags import acknowledge_news2, news2_flag
from paperfallback.reentry.workflow import (
    double_entry_required,
    finish_pass,
    resolve,
)
from paperfallback.register import IssuedForm, Register, pc_code_for
from paperfallback.settings import Settings
from paperfallback.ui.keying_form import FieldEdit, FormKeyingWidget

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
        self._conn = open_work_db(ctx.data_dir, key, key_source=source)
        self.store = EntriesStore(self._conn)
        self.register = Register(self._conn, pc_code=pc_code_for(self.settings))
        self.catalogue = catalogue or ctx.catalogue
        self.session: KeyingSession | None = None
        self.form_widget: FormKeyingWidget | None = None
        self.issued: IssuedForm | None = None
        self._warned_missing: str | None = None  # instance already warned about blanks

        tabs = QTabWidget(self)
        self.tabs = tabs
        tabs.addTab(self._keying_tab(), "Key a form")
        self.reconciliation = ReconciliationView(self)
        tabs.addTab(self.reconciliation, "Reconciliation")
        tabs.currentChanged.connect(lambda i: i == 1 and self.reconciliation.refresh())
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.finish_form)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=self._focus_id)
        self.resize(1200, 800)
        self.clerk_edit.setFocus()

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
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.finish_button)
        help_text = QLabel(
            "Tab or Enter: next field.  ? or F7: illegible.  - or F8: not recorded.  "
            "Choices: the printed code or its first letter.  Ctrl+L: another form.", tab)
        help_text.setWordWrap(True)
        column = QVBoxLayout(tab)
        column.addLayout(top)
        column.addWidget(self.id_message)
        column.addWidget(self.form_title)
        column.addWidget(self.scroll, 1)
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

    # ---- opening a form -------------------------------------------------------------------

    def open_typed_id(self) -> bool:
        """Open the form whose ID was typed or scanned; False with a message if not."""
        clerk = self.clerk_edit.text().strip()
        if not clerk:
            self.id_message.setText("Type your name first: every value records who keyed it.")
            self.clerk_edit.setFocus()
            return False
        try:
            issued = find_issued(self.register, self.id_edit.text())
            self.open_form(issued, clerk)
        except PaperFallbackError as exc:
            self.id_message.setStyleSheet("color: #B3000C; font-weight: bold;")
            self.id_message.setText(str(exc))
            self.id_edit.selectAll()
            return False
        return True

    def open_form(self, issued: IssuedForm, clerk: str) -> FormKeyingWidget:
        form = self.catalogue.get(issued.form_id)
        layout = issued_layout(form, issued)
        entry_pass = self.entry_pass
        session = KeyingSession(
            self.store, layout, issued, clerk=clerk, entry_pass=entry_pass,
            ctx=KeyingContext(printed_at=issued.printed_at,
                              window_hours=self.settings.entry_window_hours),
        )
        editable = None
        if entry_pass is EntryPass.RESOLVED:
            open_addresses = {d.address for d in self.store.discrepancies(issued.instance_id)
                              if d.kind.value == "double_entry"}
            editable = open_addresses.__contains__
        widget = FormKeyingWidget(session, editable=editable)
        if entry_pass is EntryPass.RESOLVED:
            widget.commit_hook = self._resolve_hook(session)
            first = {e.address: e for e in self.store.entries(issued.instance_id,
                                                              EntryPass.FIRST)}
            widget.show_values(first)
            for address in open_addresses:
                d = next(x for x in self.store.discrepancies(issued.instance_id)
                         if x.address == address)
                edit = widget.edits.get(address)
                if edit is not None:
                    edit.setToolTip(f"The two keyings differ ({d.detail.get('first')!r} / "
                                    f"{d.detail.get('second')!r}): type what the paper says")
        widget.changed.connect(self._update_status)
        widget.field_entered.connect(lambda edit: self.scroll.ensureWidgetVisible(edit, 60, 40))
        old = self.scroll.takeWidget()
        if isinstance(old, FormKeyingWidget):
            old.closed = True
        if old is not None:
            old.deleteLater()
        self.scroll.setWidget(widget)
        self.session, self.form_widget, self.issued = session, widget, issued
        self._warned_missing = None
        who = issued.patient_name or ("blank form: identify the patient"
                                      if is_blank_copy(form, issued) else issued.ward_code)
        self.form_title.setText(f"{form.title} — {issued.instance_id} — {who}")
        self.id_message.setStyleSheet("color: #006747;")
        self.id_message.setText(f"Opened {issued.instance_id} ({entry_pass.value} keying).")
        self.finish_button.setEnabled(True)
        self._update_status()
        widget.focus_resume_point()
        return widget

    def _resolve_hook(self, session: KeyingSession) -> Any:
        def hook(edit: FieldEdit, text: str) -> str:
            address = session.address(edit.section.id, edit.index, edit.spec.id)
            state = {"?": EntryState.ILLEGIBLE, "-": EntryState.NOT_RECORDED}.get(text)
            value = None
            if state is None:
                value = session.check(edit.section.id, edit.index, edit.spec.id, text).canonical
                state = EntryState.VALUE
            status = resolve(self.store, address, value, state, by=session.clerk,
                             form_id=session.layout.form_id)
            return f"Resolved from the paper; form is {status.value}"
        return hook

    # ---- finishing ----------------------------------------------------------------------

    def finish_form(self) -> None:
        if self.session is None or self.form_widget is None or self.issued is None:
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
        missing = self.session.missing_required()
        if missing and self._warned_missing != self.issued.instance_id:
            self._warned_missing = self.issued.instance_id
            names = ", ".join(
                f"{a.field_id} ({self.session.layout.section(a.section).index_label(a.index)})"
                if a.index or self.session.layout.section(a.section).repeats else a.field_id
                for a in missing[:6])
            self.status_label.setText(
                f"{len(missing)} required field(s) are empty: {names}. Type - where the "
                "paper has nothing, or press Ctrl+Enter again to finish anyway.")
            edit = widget.edits.get(missing[0])
            if edit is not None and edit.focusPolicy() != Qt.FocusPolicy.NoFocus:
                edit.setFocus()
            return
        try:
            self._identify_patient()
            record = self.store.instance(self.issued.instance_id)
            if self.entry_pass is EntryPass.RESOLVED:
                self._update_status()
                return
            status = finish_pass(
                self.store, self.issued.instance_id, self.entry_pass, by=self.session.clerk,
                double_entry=double_entry_required(record, self.issued.form_id,
                                                   self.double_entry_forms()),
            )
        except PaperFallbackError as exc:
            self.status_label.setText(str(exc))
            return
        self.status_label.setText(f"{self.issued.instance_id} is now {status.value}. "
                                  "Scan or type the next form ID.")
        self._focus_id()

    def _identify_patient(self) -> None:
        """Blank forms: match the handwritten identity to the cache or a downtime number."""
        assert self.session is not None and self.issued is not None
        form = self.catalogue.get(self.issued.form_id)
        if not is_blank_copy(form, self.issued) or self.entry_pass is not EntryPass.FIRST:
            return
        from paperfallback.reentry.patients import identify_blank_form

        values = {a.field_id: e.value for a, e in self.session.values().items()
                  if e.state is EntryState.VALUE and (a.section == PATIENT_SECTION
                                                      or form.scope == "blank")}

        identity = self.session.layout.patient_identity(values)

        def pick(role: str) -> str | None:  # declared roles, never field-id suffixes
            return identity.get(role)

        birth = pick("birth_date")
        cache = None
        with contextlib.suppress(PaperFallbackError):
            cache = self.ctx.open_cache()
        match = identify_blank_form(
            self.store, cache, instance_id=self.issued.instance_id,
            downtime_number=self.issued.downtime_number, clerk=self.session.clerk,
            nhs_number=pick("nhs_number"), hospital_number=pick("hospital_number"),
            family=pick("family") or "", given=pick("given") or "",
            birth_date=date.fromisoformat(birth) if birth else None,
            sex=pick("sex") or "unknown",
        )
        who = match.patient.display_name if match.patient else match.how
        self.form_title.setText(self.form_title.text() + f" — patient: {who}")

    def _update_status(self) -> None:
        if self.issued is None:
            return
        record = self.store.instance(self.issued.instance_id)
        open_items = self.store.discrepancies(self.issued.instance_id)
        status = record.status.value if record else "printed"
        text = f"Status: {status}."
        if open_items:
            text += f" {len(open_items)} open discrepancy(ies): " + "; ".join(
                f"{d.address.section} {d.address.index + 1} {d.address.field_id}: {d.describe()}"
                for d in open_items[:3])
        self.status_label.setText(text)

    def closeEvent(self, event: Any) -> None:
        if self.form_widget is not None:
            focused = self.form_widget.focusWidget()
            if isinstance(focused, FieldEdit):
                self.form_widget.commit(focused)
            self.form_widget.closed = True
        self._conn.close()
        super().closeEvent(event)

    def field(self, section: str, index: int, field_id: str) -> FieldEdit:
        """The edit box of one field of the open form (tests, benchmarks)."""
        assert self.session is not None and self.form_widget is not None
        return self.form_widget.edits[FieldAddress(self.session.printed.instance_id, section,
                                                   index, field_id)]


class ReconciliationView(QWidget):
    """Printed / keyed / verified / exported per form, and the open discrepancies."""

    def __init__(self, window: KeyingWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.summary = QLabel("", self)
        self.summary.setObjectName("reconciliationSummary")
        self.summary.setWordWrap(True)
        self.instances = QTableWidget(0, 6, self)
        self.instances.setHorizontalHeaderLabels(
            ["Form ID", "Form", "Ward / list", "Patient", "Printed", "Status"])
        self.discrepancies = QTableWidget(0, 4, self)
        self.discrepancies.setHorizontalHeaderLabels(["Form ID", "Where", "Kind", "What"])
        self.discrepancies.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.discrepancies.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.discrepancies.setTabKeyNavigation(False)
        self.discrepancies.itemSelectionChanged.connect(self._enable_review)
        self.open_items: list[Discrepancy] = []
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
        for row, line in enumerate(report.instances):
            for col, text in enumerate((line.instance_id, line.form_id, line.ward, line.patient,
                                        line.printed_at, line.status.value)):
                self.instances.setItem(row, col, QTableWidgetItem(text))
        self.open_items = list(report.discrepancies)
        self.discrepancies.setRowCount(len(report.discrepancies))
        for row, d in enumerate(report.discrepancies):
            where = f"{d.address.section} {d.address.index + 1} {d.address.field_id}"
            for col, text in enumerate((d.address.instance_id, where, d.kind.value,
                                        d.describe())):
                self.discrepancies.setItem(row, col, QTableWidgetItem(text))
        self._enable_review()

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
