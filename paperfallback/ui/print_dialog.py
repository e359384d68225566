"""The print dialog: which patients, which forms, how many; a live page count; then
Preview, Print or Save PDF. Rendering runs on a worker thread with progress and Cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
)

from paperfallback.cache.ward_summary import cache_banner
from paperfallback.domain.errors import PaperFallbackError
from paperfallback.formspec import FormCatalogue
from paperfallback.ui import theme
from paperfallback.ui.background import BackgroundTask
from paperfallback.ui.banners import downtime_dialog_body
from paperfallback.ui.pack_jobs import (
    PackChoice,
    RenderedPack,
    RenderPlace,
    render_job,
)
from paperfallback.ui.pack_output import PackOutput, ask_printer, extract_time, record_sent
from paperfallback.ui.pack_print import PrintRun, draw_and_print_job, stopped_text
from paperfallback.ui.render_runner import RenderRunner

if TYPE_CHECKING:
    from paperfallback.ui.main_window import MainWindow

COUNT_DELAY_MS = 250
MAX_COPIES = 10
MAX_BLANK = 100


def render_place(window: MainWindow) -> RenderPlace:
    try:
        key, source = window.ctx.key
    except PaperFallbackError as exc:  # a lost key: blank forms still print (issue #12)
        key, source = "", f"no key ({exc})"
    return RenderPlace(data_dir=window.ctx.data_dir, key=key, key_source=source,
                       settings=window.settings, catalogue=window.ctx.catalogue)


def form_choices(kind: str, catalogue: FormCatalogue) -> list[tuple[str, str, str]]:
    """(form id, title, scope) of the forms a kind of pack can hold, from forms/*.yaml."""
    scopes = {"ward": ("patient", "ward"), "blank": ("patient", "ward", "blank", "clinic-day",
                                                     "theatre-day")}[kind]
    return [(f.id, f.display_title, f.scope) for f in catalogue if f.scope in scopes]


class MnemonicGroupBox(QGroupBox):
    """A group box whose Alt+letter goes to its focus proxy (Qt's own choice is the first
    child in the focus chain, even a disabled one, which leaves the focus where it was)."""

    def event(self, event: QEvent) -> bool:
        proxy = self.focusProxy()
        if event.type() == QEvent.Type.Shortcut and proxy is not None:
            proxy.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return True
        return super().event(event)


class PrintDialog(QDialog):
    """Ward pack (``kind="ward"``) or blank forms (``kind="blank"``)."""

    def __init__(self, window: MainWindow, *, kind: str, ward_code: str = "",
                 ward_name: str = "", ward_count: int = 0,
                 selected_ids: list[str] | None = None,
                 prefer_selected: bool = False) -> None:
        super().__init__(window)
        self.window_ = window
        self.kind = kind
        self.ward_code = ward_code
        self.ward_name = ward_name
        self.selected_ids = list(selected_ids or [])
        self.place = render_place(window)
        self.output: PackOutput | None = None  # the print job: one render, one set of IDs
        self.page_count: int | None = None
        self._count_task: BackgroundTask | None = None
        title = (f"Print ward pack — {ward_name}" if kind == "ward" else "Print blank forms")
        self.setWindowTitle(f"{title} — PaperFallback")
        self.setMinimumWidth(620)

        body = downtime_dialog_body(self)
        heading = QLabel(title, self)
        heading.setObjectName("pageTitle")
        body.addWidget(heading)
        self.stale_label = QLabel(self)
        self.stale_label.setObjectName("staleWarning")
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet(
            f"background: {theme.STALE_RED}; color: white; font-weight: bold; padding: 6px;")
        status = window.status
        if status is not None and status.has_snapshot and status.is_stale:
            self.stale_label.setText(f"{cache_banner(status).headline}. Every page will be "
                                     "marked STALE DATA.")
            body.addWidget(self.stale_label)
        else:
            self.stale_label.setVisible(False)

        self.all_radio = QRadioButton(self)
        self.selected_radio = QRadioButton(self)
        if kind == "ward":
            group_box = QGroupBox("Patients", self)
            box = QVBoxLayout(group_box)
            if ward_code:
                self.all_radio.setText(f"&All {ward_count} patients on {ward_name}, with a "
                                       "cover sheet")
            else:
                self.all_radio.setText("&All patients: choose one ward first")
            self.all_radio.setEnabled(bool(ward_code))
            count = len(self.selected_ids)
            self.selected_radio.setText(
                f"Only the {count} &selected patient{'s' if count != 1 else ''}" if count
                else "Only &selected patients (none selected in the list)")
            self.selected_radio.setEnabled(bool(count))
            self.all_radio.setToolTip("Every patient on the ward, in bed order, after a cover "
                                      "sheet listing the pack's contents.")
            self.selected_radio.setToolTip("Only the patients you highlighted in the list.")
            group = QButtonGroup(self)
            group.addButton(self.all_radio)
            group.addButton(self.selected_radio)
            use_selected = bool(count) and (prefer_selected or not ward_code)
            (self.selected_radio if use_selected else self.all_radio).setChecked(True)
            box.addWidget(self.all_radio)
            box.addWidget(self.selected_radio)
            body.addWidget(group_box)
            self.all_radio.toggled.connect(self.schedule_count)
        else:
            self.all_radio.setVisible(False)
            self.selected_radio.setVisible(False)

        forms_box = QGroupBox("&Forms" if kind == "ward" else "&Blank forms to print", self)
        forms_layout = QVBoxLayout(forms_box)
        self.forms_list = QListWidget(forms_box)
        self.forms_list.setToolTip("Tick the forms to print. Space ticks or unticks the "
                                   "highlighted form. The ward's usual forms are ticked.")
        defaults = set(window.settings.forms_for_ward(ward_code or None))
        if kind == "blank":  # the forms that are only ever printed blank (registration)
            defaults = {f.id for f in window.ctx.catalogue.of_scope("blank")}
        self.form_scopes: dict[str, str] = {}
        try:
            choices = form_choices(kind, window.ctx.catalogue)
        except PaperFallbackError as exc:
            choices = []
            window.prompts.error(window, "Forms could not be loaded", str(exc))
        for form_id, form_title, scope in choices:
            self.form_scopes[form_id] = scope
            item = QListWidgetItem(form_title)
            item.setData(Qt.ItemDataRole.UserRole, form_id)
            item.setToolTip(f"Form id: {form_id}" + (
                ". Printed once for the whole ward." if scope == "ward" else ""))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if form_id in defaults
                               else Qt.CheckState.Unchecked)
            self.forms_list.addItem(item)
        checked = [i for i in range(self.forms_list.count())
                   if self.forms_list.item(i).checkState() == Qt.CheckState.Checked]
        self.forms_list.setCurrentRow(checked[0] if checked else 0)
        self.forms_list.itemChanged.connect(self.schedule_count)
        forms_layout.addWidget(self.forms_list)
        forms_box.setFocusProxy(self.forms_list)
        self.blank_copy_spins: dict[str, QSpinBox] = {}
        if kind == "ward":
            forms_row = QHBoxLayout()
            forms_row.addWidget(forms_box, 3)
            forms_row.addWidget(self._blank_copies_box(choices), 2)
            body.addLayout(forms_row, 1)
            self.forms_list.itemChanged.connect(self._enable_blank_copies)
            self._enable_blank_copies()
        else:
            body.addWidget(forms_box, 1)

        numbers = QFormLayout()
        self.copies_spin = QSpinBox(self)
        self.copies_spin.setRange(1, MAX_COPIES)
        self.copies_spin.setToolTip("How many copies of each form. Each copy gets its own "
                                    "form ID.")
        self.blank_spin = QSpinBox(self)
        self.blank_spin.setRange(1, MAX_BLANK)
        self.blank_spin.setValue(5)
        self.blank_spin.setToolTip("How many blank copies of each ticked form. Each gets its "
                                   "own form ID (and downtime number).")
        for spin in (self.copies_spin, self.blank_spin):
            spin.setMaximumWidth(120)
        if kind == "ward":
            numbers.addRow("&Copies of each form:", self.copies_spin)
            self.blank_spin.setVisible(False)
        else:
            self.copies_spin.setVisible(False)
            numbers.addRow("&Number of each form:", self.blank_spin)
        self.copies_spin.valueChanged.connect(self.schedule_count)
        self.blank_spin.valueChanged.connect(self.schedule_count)
        body.addLayout(numbers)

        self.count_label = QLabel(self)
        self.count_label.setObjectName("pageCount")
        self.count_label.setStyleSheet("font-weight: bold;")
        body.addWidget(self.count_label)
        progress_row = QHBoxLayout()
        self.progress_bar = QProgressBar(self)
        self.cancel_button = QPushButton("Cancel &rendering", self)
        self.cancel_button.setToolTip("Stop preparing and printing the pages (Escape). Pages "
                                      "already sent to the printer still print.")
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        body.addLayout(progress_row)
        body.addWidget(self.status_label)
        self.runner = RenderRunner(self, self.progress_bar, self.cancel_button,
                                   self.status_label)

        buttons = QHBoxLayout()
        self.preview_button = QPushButton("Pre&view", self)
        self.print_button = QPushButton("&Print…", self)
        self.save_button = QPushButton("&Save PDF…", self)
        self.close_button = QPushButton("Close", self)
        self.preview_button.setToolTip("Prepare the pages and look at them before printing "
                                       "(Enter)")
        self.print_button.setToolTip("Prepare the pages and choose a printer (Ctrl+P)")
        self.save_button.setToolTip("Prepare the pages and save them as a PDF file (Ctrl+S)")
        self.close_button.setToolTip("Close without printing (Escape)")
        self.preview_button.setDefault(True)
        self.preview_button.clicked.connect(lambda: self.render_then(self._show_preview))
        self.print_button.clicked.connect(self.print_pack)
        self.save_button.clicked.connect(lambda: self.render_then(self._save))
        self.close_button.clicked.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Print, self, activated=self.print_button.click)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save_button.click)
        buttons.addStretch(1)
        for button in (self.preview_button, self.print_button, self.save_button,
                       self.close_button):
            buttons.addWidget(button)
        body.addLayout(buttons)

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self._count_pages)
        self.schedule_count()
        self.forms_list.setFocus()

    def _blank_copies_box(self, choices: list[tuple[str, str, str]]) -> QGroupBox:
        """One count per form: blank copies printed after the pack, for new patients."""
        box = MnemonicGroupBox("B&lank copies to add at the end", self)
        box.setToolTip("Blank copies of a ticked form, printed after the patients' forms, "
                       "for new admissions. Each gets its own form ID.")
        column = QVBoxLayout(box)
        hint = QLabel("For new patients, after the pack. Tick a form to list it here.", box)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        column.addWidget(hint)
        layout = QFormLayout()
        self.blank_copies_layout = layout
        for form_id, form_title, _scope in choices:
            spin = QSpinBox(box)
            spin.setRange(0, MAX_BLANK)
            spin.setSpecialValueText("none")
            spin.setSuffix(" blank")
            spin.setMaximumWidth(120)
            spin.setAccessibleName(f"Blank copies of {form_title}")
            spin.valueChanged.connect(self.schedule_count)
            self.blank_copy_spins[form_id] = spin
            layout.addRow(f"{form_title}:", spin)
        column.addLayout(layout)
        column.addStretch(1)
        self.blank_copies_box = box
        return box

    def _enable_blank_copies(self) -> None:
        """Only ticked forms take blank copies (an unticked one would print unasked)."""
        ticked = set(self.checked_forms())
        for form_id, spin in self.blank_copy_spins.items():
            spin.setEnabled(form_id in ticked)
            self.blank_copies_layout.setRowVisible(spin, form_id in ticked)  # unticked: no row
            spin.setToolTip(
                f"How many blank {self._title(form_id)} to add at the end (0 = none)."
                if form_id in ticked else f"Tick {self._title(form_id)} to add blank copies.")
        # Alt+L goes to the first ticked form's count.
        first = next((s for f, s in self.blank_copy_spins.items() if f in ticked), None)
        if first is not None:
            self.blank_copies_box.setFocusProxy(first)

    def _title(self, form_id: str) -> str:
        for i in range(self.forms_list.count()):
            item = self.forms_list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == form_id:
                return item.text()
        return form_id

    def set_blank_copies(self, counts: dict[str, int]) -> None:
        """Blank copies per form id (tests, scripts); the others go back to none."""
        for form_id, spin in self.blank_copy_spins.items():
            spin.setValue(counts.get(form_id, 0))

    def blank_extra(self) -> tuple[tuple[str, int], ...]:
        """(form id, count) of the ticked forms with blank copies, in list order."""
        return tuple((form_id, self.blank_copy_spins[form_id].value())
                     for form_id in self.checked_forms()
                     if form_id in self.blank_copy_spins
                     and self.blank_copy_spins[form_id].value() > 0)

    # ---- the choice -------------------------------------------------------------------

    def checked_forms(self) -> list[str]:
        return [self.forms_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.forms_list.count())
                if self.forms_list.item(i).checkState() == Qt.CheckState.Checked]

    def set_forms(self, form_ids: list[str]) -> None:
        for i in range(self.forms_list.count()):
            item = self.forms_list.item(i)
            item.setCheckState(Qt.CheckState.Checked
                               if item.data(Qt.ItemDataRole.UserRole) in form_ids
                               else Qt.CheckState.Unchecked)

    def choice(self) -> PackChoice:
        forms = tuple(self.checked_forms())
        if self.kind == "blank":
            return PackChoice(kind="blank", title="Blank forms", ward_code=self.ward_code,
                              form_ids=forms, blank_count=self.blank_spin.value())
        if self.all_radio.isChecked():
            return PackChoice(kind="ward", title=f"{self.ward_name} pack",
                              ward_code=self.ward_code, form_ids=forms,
                              copies=self.copies_spin.value(),
                              blank_extra=self.blank_extra())
        return PackChoice(kind="patients", title=f"{self.ward_name} selected patients",
                          ward_code=self.ward_code, patient_ids=tuple(self.selected_ids),
                          form_ids=forms, copies=self.copies_spin.value(),
                          blank_extra=self.blank_extra())

    def _problem(self, choice: PackChoice) -> str:
        if not choice.form_ids:
            return "Tick at least one form."
        if choice.kind == "patients":
            if not choice.patient_ids:
                return "Select patients in the list first, or choose a ward."
            if all(self.form_scopes.get(f) == "ward" for f in choice.form_ids):
                return "The handover list prints only with the whole ward."
        return ""

    # ---- live page count ----------------------------------------------------------------

    def schedule_count(self) -> None:
        self.page_count = None
        self._label_buttons()
        choice = self.choice()
        problem = self._problem(choice)
        for button in (self.preview_button, self.print_button, self.save_button):
            button.setEnabled(not problem and not self.runner.busy())
        if problem:
            self.count_label.setText(problem)
            return
        self.count_label.setText("Counting pages…")
        self._count_timer.start()

    def _count_pages(self) -> None:
        if self._count_task is not None:
            self._count_task.cancel()
        choice = self.choice()
        if self._problem(choice):
            return
        task = BackgroundTask(render_job(choice, self.place, count_only=True), self)
        self._count_task = task

        def counted(pack: Any) -> None:
            if self._count_task is task and pack.choice == self.choice():
                self.page_count = pack.page_count
                self.count_label.setText(_pages_text(pack))

        def failed(exc: BaseException) -> None:
            if self._count_task is task:
                self.count_label.setText(f"Cannot prepare these forms: {exc}")

        def done() -> None:
            if self._count_task is task:
                self._count_task = None
            task.deleteLater()

        task.succeeded.connect(counted)
        task.failed.connect(failed)
        task.done.connect(done)
        task.start()

    # ---- render, then preview / print / save ------------------------------------------

    def render_then(self, action: Callable[[PackOutput], None]) -> None:
        """Preview, print or save the print job of the current choice. One job, one set of
        form IDs: a later Preview, Print or Save of the same choice reuses the rendered
        pack (the register records its forms once, when first printed or saved); a changed
        choice or a new extract is a new job with its own render and IDs."""
        choice = self.choice()
        problem = self._problem(choice)
        if problem:
            self.status_label.setText(problem)
            return
        if self.output is not None and self.output.is_job_for(choice):
            action(self.output)
            return
        if self._count_task is not None:
            self._count_task.cancel()
        self._count_timer.stop()
        self._set_busy(True)

        def rendered(pack: RenderedPack) -> None:
            self._set_busy(False)
            self.page_count = pack.page_count
            self.count_label.setText(_pages_text(pack))
            self.status_label.setText(f"Ready: {pack.page_count} pages."
                                      + (f" Note: {pack.note}" if pack.note else ""))
            self.output = PackOutput(self.window_, self.place, pack,
                                     on_finished=self._finished, extract=extract)
            action(self.output)

        def failed(exc: BaseException) -> None:
            self._set_busy(False)
            message = str(exc) if isinstance(exc, PaperFallbackError) else repr(exc)
            self.status_label.setText(f"The pages could not be prepared: {message}")
            self.window_.prompts.error(self, "The pages could not be prepared", message)

        extract = extract_time(self.window_)
        task = self.runner.start(render_job(choice, self.place), "Preparing the pages…",
                                 on_success=rendered, on_failure=failed)
        task.cancelled.connect(lambda: self._set_busy(False))

    def print_pack(self) -> None:
        """Print…: the printer first, then each part goes to it as soon as it is drawn
        (issue #15); a pack already drawn (previewed, or partly printed) is printed again."""
        choice = self.choice()
        if self._problem(choice) or (self.output is not None and self.output.is_job_for(choice)):
            self.render_then(self._print)
            return
        printer = ask_printer(self.window_, self, self.place.settings, choice)
        if printer is None:
            return
        if self._count_task is not None:
            self._count_task.cancel()
        self._count_timer.stop()
        self._set_busy(True)
        extract = extract_time(self.window_)
        run = PrintRun(printer.output_file or printer.name)

        def ended(crash: BaseException | None = None, cancelled: bool = False) -> None:
            self._set_busy(False)
            if run.pack is None:  # cancelled or failed while drawing: no job to go back to
                record_sent(self.window_, self.place, run, self)
                reason = "Cancelled" if cancelled else f"The pages could not be prepared " \
                    f"({crash})"
                self.status_label.setText(stopped_text(run, reason))
                if not cancelled:
                    self.window_.prompts.error(self, "The pack was not printed",
                                               stopped_text(run, reason))
                return
            self.page_count = run.pack.page_count
            self.count_label.setText(_pages_text(run.pack))
            self.output = PackOutput(self.window_, self.place, run.pack,
                                     on_finished=self._finished, extract=extract)
            self.output.after_run(run, self, printer, crash=crash)

        self.runner.start(draw_and_print_job(choice, self.place, printer, run),
                          f"Preparing the pages for {run.printer}…",
                          on_success=lambda _run: ended(), on_failure=ended,
                          on_cancelled=lambda: ended(cancelled=True))

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.preview_button, self.print_button, self.save_button,
                       self.forms_list, self.copies_spin, self.blank_spin):
            widget.setEnabled(not busy)
        if busy:
            for spin in self.blank_copy_spins.values():
                spin.setEnabled(False)
        else:
            self._enable_blank_copies()
        self.all_radio.setEnabled(not busy and bool(self.ward_code))
        self.selected_radio.setEnabled(not busy and bool(self.selected_ids))
        if busy:
            self.cancel_button.setFocus()

    def _show_preview(self, output: PackOutput) -> None:
        output.preview(self)

    def _print(self, output: PackOutput) -> None:
        output.print(self)

    def _save(self, output: PackOutput) -> None:
        output.save(self)

    def _finished(self, message: str) -> None:
        note = self.output.pack.note if self.output is not None else ""
        self.status_label.setText(message + (f" Note: {note}" if note else ""))
        self._label_buttons()

    def _label_buttons(self) -> None:
        """After a print that stopped part-way, Print and Save offer the rest of that job."""
        rest = self.output.rest if self.output is not None and self.output.is_job_for(
            self.choice()) else ()
        self.print_button.setText("&Print the rest…" if rest else "&Print…")
        self.save_button.setText("&Save the rest…" if rest else "&Save PDF…")

    # ---- keyboard -----------------------------------------------------------------------

    def reject(self) -> None:
        """Escape cancels a render first; a second Escape closes."""
        if self.runner.busy():
            self.runner.cancel()
            return
        super().reject()

    def shutdown(self) -> None:
        """Cancel and wait for the page count and any render (window closing)."""
        self._count_timer.stop()
        if self._count_task is not None:
            self._count_task.cancel()
            self._count_task.wait()
        self.runner.shutdown()

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)


def _pages_text(pack: RenderedPack) -> str:
    pages = pack.page_count
    text = f"{pages} page{'s' if pages != 1 else ''} to print"
    if pack.blank_pages:
        text += f" ({pages - pack.blank_pages} filled in + {pack.blank_pages} blank at the end)"
    return text
