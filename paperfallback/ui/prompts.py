"""Every blocking dialog the app opens (files, messages, the system print dialog) goes
through one small object, so tests can answer them without a modal event loop."""

from __future__ import annotations

from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget


class Prompts:
    """The real dialogs. Tests pass a subclass whose methods return scripted answers."""

    def open_paths(self, parent: QWidget | None, title: str, *, folder: bool = False,
                   file_filter: str = "") -> list[str]:
        if folder:
            chosen = QFileDialog.getExistingDirectory(parent, title)
            return [chosen] if chosen else []
        files, _ = QFileDialog.getOpenFileNames(parent, title, "", file_filter)
        return list(files)

    def save_path(self, parent: QWidget | None, title: str, suggested: str,
                  file_filter: str = "PDF files (*.pdf)") -> str | None:
        chosen, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
        return chosen or None

    def choose_printer(self, parent: QWidget | None, printer: QPrinter) -> bool:
        dialog = QPrintDialog(printer, parent)
        dialog.setWindowTitle("Print — choose the printer")
        return dialog.exec() == QDialog.DialogCode.Accepted

    def info(self, parent: QWidget | None, title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)

    def error(self, parent: QWidget | None, title: str, text: str) -> None:
        QMessageBox.critical(parent, title, text)

    def confirm(self, parent: QWidget | None, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            parent, title, text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes
