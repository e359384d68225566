"""Background jobs of the main window: loading the demo hospital and importing an extract.

They run off the GUI thread (``BackgroundTask``) so the window stays responsive, and end
in ``reload`` so the page that fits the new cache is shown. Split from ``main_window``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import ImportRefused, PaperFallbackError
from paperfallback.ui.background import BackgroundTask, TaskControl
from paperfallback.ui.main_layout import MainWindowLayout


class CacheJobs(MainWindowLayout):
    """Demo load and extract import in the background; needs ``ctx``, ``prompts``,
    ``settings``, ``status``, ``tasks`` and ``reload`` from ``MainWindow``."""

    def run_task(self, job: Callable[[TaskControl], Any], *,
                 on_success: Callable[[Any], None],
                 on_failure: Callable[[BaseException], None]) -> BackgroundTask:
        task = BackgroundTask(job, self)
        task.succeeded.connect(on_success)
        task.failed.connect(on_failure)
        task.done.connect(lambda: self._forget(task))
        self.tasks.append(task)
        task.start()
        return task

    def _forget(self, task: BackgroundTask) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        task.deleteLater()

    def load_demo(self) -> None:
        if self.status is not None and self.status.has_snapshot and not self.prompts.confirm(
            self, "Load demo hospital",
            "This replaces the patient data on this PC with made-up demo patients. Continue?"):
            return
        data_dir, key = self.ctx.data_dir, self.ctx.key

        def job(control: TaskControl) -> None:
            from paperfallback.cache.demo import build_demo_cache

            with CacheStore.open(data_dir, key[0], key_source=key[1]) as store:
                build_demo_cache(store, progress=control.progress)  # the standard demo

        self._start_cache_job(job, "Loading the demo hospital…")

    def import_extract(self, *, folder: bool) -> None:
        paths = self.prompts.open_paths(
            self, "Import an EPR extract", folder=folder,
            file_filter="EPR extracts (*.json *.ndjson *.csv *.xlsx);;All files (*)")
        if paths:
            self._import_paths(paths, force=False)

    def _import_paths(self, paths: list[str], *, force: bool) -> None:
        data_dir, key, settings = self.ctx.data_dir, self.ctx.key, self.settings
        source = ", ".join(paths)

        def job(control: TaskControl) -> None:
            control.progress(0, 2, "Reading the extract…")
            with CacheStore.open(data_dir, key[0], key_source=key[1]) as store:
                try:  # streamed into the cache: memory does not grow with the extract
                    store.import_extract(
                        [Path(p) for p in paths],
                        hospital_number_systems=settings.hospital_number_systems,
                        force=force, max_drop_share=settings.max_patient_drop_share)
                    control.progress(1, 2, "Saving…")
                except Exception as exc:
                    store.record_refresh(ok=False, source=source, message=str(exc)[:500])
                    raise
                store.record_refresh(ok=True, source=source)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ImportRefused) and self.prompts.confirm(
                    self, "Import looks partial", f"{exc}\n\nImport it anyway?"):
                self._import_paths(paths, force=True)
                return
            self._job_failed("The extract was not imported", exc)

        self._start_cache_job(job, "Importing the extract…", on_failure=failed)

    def _start_cache_job(self, job: Callable[[TaskControl], Any], text: str, *,
                         on_failure: Callable[[BaseException], None] | None = None) -> None:
        for button in (self.load_demo_button, self.import_button):
            button.setEnabled(False)
        self.first_run_progress.setText(text)
        self.statusBar().showMessage(text)

        def finished(_result: object) -> None:
            self._cache_job_done()
            self.statusBar().showMessage("Patient data loaded.", 10_000)

        def failed(exc: BaseException) -> None:
            self._cache_job_done()
            (on_failure or (lambda e: self._job_failed("The data was not loaded", e)))(exc)

        task = self.run_task(job, on_success=finished, on_failure=failed)
        task.progress.connect(lambda _d, _t, msg: self.first_run_progress.setText(msg))

    def _cache_job_done(self) -> None:
        for button in (self.load_demo_button, self.import_button):
            button.setEnabled(True)
        self.first_run_progress.setText("")
        self.statusBar().clearMessage()
        self.reload()

    def _job_failed(self, title: str, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, PaperFallbackError | OSError) else (
            f"Unexpected error: {exc!r}")
        self.prompts.error(self, title, message)
