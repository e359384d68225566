"""Clinic lists and theatre lists: pick the clinic (or theatre) and the day from the cache,
then the same Preview / Print / Save path as the ward pack."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
)

from paperfallback.cache.staleness import uk_time, utc_now
from paperfallback.cache.ward_summary import default_day
from paperfallback.domain.errors import PaperFallbackError
from paperfallback.formspec import FormCatalogue
from paperfallback.ui.banners import downtime_dialog_body
from paperfallback.ui.pack_jobs import PackChoice, RenderedPack, render_job
from paperfallback.ui.pack_output import PackOutput, extract_time
from paperfallback.ui.print_dialog import render_place
from paperfallback.ui.render_runner import RenderRunner

if TYPE_CHECKING:
    from paperfallback.ui.main_window import MainWindow

ListKind = Literal["clinic", "theatre"]
_SCOPES = {"clinic": "clinic-day", "theatre": "theatre-day"}


def list_form_id(kind: ListKind, catalogue: FormCatalogue) -> str:
    """The form that prints this kind of list (scope clinic-day or theatre-day)."""
    for form in catalogue.of_scope(_SCOPES[kind]):
        return form.id
    raise PaperFallbackError(f"no {kind} list form is installed (forms/*.yaml)")


class ListPickerDialog(QDialog):
    def __init__(self, window: MainWindow, *, kind: ListKind) -> None:
        super().__init__(window)
        self.window_ = window
        self.kind = kind
        self.place = render_place(window)
        self.output: PackOutput | None = None
        noun = "Clinic" if kind == "clinic" else "Theatre"
        self.setWindowTitle(f"{noun} lists — PaperFallback")
        self.setMinimumWidth(560)
        store = window.store
        assert store is not None
        self.store = store

        self.place_combo = QComboBox(self)
        names = store.clinics() if kind == "clinic" else store.theatres()
        self.place_combo.addItems(names)
        self.place_combo.setToolTip(f"Choose the {noun.lower()}. Type to jump to a name.")
        self.day_combo = QComboBox(self)
        self.day_combo.setToolTip("Choose the day. Only days with a list in the downtime copy "
                                  "are shown.")
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow(f"&{noun}:", self.place_combo)
        form.addRow("&Day:", self.day_combo)

        self.progress_bar = QProgressBar(self)
        self.cancel_button = QPushButton("Cancel &rendering", self)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.runner = RenderRunner(self, self.progress_bar, self.cancel_button,
                                   self.status_label)
        self.preview_button = QPushButton("Pre&view", self)
        self.print_button = QPushButton("&Print…", self)
        self.save_button = QPushButton("&Save PDF…", self)
        self.close_button = QPushButton("Close", self)
        self.preview_button.setDefault(True)
        self.preview_button.setToolTip("Prepare the list and look at it before printing")
        self.print_button.setToolTip("Prepare the list and choose a printer (Ctrl+P)")
        self.save_button.setToolTip("Prepare the list and save it as a PDF file (Ctrl+S)")
        self.close_button.setToolTip("Close without printing (Escape)")
        self.preview_button.clicked.connect(lambda: self.render_then("preview"))
        self.print_button.clicked.connect(lambda: self.render_then("print"))
        self.save_button.clicked.connect(lambda: self.render_then("save"))
        self.close_button.clicked.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Print, self, activated=self.print_button.click)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save_button.click)

        body = downtime_dialog_body(self)
        heading = QLabel(f"Print a {noun.lower()} list", self)
        heading.setObjectName("pageTitle")
        body.addWidget(heading)
        body.addLayout(form)
        body.addWidget(self.summary_label)
        progress = QHBoxLayout()
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        body.addLayout(progress)
        body.addWidget(self.status_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.preview_button, self.print_button, self.save_button,
                       self.close_button):
            buttons.addWidget(button)
        body.addLayout(buttons)

        self.place_combo.currentIndexChanged.connect(self._place_changed)
        self.day_combo.currentIndexChanged.connect(self._day_changed)
        self._place_changed()
        self.place_combo.setFocus()

    def chosen_place(self) -> str:
        return self.place_combo.currentText()

    def chosen_day(self) -> date | None:
        value = self.day_combo.currentData()
        return date.fromisoformat(value) if isinstance(value, str) and value else None

    def select(self, name: str, day: date) -> None:
        self.place_combo.setCurrentIndex(self.place_combo.findText(name))
        self.day_combo.setCurrentIndex(self.day_combo.findData(day.isoformat()))

    def _place_changed(self) -> None:
        name = self.chosen_place()
        days = (self.store.appointment_days(name) if self.kind == "clinic"
                else self.store.theatre_days(name)) if name else []
        self.day_combo.blockSignals(True)
        self.day_combo.clear()
        for day in days:
            self.day_combo.addItem(day.strftime("%a %d-%b-%Y"), day.isoformat())
        first = default_day(days, uk_time(utc_now()).date())
        if first is not None:
            self.day_combo.setCurrentIndex(self.day_combo.findData(first.isoformat()))
        self.day_combo.blockSignals(False)
        self._day_changed()

    def _day_changed(self) -> None:
        name, day = self.chosen_place(), self.chosen_day()
        if not name or day is None:
            self.summary_label.setText(f"No {self.kind} lists in the downtime copy.")
            count = 0
        elif self.kind == "clinic":
            count = len(self.store.appointments(name, day))
            self.summary_label.setText(f"{count} appointment" + ("s" if count != 1 else ""))
        else:
            count = len(self.store.theatre_cases(name, day))
            self.summary_label.setText(f"{count} case" + ("s" if count != 1 else ""))
        for button in (self.preview_button, self.print_button, self.save_button):
            button.setEnabled(count > 0 and not self.runner.busy())

    def choice(self, form_id: str) -> PackChoice:
        name, day = self.chosen_place(), self.chosen_day()
        noun = "Clinic list" if self.kind == "clinic" else "Theatre list"
        title = f"{noun} {name} {day.strftime('%d-%b-%Y') if day else ''}".strip()
        return PackChoice(
            kind=self.kind, title=title, ward_code=self.window_.current_ward_code(),
            form_ids=(form_id,), clinic=name if self.kind == "clinic" else "",
            theatre=name if self.kind == "theatre" else "", day=day)

    def render_then(self, action: str) -> None:
        try:
            choice = self.choice(list_form_id(self.kind, self.window_.ctx.catalogue))
        except PaperFallbackError as exc:
            self.status_label.setText(str(exc))
            return
        if self.output is not None and self.output.is_job_for(choice):  # one job, one ID set
            self._act(self.output, action)
            return
        extract = extract_time(self.window_)

        def rendered(pack: RenderedPack) -> None:
            self._set_busy(False)
            self.status_label.setText(f"Ready: {pack.page_count} pages.")
            self.output = PackOutput(self.window_, self.place, pack,
                                     on_finished=self.status_label.setText, extract=extract)
            self._act(self.output, action)

        def failed(exc: BaseException) -> None:
            self._set_busy(False)
            self.status_label.setText(f"The list could not be prepared: {exc}")
            self.window_.prompts.error(self, "The list could not be prepared", str(exc))

        self._set_busy(True)
        task = self.runner.start(render_job(choice, self.place), "Preparing the list…",
                                 on_success=rendered, on_failure=failed)
        task.cancelled.connect(lambda: self._set_busy(False))

    def _act(self, output: PackOutput, action: str) -> None:
        {"preview": output.preview, "print": output.print, "save": output.save}[action](self)

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.place_combo, self.day_combo, self.preview_button,
                       self.print_button, self.save_button):
            widget.setEnabled(not busy)

    def reject(self) -> None:
        if self.runner.busy():
            self.runner.cancel()
            return
        super().reject()

    def shutdown(self) -> None:
        self.runner.shutdown()

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)
