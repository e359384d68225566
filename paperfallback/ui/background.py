"""Run slow core work (rendering, importing, spooling) off the UI thread.

The job is a plain function of a ``TaskControl``: it reports progress and asks whether it
was cancelled; the core never sees Qt. Results and errors come back as queued signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from paperfallback.ui.signals import emit, emitter


class Cancelled(Exception):
    """Raised inside a job when the user pressed Cancel."""


class TaskControl:
    """What a job sees: progress reporting and cooperative cancellation."""

    def __init__(self, report: Callable[[int, int, str], None]) -> None:
        self._report = report
        self._cancel = threading.Event()

    def progress(self, done: int, total: int, text: str = "") -> None:
        if self._cancel.is_set():
            raise Cancelled
        self._report(done, total, text)

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    def cancel(self) -> None:
        self._cancel.set()


class _Thread(QThread):
    def __init__(self, task: BackgroundTask) -> None:
        super().__init__()
        self._task = task

    def run(self) -> None:
        self._task._run_job()


class BackgroundTask(QObject):
    """One job on its own thread. Connect to the signals, then ``start()``."""

    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    done = Signal()  # after any of the three outcomes

    def __init__(self, job: Callable[[TaskControl], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self.control = TaskControl(emitter(self.progress))
        self._thread = _Thread(self)
        self._thread.finished.connect(self._on_thread_finished)
        self._outcome: tuple[str, Any] = ("failed", RuntimeError("the task did not run"))

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.control.cancel()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self._thread.wait(timeout_ms)

    def _run_job(self) -> None:  # on the worker thread
        try:
            result = self._job(self.control)
        except Cancelled:
            self._outcome = ("cancelled", None)
        except Exception as exc:  # shown to the user by whoever started the task
            self._outcome = ("cancelled", None) if self.control.is_cancelled() else (
                "failed", exc)
        else:
            self._outcome = ("cancelled", None) if self.control.is_cancelled() else (
                "succeeded", result)

    def _on_thread_finished(self) -> None:  # back on the UI thread
        kind, value = self._outcome
        if kind == "succeeded":
            emit(self.succeeded, value)
        elif kind == "cancelled":
            emit(self.cancelled)
        else:
            emit(self.failed, value)
        emit(self.done)
