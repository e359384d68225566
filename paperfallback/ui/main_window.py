"""The one window a nurse sees: downtime marker, cache status, big actions, ward list.

States: the ward list (normal), first run (no cache yet: offer the demo or an import) and
a problem page (wrong key, damaged file, bad settings) that says what to do instead of
crashing. Every rule it shows comes from the core (paperfallback.cache.ward_summary).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QWidget

from paperfallback.cache.store import CacheStatus, CacheStore
from paperfallback.cache.ward_summary import (
    ALL_WARDS,
    CacheBanner,
    CacheLevel,
    PatientSummary,
    cache_banner,
    search_ids,
    ward_summaries,
)
from paperfallback.cache.wards import UnknownWard, home_ward, ward_label
from paperfallback.domain.errors import PaperFallbackError, WrongKey
from paperfallback.domain.keyed import KeyedSource
from paperfallback.reentry.observations import keyed_by_patient
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.ward_flags import News2Flag, acknowledge_news2, open_news2_flags
from paperfallback.settings import Settings
from paperfallback.ui.background import BackgroundTask
from paperfallback.ui.cache_jobs import CacheJobs
from paperfallback.ui.context import AppContextLike
from paperfallback.ui.patient_model import PATIENT_ID_ROLE, Column
from paperfallback.ui.prompts import Prompts
from paperfallback.workstore import WORK_FILE, WorkStore

WINDOW_TITLE = "PaperFallback — DOWNTIME COPY (not the live EPR)"
STATUS_REFRESH_MS = 30_000
# Small enough for 1366×768 at 125 % display scaling (1093×614 logical pixels, less the
# taskbar and title bar); below it the action column scrolls rather than clips.
MINIMUM_SIZE = QSize(800, 480)
log = logging.getLogger(__name__)


class MainWindow(CacheJobs):
    """Built from an app context (data folder, settings, key) and a ``Prompts`` seam."""

    def __init__(self, ctx: AppContextLike, *, prompts: Prompts | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.prompts = prompts or Prompts()
        self.store: CacheStore | None = None
        self.settings = Settings()
        self.settings_problem = ""
        self.ward_problem = ""  # the ward setting matches no ward (shown above the list)
        self.status: CacheStatus | None = None
        self.tasks: list[BackgroundTask] = []
        self._summaries: list[PatientSummary] = []
        self._imported_at: object = None
        self._child_windows: list[QWidget] = []
        self.reviewer = ""  # the last NEWS2 reviewer's name, offered again this session
        self.setWindowTitle(WINDOW_TITLE)
        self.setMinimumSize(MINIMUM_SIZE)  # the layouts decide above this; see ui.app
        self._build()
        self._build_menus()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start()
        self.reload()

    # ---- state --------------------------------------------------------------------------

    def _open_store(self) -> CacheStore:
        if self.store is not None and self.store.stand_in:  # a first import since
            self.store.close()
            self.store = None
        if self.store is None:
            self.store = self.ctx.open_cache()
        return self.store

    def reload(self, *, home: bool = False) -> None:
        """Re-read settings and the cache, and show the page that fits; ``home`` goes back to
        this PC's own ward (else the ward shown stays)."""
        if home:
            self.ward_combo.clear()
        try:
            self.settings = Settings.load(self.ctx.data_dir)
            self.settings_problem = ""
        except PaperFallbackError as exc:
            self.settings = Settings()
            self.settings_problem = str(exc)
        try:
            store = self._open_store()
            self.status = store.status(stale_minutes=self.settings.stale_minutes)
            if self.status.has_snapshot:
                store.wards()  # a damaged page shows here, not half-way through the list
        except WrongKey as exc:
            self._show_problem(
                "Patient data cannot be opened",
                "The patient data on this PC cannot be unlocked: the key is wrong or the "
                "file is damaged. Nothing has been changed or deleted.<br><br>"
                "<b>What to do:</b> call the IT service desk and tell them the message "
                "below. You can still print <b>blank forms</b>.<br><br>"
                f"<small>{_escape(str(exc))}</small>")
            return
        except PaperFallbackError as exc:
            self._show_problem(
                "Patient data cannot be opened",
                "The patient data on this PC cannot be read. Nothing has been changed.<br><br>"
                "<b>What to do:</b> call the IT service desk and tell them the message below. "
                f"You can still print <b>blank forms</b>.<br><br><small>{_escape(str(exc))}"
                "</small>")
            return
        self.cache_banner.show_banner(self._banner())
        self._imported_at = self.status.imported_at
        if not self.status.has_snapshot:
            self.pages.setCurrentWidget(self.first_run_page)
            self._set_cache_actions(enabled=False)
            self.setWindowTitle(WINDOW_TITLE)
            return
        self.pages.setCurrentWidget(self.ward_page)
        self._set_cache_actions(enabled=True)
        try:
            self._fill_wards(store)
        except PaperFallbackError as exc:  # e.g. a damaged page found while reading patients
            self._show_problem(
                "Patient data cannot be read",
                "Part of the patient data on this PC is damaged. Nothing has been changed."
                "<br><br><b>What to do:</b> call the IT service desk; a new extract rebuilds "
                "it. You can still print <b>blank forms</b>.<br><br>"
                f"<small>{_escape(str(exc))}</small>")
            return
        if not self.ward_chosen():
            self.ward_combo.setFocus()
        elif self.focusWidget() is None:
            self.print_ward_button.setFocus()
        if not self.actions_area.isAncestorOf(self.focusWidget()):
            self.actions_area.verticalScrollBar().setValue(0)  # Print ward pack in sight

    def _banner(self) -> CacheBanner:
        assert self.status is not None
        banner = cache_banner(self.status)
        if self.settings_problem:
            banner = CacheBanner(
                banner.level, banner.headline,
                f"{banner.detail} Settings could not be read ({self.settings_problem}); "
                "using the defaults: call IT.")
        left_out = len(self.ctx.catalogue.problems)
        if left_out:  # named in full by 'paperfallback self-test' and the CLI
            banner = CacheBanner(
                banner.level, banner.headline,
                f"{banner.detail} {left_out} of this trust's own forms could not be loaded "
                "and are not offered: call IT.")
        return banner

    def _show_problem(self, title: str, html: str) -> None:
        self.store = None
        self.status = None
        self.cache_banner.show_banner(CacheBanner(
            CacheLevel.NONE, "PATIENT DATA CANNOT BE OPENED",
            "Only blank forms can be printed until IT fixes this."), problem=True)
        self.problem_title.setText(title)
        self.problem_text.setText(html)
        self.pages.setCurrentWidget(self.problem_page)
        self._set_cache_actions(enabled=False)

    def _set_cache_actions(self, *, enabled: bool) -> None:
        for button in (self.print_ward_button, self.clinic_button, self.theatre_button):
            button.setEnabled(enabled)

    def refresh_status(self) -> None:
        """Timer tick: update the age and staleness; reload if a new extract arrived."""
        if self.store is None or self.status is None:
            return
        try:
            self.status = self.store.status(stale_minutes=self.settings.stale_minutes)
        except PaperFallbackError:
            self.reload()
            return
        if self.status.imported_at != self._imported_at:
            self.reload()
            return
        self.cache_banner.show_banner(self._banner())
        self.refresh_flags()

    def refresh_flags(self) -> None:
        """Timer tick: a NEWS2 flag raised (or reviewed) since the list was read shows
        within STATUS_REFRESH_MS, without re-reading the ward."""
        if not (self.ctx.data_dir / WORK_FILE).exists():
            return
        key, source = self.ctx.key
        try:
            with WorkStore.open(self.ctx.data_dir, key, key_source=source) as work:
                flags = open_news2_flags(EntriesStore(work))
        except PaperFallbackError as exc:
            log.warning("NEWS2 flags not re-read: %s", exc)
            return
        if flags != self.model.news2_flags:
            self.model.set_flags(flags)
            self._show_flag_count()

    def _fill_wards(self, store: CacheStore) -> None:
        """The ward switcher: the ward shown stays; else this PC's ward from settings
        (``""``: all patients). A setting that matches no ward leaves no ward chosen and
        says so above the list (paperfallback.cache.wards): never another ward's list."""
        wards = store.wards()
        chosen = self.ward_combo.currentIndex() >= 0
        current: str | None = self.current_ward_code() if chosen else None
        self.model.ward_names = {w.code: w.name for w in wards}
        try:
            home = home_ward(self.settings.ward, wards)
            self.ward_problem = ""
        except UnknownWard as exc:
            home = None
            self.ward_problem = str(exc)
        if current is None and not self.ward_problem:
            current = home.code if home else ALL_WARDS
        self.ward_combo.blockSignals(True)
        self.ward_combo.clear()
        for ward in wards:
            self.ward_combo.addItem(ward_label(ward), ward.code)
        self.ward_combo.addItem("All patients", ALL_WARDS)
        # A ward gone from a new extract is not replaced by the next one in the list.
        self.ward_combo.setCurrentIndex(-1 if current is None
                                        else self.ward_combo.findData(current))
        if self.ward_combo.currentIndex() < 0 and not self.ward_problem:
            self.ward_problem = (f"The ward shown before ({current}) is not in the new "
                                 "patient data.")
        self.ward_combo.blockSignals(False)
        self._ward_changed()

    def ward_chosen(self) -> bool:
        """A ward (or "All patients") is chosen: the list and Ctrl+P have something to do."""
        return self.ward_combo.currentIndex() >= 0

    def current_ward_code(self) -> str:
        data = self.ward_combo.currentData()
        return str(data) if data is not None else ALL_WARDS

    def current_ward_name(self) -> str:
        if not self.ward_chosen():
            return "No ward chosen"
        code = self.current_ward_code()
        return self.model.ward_names.get(code, "All patients") if code else "All patients"

    def _ward_changed(self) -> None:
        if self.store is None:
            return
        self._show_ward_problem()
        self.print_ward_button.setEnabled(self.ward_chosen())
        if not self.ward_chosen():
            self._summaries = []
            self.model.set_rows([])
            self._show_flag_count()
            self.count_label.setText("Choose your ward in the list")
            self.setWindowTitle(f"{self.current_ward_name()} — {WINDOW_TITLE}")
            return
        code = self.current_ward_code()
        keyed, flags = self._work_store_reads()
        self._summaries = ward_summaries(self.store, code, keyed=keyed)
        self.model.news2_flags = flags
        self._show_flag_count()
        self.table.setColumnHidden(Column.WARD, bool(code))
        self.setWindowTitle(f"{self.current_ward_name()} — {WINDOW_TITLE}")
        self._apply_search()

    def _show_ward_problem(self) -> None:
        """The red line above the list while the ward setting matches no ward."""
        if not self.ward_problem:
            self.ward_problem_label.setVisible(False)
            return
        then = ("Choose your ward in the list above before printing." if not
                self.ward_chosen() else "You chose the ward shown; check it before printing.")
        problem = self.ward_problem[:1].upper() + self.ward_problem[1:]
        self.ward_problem_label.setText(
            f"<b>Ward not found.</b> {_escape(problem)}<br><b>{then}</b>")
        self.ward_problem_label.setVisible(True)

    def _work_store_reads(self) -> tuple[KeyedSource | None, dict[str, list[News2Flag]]]:
        """Observations keyed back from paper (long outages), read now, so the latest NEWS2
        column includes them, and the open NEWS2 flags (a paper total that differs from
        its keyed values) for the ! mark. Without a work store nothing was keyed; if it
        cannot be read the list shows the EPR's values alone (and the log says why)."""
        if not (self.ctx.data_dir / WORK_FILE).exists():
            return None, {}
        key, source = self.ctx.key
        try:
            with WorkStore.open(self.ctx.data_dir, key, key_source=source) as work:
                by_patient = keyed_by_patient(work, self.ctx.catalogue)
                flags = open_news2_flags(EntriesStore(work))
        except PaperFallbackError as exc:
            log.warning("ward list without keyed observations or NEWS2 flags: %s", exc)
            return None, {}
        return (lambda patient_id: by_patient.get(patient_id, [])), flags

    def _show_flag_count(self) -> None:
        """The amber line under the list: how many listed patients have a NEWS2 flag."""
        on_list = [s for s in self._summaries if self.model.flags_of(s.patient_id)]
        where = "on this ward" if self.current_ward_code() else "in the hospital"
        self.flags_label.setText(
            f"! {len(on_list)} patient{'s' if len(on_list) != 1 else ''} {where}: a paper "
            "NEWS2 total differs from its keyed values (Ctrl+R)")
        for widget in (self.flags_label, self.review_button):
            widget.setVisible(bool(on_list))

    def open_news2_review(self) -> None:
        """Review the NEWS2 flag of the selected patient (else the first flagged one in
        the list, which is then selected, so the keyboard alone gets there)."""
        if self.store is None or self.pages.currentWidget() is not self.ward_page:
            return
        ids = [i for i in self.selected_patient_ids() if self.model.flags_of(i)]
        if not ids:
            if not any(self.model.flags_of(s.patient_id) for s in self._summaries):
                self.statusBar().showMessage("No NEWS2 flag to review on this list.", 10_000)
                return
            if not any(self.model.flags_of(i) for i in self.visible_patient_ids()):
                self.search_edit.clear()  # the flagged patient is hidden by a search
            ids = [i for i in self.visible_patient_ids() if self.model.flags_of(i)][:1]
            self.select_patients(ids)
        patient_id = ids[0]
        summary = next(s for s in self._summaries if s.patient_id == patient_id)
        from paperfallback.ui.news2_review import News2ReviewDialog

        bed = f", {summary.bed}" if summary.bed else ""
        dialog = News2ReviewDialog(self, self.model.flags_of(patient_id),
                                   patient=f"{summary.name}{bed}",
                                   acknowledge=self._acknowledge_news2,
                                   reviewer=self.reviewer)
        dialog.finished.connect(lambda _result: self._reviewed(dialog))
        self._show_dialog(dialog)

    def _acknowledge_news2(self, discrepancy_id: int, by: str, note: str) -> None:
        key, source = self.ctx.key
        with EntriesStore.open(self.ctx.data_dir, key, key_source=source) as store:
            acknowledge_news2(store, discrepancy_id, by=by, note=note)
        self.reviewer = by.strip()

    def _reviewed(self, dialog: QDialog) -> None:
        """Re-read the flags after a review (the ! goes), keeping the patient selected."""
        if not getattr(dialog, "acknowledged", None):
            return
        selected = self.selected_patient_ids()
        self._ward_changed()
        self.select_patients(selected)
        QTimer.singleShot(0, self.table.setFocus)  # once the dialog has gone
        self.statusBar().showMessage("NEWS2 review recorded.", 10_000)

    def _apply_search(self) -> None:
        if self.store is None:
            return
        text = self.search_edit.text()
        ids = search_ids(self.store, self.current_ward_code(), text)
        rows = self._summaries if ids is None else [
            r for r in self._summaries if r.patient_id in ids]
        self.model.set_rows(rows)
        noun = "patient" if len(rows) == 1 else "patients"
        if ids is None:
            self.count_label.setText(f"{len(rows)} {noun}")
        elif rows:
            self.count_label.setText(f"{len(rows)} {noun} match")
        else:
            self.count_label.setText("No match here — try the ward “All patients”")

    def _search_enter(self) -> None:
        if self.model.rowCount():
            self.table.setFocus()
            self.table.selectRow(0)

    def focus_search(self) -> None:
        if self.pages.currentWidget() is self.ward_page:
            self.search_edit.setFocus()
            self.search_edit.selectAll()

    def selected_patient_ids(self) -> list[str]:
        """Selected patients, in list (bed) order."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.index(r, 0).data(PATIENT_ID_ROLE) for r in rows]

    def visible_patient_ids(self) -> list[str]:
        return [self.model.row_summary(r).patient_id for r in range(self.model.rowCount())]

    def select_patients(self, patient_ids: list[str]) -> None:
        wanted = set(patient_ids)
        selection = self.table.selectionModel()
        selection.clearSelection()
        for row in range(self.model.rowCount()):
            if self.model.row_summary(row).patient_id in wanted:
                selection.select(
                    self.model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.Select
                    | QItemSelectionModel.SelectionFlag.Rows)

    # ---- actions ------------------------------------------------------------------------

    def open_print_ward_pack(self, *, prefer_selected: bool = False) -> None:
        if self.store is None or self.status is None or not self.status.has_snapshot:
            return
        if not self.ward_chosen():  # a ward setting that matches no ward: never guess
            self.statusBar().showMessage("Choose your ward in the list first.", 10_000)
            self.ward_combo.setFocus()
            return
        from paperfallback.ui.print_dialog import PrintDialog

        self._show_dialog(PrintDialog(
            self, kind="ward", ward_code=self.current_ward_code(),
            ward_name=self.current_ward_name(), ward_count=len(self._summaries),
            selected_ids=self.selected_patient_ids(), prefer_selected=prefer_selected))

    def open_print_blank(self) -> None:
        from paperfallback.ui.print_dialog import PrintDialog

        code = self.current_ward_code() if self.store is not None else ALL_WARDS
        self._show_dialog(PrintDialog(self, kind="blank", ward_code=code))

    def open_clinic_lists(self) -> None:
        if self.store is None:
            return
        from paperfallback.ui.list_picker import ListPickerDialog

        self._show_dialog(ListPickerDialog(self, kind="clinic"))

    def open_theatre_lists(self) -> None:
        if self.store is None:
            return
        from paperfallback.ui.list_picker import ListPickerDialog

        self._show_dialog(ListPickerDialog(self, kind="theatre"))

    def open_reentry(self) -> None:
        from paperfallback.ui.after_outage import open_reentry

        window = open_reentry(self)
        if window is not None:
            self._child_windows.append(window)

    def open_export(self) -> None:
        from paperfallback.ui.after_outage import open_export

        open_export(self)

    def open_settings(self) -> None:
        if not self.prompts.confirm(
                self, "Settings for IT staff",
                "These settings are for IT staff. Changing them can make this PC print the "
                "wrong ward or the wrong forms.\n\nOpen the settings?"):
            return
        from paperfallback.ui.settings_dialog import SettingsDialog

        self._show_dialog(SettingsDialog(self))

    def _show_dialog(self, dialog: QWidget) -> None:
        """Non-blocking: tests drive the dialog; users get a window-modal dialog."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.open_dialog = dialog
        dialog.show()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop every render, print and import before the window goes (no thread is left
        running against a closed store)."""
        for child in self.findChildren(QDialog):
            shutdown = getattr(child, "shutdown", None)
            if callable(shutdown):
                shutdown()
        for task in list(self.tasks):
            task.cancel()
            task.wait()
        if self.store is not None:
            self.store.close()
            self.store = None
        super().closeEvent(event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
