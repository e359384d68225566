"""One render (or render-and-print) at a time for a print dialog: progress bar, Cancel,
and the outcome handed back on the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QPushButton

from paperfallback.ui.background import BackgroundTask


class RenderRunner:
    """Owns at most one render at a time for a dialog: progress bar, Cancel, outcome."""

    def __init__(self, dialog: QDialog, progress: QProgressBar, cancel: QPushButton,
                 status: QLabel) -> None:
        self.dialog = dialog
        self.progress_bar = progress
        self.cancel_button = cancel
        self.status = status
        self.task: BackgroundTask | None = None
        cancel.clicked.connect(self.cancel)
        self._idle()

    def busy(self) -> bool:
        return self.task is not None

    def start(self, job: Callable[[Any], Any], text: str, *,
              on_success: Callable[[Any], None],
              on_failure: Callable[[BaseException], None],
              on_cancelled: Callable[[], None] | None = None) -> BackgroundTask:
        self.cancel()
        task = BackgroundTask(job, self.dialog)
        self.task = task
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.status.setText(text)
        task.progress.connect(self._progress)
        task.succeeded.connect(lambda pack: self._done(task, lambda: on_success(pack)))
        task.failed.connect(lambda exc: self._done(task, lambda: on_failure(exc)))
        task.cancelled.connect(lambda: self._done(task, on_cancelled or (
            lambda: self.status.setText("Cancelled: nothing was printed."))))
        task.start()
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def _progress(self, done: int, total: int, text: str) -> None:
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(done)
        if text:
            self.status.setText(text)

    def _done(self, task: BackgroundTask, then: Callable[[], None]) -> None:
        if self.task is task:
            self.task = None
            self._idle()
        task.deleteLater()
        then()

    def _idle(self) -> None:
        self.progress_bar.setVisible(False)
        self.cancel_button.setVisible(False)

    def shutdown(self) -> None:
        task = self.task
        if task is not None:
            task.cancel()
            task.wait()
