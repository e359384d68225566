"""Settings for IT staff (Tools > Settings for IT staff…, Ctrl+Alt+S, after a warning).

Edits ``settings.json`` in the data folder through ``Settings.save``; IT can push the same
file to every PC instead (docs/user-guide.md, IT section). Unknown keys in the file are kept.
"""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtPrintSupport import QPrinterInfo
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
)

from paperfallback.cache.wards import home_ward, ward_label
from paperfallback.domain.errors import PaperFallbackError
from paperfallback.domain.records import Ward
from paperfallback.register.ids import normalise_pc_code
from paperfallback.settings import Settings
from paperfallback.ui.screen_fit import fit_window

if TYPE_CHECKING:
    from paperfallback.ui.main_window import MainWindow

ALL_WARDS_KEY = ""  # the "every ward without its own list" entry in the forms editor


class SettingsDialog(QDialog):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Settings for IT staff — PaperFallback")
        self.settings = deepcopy(window.settings)
        self._ward_forms = {k: list(v) for k, v in self.settings.ward_forms.items()}
        self._default_forms = list(self.settings.default_forms)
        self._forms_key: str = ALL_WARDS_KEY

        warning = QLabel(
            "<b>For IT staff.</b> These settings decide which ward this PC prints for, which "
            "forms it prints and where. They are saved in <tt>settings.json</tt> in the data "
            "folder, which IT can also push to every PC.", self)
        warning.setWordWrap(True)

        self.site_edit = QLineEdit(self.settings.site_code, self)
        self.site_edit.setToolTip("The trust's site code, printed on every page.")
        self.ward_combo = QComboBox(self)
        self.ward_combo.setEditable(True)
        self.ward_combo.setToolTip("The ward this PC belongs to: the app opens on it. Pick "
                                   "it from the list, or type its code or full name.")
        self.ward_combo.addItem("(all wards)", "")
        for ward in self._wards():
            self.ward_combo.addItem(ward_label(ward), ward.code)
        index = self.ward_combo.findData(self.settings.ward)
        if index >= 0:
            self.ward_combo.setCurrentIndex(index)
        else:
            self.ward_combo.setEditText(self.settings.ward)
        self.pc_id_edit = QLineEdit(self.settings.pc_id, self)
        self.pc_id_edit.setToolTip("This PC's name, recorded with every printed form.")
        self.pc_code_edit = QLineEdit(self.settings.pc_code, self)
        self.pc_code_edit.setPlaceholderText("derived from the PC name")
        self.pc_code_edit.setToolTip(
            "1 to 4 characters, unique to this PC within the site. Form IDs and downtime "
            "numbers start with it, so two PCs must never share one.")
        data_dir = QLabel(str(window.ctx.data_dir), self)
        data_dir.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        data_dir.setToolTip("Chosen with --data-dir or the PAPERFALLBACK_DATA_DIR variable; "
                            "the settings file lives inside it.")
        self.stale_spin = QSpinBox(self)
        self.stale_spin.setRange(5, 7 * 24 * 60)
        self.stale_spin.setSuffix(" minutes")
        self.stale_spin.setValue(self.settings.stale_minutes)
        self.stale_spin.setToolTip("After this long without a refresh, the data is shown "
                                   "and printed as STALE.")
        self.printer_combo = QComboBox(self)
        self.printer_combo.setEditable(True)
        self.printer_combo.addItem("")
        self.printer_combo.addItems(QPrinterInfo.availablePrinterNames())
        self.printer_combo.setEditText(self.settings.default_printer)
        self.printer_combo.setToolTip("The printer the print dialog offers first.")
        self.refresh_edit = QLineEdit(self.settings.refresh_source, self)
        self.refresh_edit.setPlaceholderText("drop folder or FHIR Bulk Data URL")
        self.refresh_edit.setToolTip("Where the scheduled refresh fetches new extracts from.")

        form = QFormLayout()
        form.addRow("&Site code:", self.site_edit)
        form.addRow("This PC's &ward:", self.ward_combo)
        form.addRow("PC &identifier:", self.pc_id_edit)
        form.addRow("PC &code:", self.pc_code_edit)
        form.addRow("Data folder:", data_dir)
        form.addRow("S&tale after:", self.stale_spin)
        form.addRow("Default &printer:", self.printer_combo)
        form.addRow("Cache &refresh source:", self.refresh_edit)

        forms_box = QGroupBox("Forms preselected in the ward pack", self)
        self.forms_ward_combo = QComboBox(forms_box)
        self.forms_ward_combo.addItem("Every ward without its own list", ALL_WARDS_KEY)
        for ward in self._wards():
            self.forms_ward_combo.addItem(f"{ward.name} ({ward.code})", ward.code)
        self.forms_list = QListWidget(forms_box)
        self.forms_list.setToolTip("Tick the forms printed for each patient by default. Space "
                                   "ticks or unticks the highlighted form.")
        for form_id, title in self._form_titles():
            item = QListWidgetItem(f"{title}  [{form_id}]")
            item.setData(Qt.ItemDataRole.UserRole, form_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.forms_list.addItem(item)
        self.forms_ward_combo.currentIndexChanged.connect(self._forms_ward_changed)
        box_layout = QVBoxLayout(forms_box)
        row = QHBoxLayout()
        label = QLabel("F&or:", forms_box)
        label.setBuddy(self.forms_ward_combo)
        row.addWidget(label)
        row.addWidget(self.forms_ward_combo, 1)
        box_layout.addLayout(row)
        box_layout.addWidget(self.forms_list)
        self._show_forms(ALL_WARDS_KEY)

        self.error_label = QLabel(self)
        self.error_label.setStyleSheet("color: #B3000C; font-weight: bold;")
        self.error_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(warning)
        layout.addLayout(form)
        layout.addWidget(forms_box, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        fit_window(self, preferred=QSize(640, 720))  # Save stays on a 1366×768 screen

    def _wards(self) -> list[Ward]:
        store = self.window_.store
        try:
            return list(store.wards()) if store is not None else []
        except PaperFallbackError:
            return []

    def _form_titles(self) -> list[tuple[str, str]]:
        try:
            return [(f.id, f.display_title) for f in self.window_.ctx.catalogue
                    if f.scope in ("patient", "ward")]
        except PaperFallbackError:
            return [(f, f) for f in self._default_forms]

    def _checked_forms(self) -> list[str]:
        return [self.forms_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.forms_list.count())
                if self.forms_list.item(i).checkState() == Qt.CheckState.Checked]

    def _store_forms(self) -> None:
        checked = self._checked_forms()
        if self._forms_key == ALL_WARDS_KEY:
            self._default_forms = checked
        elif checked != self._default_forms:
            self._ward_forms[self._forms_key] = checked
        else:
            self._ward_forms.pop(self._forms_key, None)

    def _show_forms(self, key: str) -> None:
        self._forms_key = key
        wanted = self._default_forms if key == ALL_WARDS_KEY else self._ward_forms.get(
            key, self._default_forms)
        for i in range(self.forms_list.count()):
            item = self.forms_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _forms_ward_changed(self) -> None:
        self._store_forms()
        self._show_forms(str(self.forms_ward_combo.currentData() or ALL_WARDS_KEY))

    def collect(self) -> Settings:
        """The settings as edited (raises InputError on a value that cannot be saved)."""
        self._store_forms()
        settings = deepcopy(self.settings)
        settings.site_code = self.site_edit.text().strip() or settings.site_code
        index = self.ward_combo.findText(self.ward_combo.currentText())
        typed = self.ward_combo.currentText().strip()
        settings.ward = str(self.ward_combo.itemData(index) or "") if index >= 0 else typed
        wards = self._wards()
        if index < 0 and typed and wards:  # a typed ward must be one of the data's wards
            home = home_ward(typed, wards)  # UnknownWard: "Not saved", with the list
            settings.ward = home.code if home else ""
        settings.pc_id = self.pc_id_edit.text().strip() or settings.pc_id
        code = self.pc_code_edit.text().strip()
        settings.pc_code = normalise_pc_code(code) if code else ""
        settings.stale_minutes = self.stale_spin.value()
        settings.default_printer = self.printer_combo.currentText().strip()
        settings.refresh_source = self.refresh_edit.text().strip()
        settings.default_forms = list(self._default_forms)
        settings.ward_forms = {k: list(v) for k, v in self._ward_forms.items()}
        return settings

    def save(self) -> None:
        try:
            settings = self.collect()
            settings.save(self.window_.ctx.data_dir)
        except (PaperFallbackError, OSError) as exc:
            self.error_label.setText(f"Not saved: {exc}")
            return
        self.window_.reload(home=True)
        self.accept()
