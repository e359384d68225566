"""Record the review of a NEWS2 flag: a paper chart total that differs from the score of
the values keyed from it (paperfallback.reentry.ward_flags). Opened from the ward list
(Ctrl+R) and from the keying window's reconciliation view; the reviewer's name and a
note are required, and nothing on the paper or in the keyed values changes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.reentry.ward_flags import News2Flag
from paperfallback.ui import theme
from paperfallback.ui.banners import downtime_dialog_body

Acknowledge = Callable[[int, str, str], None]  # (discrepancy id, reviewer, note)


class News2ReviewDialog(QDialog):
    """Tick the flags reviewed, type your name and a note, Enter records it."""

    def __init__(self, parent: QWidget, flags: Sequence[News2Flag], *, patient: str,
                 acknowledge: Acknowledge, reviewer: str = "") -> None:
        super().__init__(parent)
        self.flags = list(flags)
        self.acknowledge = acknowledge
        self.acknowledged: list[int] = []
        self.setWindowTitle("Review NEWS2 flag — PaperFallback")
        self.setMinimumWidth(680)
        body = downtime_dialog_body(self)
        heading = QLabel(f"NEWS2 to review — {patient}", self)
        heading.setObjectName("pageTitle")
        heading.setWordWrap(True)
        body.addWidget(heading)
        explain = QLabel(
            "The total written on the paper chart is not the score of the observations "
            "keyed from it. The patient may have been scored too low (or too high) on the "
            "ward. Review the patient and the chart, then record your review here. Nothing "
            "on the paper or in the keyed values is changed.", self)
        explain.setWordWrap(True)
        body.addWidget(explain)

        self.flag_list = QListWidget(self)
        self.flag_list.setToolTip("The flags you are recording a review of. Space ticks or "
                                  "unticks the highlighted one.")
        for flag in self.flags:
            item = QListWidgetItem(f"! {flag.describe()}")
            item.setData(Qt.ItemDataRole.UserRole, flag.discrepancy_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.flag_list.addItem(item)
        self.flag_list.setCurrentRow(0)
        self.flag_list.setWordWrap(True)  # the whole sentence, never a side scroll
        self.flag_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.flag_list.setFixedHeight(52 * min(len(self.flags), 3) + 8)
        body.addWidget(self.flag_list)

        form = QFormLayout()
        self.name_edit = QLineEdit(reviewer, self)
        self.name_edit.setPlaceholderText("Your name and role, e.g. Siân Wyn, staff nurse")
        self.name_edit.setToolTip("Recorded as the person who reviewed the flag.")
        self.note_edit = QLineEdit(self)
        self.note_edit.setPlaceholderText(
            "What you checked or did, e.g. re-scored 5, doctor informed")
        self.note_edit.setToolTip("Recorded with your name. Required.")
        form.addRow("Your &name:", self.name_edit)
        form.addRow("&Note:", self.note_edit)
        body.addLayout(form)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("reviewError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {theme.STALE_RED}; font-weight: bold;")
        body.addWidget(self.error_label)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.record_button = QPushButton("&Record review", self)
        self.record_button.setDefault(True)
        self.record_button.setToolTip("Record your name and note; the ! mark goes (Enter)")
        self.close_button = QPushButton("Close", self)
        self.close_button.setToolTip("Close without recording anything (Escape)")
        self.record_button.clicked.connect(self.record)
        self.close_button.clicked.connect(self.reject)
        buttons.addWidget(self.record_button)
        buttons.addWidget(self.close_button)
        body.addLayout(buttons)
        (self.note_edit if reviewer else self.name_edit).setFocus()

    def ticked_ids(self) -> list[int]:
        return [self.flag_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.flag_list.count())
                if self.flag_list.item(i).checkState() == Qt.CheckState.Checked]

    def record(self) -> None:
        """Acknowledge every ticked flag; stays open with the reason if one fails."""
        ids = self.ticked_ids()
        if not ids:
            self._problem("Tick the flag you reviewed.", self.flag_list)
            return
        name, note = self.name_edit.text(), self.note_edit.text()
        if not name.strip():
            self._problem("Type your name: it is recorded with the review.", self.name_edit)
            return
        if not note.strip():
            self._problem("Type a short note of what you checked or did.", self.note_edit)
            return
        for discrepancy_id in ids:
            if discrepancy_id in self.acknowledged:
                continue
            try:
                self.acknowledge(discrepancy_id, name, note)
            except PaperFallbackError as exc:
                self._problem(f"Not recorded: {exc}", self.note_edit)
                return
            self.acknowledged.append(discrepancy_id)
        self.accept()

    def _problem(self, text: str, focus: QWidget) -> None:
        self.error_label.setText(text)
        focus.setFocus()
