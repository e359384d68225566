"""The two "When the EPR is back" actions: Re-enter forms (the re-entry team's keying
window) and Export for re-import (a small dialog over paperfallback.export)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.formspec import FormCatalogue
from paperfallback.settings import Settings
from paperfallback.ui.background import TaskControl
from paperfallback.ui.banners import downtime_dialog_body

if TYPE_CHECKING:
    from paperfallback.ui.main_window import MainWindow


def open_reentry(window: MainWindow) -> QWidget | None:
    """Open the keying window (paperfallback.ui.keying) beside the main window."""
    from paperfallback.ui.keying import KeyingWindow

    try:
        keying = KeyingWindow(window.ctx, window)
    except PaperFallbackError as exc:
        window.prompts.error(window, "Re-entry cannot start", str(exc))
        return None
    keying.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    keying.show()
    keying.raise_()
    keying.activateWindow()
    return keying


def open_export(window: MainWindow) -> ExportDialog:
    dialog = ExportDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.open_dialog = dialog
    dialog.show()
    return dialog


@dataclass(frozen=True, slots=True)
class ExportChoice:
    fmt: str  # fhir, xlsx, csv
    out: Path
    all_entries: bool


def run_export(data_dir: Path, key: tuple[str, str], choice: ExportChoice,
               catalogue: FormCatalogue | None = None) -> list[str]:
    """What ``paperfallback export`` does (the same core call), as lines for the dialog."""
    from paperfallback.export.pipeline import run_export as export

    summary = export(data_dir, Settings.load(data_dir), key[0], key[1],
                     choice.fmt,  # type: ignore[arg-type]
                     choice.out, all_entries=choice.all_entries, catalogue=catalogue)
    return summary.lines()


def send_to_epr(data_dir: Path, key: tuple[str, str], *, retry_rejected: bool,
                catalogue: FormCatalogue | None = None) -> list[str]:
    """What ``paperfallback export --to <export_to_url> [--retry-rejected]`` does."""
    from paperfallback.export.send_run import run_send

    settings = Settings.load(data_dir)
    summary = run_send(data_dir, settings, key[0], key[1], settings.export_to_url,
                       retry_rejected=retry_rejected, catalogue=catalogue)
    return summary.lines()


def send_status(data_dir: Path, key: tuple[str, str]) -> list[str]:
    from paperfallback.export.send_run import send_status_lines

    return send_status_lines(data_dir, key[0], key[1])


class ExportDialog(QDialog):
    """Choose the format and where to write it; the export runs off the UI thread."""

    FORMATS = (
        ("fhir", "FHIR R4 transaction Bundle (.json) — for the EPR's bulk import",
         "FHIR bundle (*.json)", "paperfallback-export.json"),
        ("xlsx", "Excel workbook (.xlsx) — for checking or manual import",
         "Excel workbook (*.xlsx)", "paperfallback-export.xlsx"),
        ("csv", "CSV files, one per form, in a folder", "", ""),
    )

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.result_lines: list[str] = []
        self.setWindowTitle("Export for re-import — PaperFallback")
        body = downtime_dialog_body(self)
        heading = QLabel("Export the re-entered forms", self)
        heading.setObjectName("pageTitle")
        body.addWidget(heading)
        box = QGroupBox("&Format", self)
        box_layout = QVBoxLayout(box)
        self.format_buttons: dict[str, QRadioButton] = {}
        group = QButtonGroup(self)
        for fmt, text, _filter, _name in self.FORMATS:
            button = QRadioButton(text, box)
            group.addButton(button)
            box_layout.addWidget(button)
            self.format_buttons[fmt] = button
        self.format_buttons["fhir"].setChecked(True)
        body.addWidget(box)
        self.all_check = QCheckBox("Export &everything again (not only what is new or "
                                   "corrected since the last export)", self)
        body.addWidget(self.all_check)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        body.addWidget(self.status_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.export_button = QPushButton("E&xport…", self)
        self.export_button.setDefault(True)
        self.export_button.setToolTip("Choose where to save, then export (Enter)")
        self.close_button = QPushButton("Close", self)
        self.export_button.clicked.connect(self.export)
        self.close_button.clicked.connect(self.reject)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        body.addWidget(self._sending_box())
        body.addLayout(buttons)
        self.setMinimumWidth(600)
        self.refresh_sending()

    def _sending_box(self) -> QGroupBox:
        """Sent to the EPR (export --to): the counts, and send / retry the rejected ones."""
        box = QGroupBox("Sent to the EPR", self)
        layout = QVBoxLayout(box)
        self.sending_label = QLabel(box)
        self.sending_label.setWordWrap(True)
        self.sending_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.sending_label)
        row = QHBoxLayout()
        row.addStretch(1)
        self.send_button = QPushButton("&Send to the EPR", box)
        self.retry_button = QPushButton("&Retry rejected", box)
        target = Settings.load(self.window_.ctx.data_dir).export_to_url
        for button in (self.send_button, self.retry_button):
            button.setEnabled(bool(target))
            button.setToolTip(f"Send to {target}" if target else
                              "IT sets export_to_url in settings.json (docs/install.md §10)")
            row.addWidget(button)
        self.send_button.clicked.connect(lambda: self.send(retry_rejected=False))
        self.retry_button.clicked.connect(lambda: self.send(retry_rejected=True))
        layout.addLayout(row)
        return box

    def refresh_sending(self) -> None:
        try:
            lines = send_status(self.window_.ctx.data_dir, self.window_.ctx.key)
        except PaperFallbackError as exc:
            lines = [f"Cannot read what was sent: {exc}"]
        self.sending_label.setText("\n".join(lines))

    def send(self, *, retry_rejected: bool) -> None:
        data_dir, key = self.window_.ctx.data_dir, self.window_.ctx.key
        catalogue = self.window_.ctx.catalogue

        def job(control: TaskControl) -> list[str]:
            control.progress(0, 1, "Sending to the EPR…")
            return send_to_epr(data_dir, key, retry_rejected=retry_rejected,
                               catalogue=catalogue)

        def done(lines: Any) -> None:
            self._sending_idle()
            self.result_lines = list(lines)
            self.status_label.setText("\n".join(self.result_lines))
            self.refresh_sending()

        def failed(exc: BaseException) -> None:
            self._sending_idle()
            message = str(exc) if isinstance(exc, PaperFallbackError | OSError) else repr(exc)
            self.status_label.setText(f"NOT SENT: {message}")
            self.window_.prompts.error(self, "Sending to the EPR failed", message)
            self.refresh_sending()

        self.send_button.setEnabled(False)
        self.retry_button.setEnabled(False)
        self.status_label.setText("Sending to the EPR…")
        self.window_.run_task(job, on_success=done, on_failure=failed)

    def _sending_idle(self) -> None:
        self.send_button.setEnabled(True)
        self.retry_button.setEnabled(True)

    def chosen_format(self) -> str:
        return next(f for f, b in self.format_buttons.items() if b.isChecked())

    def export(self) -> None:
        fmt = self.chosen_format()
        prompts = self.window_.prompts
        entry = next(f for f in self.FORMATS if f[0] == fmt)
        if fmt == "csv":
            paths = prompts.open_paths(self, "Choose a folder for the CSV files", folder=True)
            out = Path(paths[0]) if paths else None
        else:
            chosen = prompts.save_path(self, "Save the export", str(Path.home() / entry[3]),
                                       entry[2])
            out = Path(chosen) if chosen else None
        if out is None:
            return
        choice = ExportChoice(fmt, out, self.all_check.isChecked())
        data_dir, key = self.window_.ctx.data_dir, self.window_.ctx.key
        catalogue = self.window_.ctx.catalogue

        def job(control: TaskControl) -> list[str]:
            control.progress(0, 1, "Exporting…")
            return run_export(data_dir, key, choice, catalogue)

        def done(lines: Any) -> None:
            self.export_button.setEnabled(True)
            self.result_lines = list(lines)
            self.status_label.setText("\n".join(self.result_lines))

        def failed(exc: BaseException) -> None:
            self.export_button.setEnabled(True)
            message = str(exc) if isinstance(exc, PaperFallbackError | OSError) else repr(exc)
            self.status_label.setText(f"NOT EXPORTED: {message}")
            prompts.error(self, "The export failed", message)

        self.export_button.setEnabled(False)
        self.status_label.setText("Exporting…")
        self.window_.run_task(job, on_success=done, on_failure=failed)
