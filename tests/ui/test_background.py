"""Background tasks: results, errors and Cancel come back on the UI thread."""

from __future__ import annotations

import threading
from typing import Any

from paperfallback.domain.errors import InputError
from paperfallback.ui.background import BackgroundTask, TaskControl


def test_result_and_progress_arrive(qtbot: Any) -> None:
    seen: list[tuple[int, int, str]] = []

    def job(control: TaskControl) -> str:
        for i in range(3):
            control.progress(i, 3, f"step {i}")
        return "done"

    task = BackgroundTask(job)
    task.progress.connect(lambda d, t, m: seen.append((d, t, m)))
    with qtbot.waitSignal(task.succeeded, timeout=5_000) as blocker:
        task.start()
    assert blocker.args == ["done"]
    qtbot.waitUntil(lambda: len(seen) == 3)
    assert seen[-1] == (2, 3, "step 2")


def test_errors_are_handed_back_not_raised(qtbot: Any) -> None:
    def job(control: TaskControl) -> None:
        raise InputError("row 3 is wrong", where="x.csv:3")

    task = BackgroundTask(job)
    with qtbot.waitSignal(task.failed, timeout=5_000) as blocker:
        task.start()
    assert str(blocker.args[0]) == "x.csv:3: row 3 is wrong"


def test_cancel_stops_a_long_job(qtbot: Any) -> None:
    started = threading.Event()
    steps: list[int] = []

    def job(control: TaskControl) -> None:
        started.set()
        for i in range(10_000_000):
            control.progress(i, 10_000_000)
            steps.append(i)
            threading.Event().wait(0.001)  # simulated work, on the worker thread

    task = BackgroundTask(job)
    task.start()
    qtbot.waitUntil(started.is_set)
    with qtbot.waitSignals([task.cancelled, task.done], timeout=5_000):
        task.cancel()
    assert not task.is_running()
    assert len(steps) < 10_000_000


def test_a_job_that_ignores_cancel_still_reports_cancelled(qtbot: Any) -> None:
    gate = threading.Event()

    def job(control: TaskControl) -> str:
        gate.wait(5)
        return "finished anyway"

    task = BackgroundTask(job)
    task.start()
    with qtbot.waitSignal(task.cancelled, timeout=5_000):
        task.cancel()
        gate.set()
