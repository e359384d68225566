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

from paperfallback.domain.errors import CacheError, PaperFallbackError
from paperfallback.settings import Settings
from paperfallback.ui.background import TaskControl
from paperfallback.ui.banners import DowntimeBanner

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


def run_export(data_dir: Path, key: tuple[str, str], choice: ExportChoice) -> list[str]:
    """What ``paperfallback export`` does, for the app (same core calls, same messages)."""
    from paperfallback.cache.store import CacheStore
    from paperfallback.cache.work_db import open_work_db
    from paperfallback.export.fhir_common import DEFAULT_BASE_URL, SiteSystems
    from paperfallback.export.from_entries import read_forms
    from paperfallback.export.pipeline import export_forms
    from paperfallback.export.state import ExportState
    from paperfallback.formspec import load_catalogue
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.register import Register, pc_code_for

    settings = Settings.load(data_dir)
    cache: CacheStore | None
    try:
        cache = CacheStore.open(data_dir, key[0], key_source=key[1])
    except CacheError:
        cache = None  # exporting still works; printed names may be missing
    conn = open_work_db(data_dir, key[0], key_source=key[1])
    try:
        register = Register(conn, pc_code=pc_code_for(settings), pc_id=settings.pc_id)
        store = EntriesStore(conn)
        read = read_forms(
            store, register, load_catalogue(), cache, site_code=settings.site_code,
            hospital_number_system=(settings.hospital_number_systems or [""])[0]
            or "https://fhir.nhs.uk/Id/local-patient-identifier",
            double_entry_forms=settings.double_entry_forms,
        )
        base = settings.export_base_url or DEFAULT_BASE_URL
        summary = export_forms(
            read.forms, fmt=choice.fmt,  # type: ignore[arg-type]
            out=choice.out, state=ExportState(conn),
            systems=SiteSystems.for_site(settings.site_code, base),
            pc_id=settings.pc_id, all_entries=choice.all_entries,
        )
        if summary.instance_ids:
            store.mark_exported(summary.instance_ids)
    finally:
        conn.close()
        if cache is not None:
            cache.close()
    summary.problems[:0] = read.problems
    return summary.lines()


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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 10)
        layout.addWidget(DowntimeBanner(self))
        body = QVBoxLayout()
        body.setContentsMargins(12, 8, 12, 0)
        layout.addLayout(body)
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
        body.addLayout(buttons)
        self.setMinimumWidth(600)

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

        def job(control: TaskControl) -> list[str]:
            control.progress(0, 1, "Exporting…")
            return run_export(data_dir, key, choice)

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
