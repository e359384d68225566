"""The keying screen of one form, generated from its definition so it mirrors the paper:
the same sections in the same order, chart time points as columns (or rows, as printed),
tables as rows. Keyboard only: Tab or Enter moves on in paper order, ``?`` (or F7)
marks a field illegible, ``-`` (or F8) not recorded. Each field is saved as it is left.

The widget only adapts a :class:`KeyingSession` (validation and saving live in the core).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.formspec import FieldSpec
from paperfallback.reentry.layout import KeyedSection
from paperfallback.reentry.model import Entry, EntryState, FieldAddress
from paperfallback.reentry.news2_check import is_news2_chart
from paperfallback.reentry.session import KeyingSession

ILLEGIBLE_KEY = Qt.Key.Key_F7
NOT_RECORDED_KEY = Qt.Key.Key_F8
_OK = ""
_BAD = "QLineEdit { background: #FDE2E1; border: 2px solid #B3000C; }"
_MARKED = "QLineEdit { background: #EDEDED; font-style: italic; }"
_DISABLED = "QLineEdit { background: #F7F7F7; color: #425563; }"


class FieldEdit(QLineEdit):
    """One keyed field. Enter commits and moves on; leaving the field commits too."""

    committed = Signal(object)  # the FieldEdit
    advance = Signal(object)
    entered = Signal(object)  # got the focus: scroll it into view

    def __init__(self, section: KeyedSection, index: int, spec: FieldSpec,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section = section
        self.index = index
        self.spec = spec
        self.saved_text = ""
        self.state: EntryState | None = None
        self.setObjectName(f"{section.id}.{index}.{spec.id}")
        self.setAccessibleName(f"{spec.label} {section.index_label(index)}".strip())
        tip = spec.label + (f" ({spec.unit})" if spec.unit else "")
        if spec.choices:
            tip += ": " + ", ".join(f"{c.code} = {c.label}" for c in spec.choices)
        if spec.help:
            tip += f"\n{spec.help}"
        self.setToolTip(tip + "\n? or F7: illegible   - or F8: not recorded")
        self.setMinimumWidth(128 if spec.type == "datetime" else 62)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.committed.emit(self)
            if not self.property("invalid"):
                self.advance.emit(self)
            return
        if key == ILLEGIBLE_KEY:
            self.setText("?")
            self.committed.emit(self)
            self.advance.emit(self)
            return
        if key == NOT_RECORDED_KEY:
            self.setText("-")
            self.committed.emit(self)
            self.advance.emit(self)
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.entered.emit(self)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.committed.emit(self)
        super().focusOutEvent(event)


class FormKeyingWidget(QWidget):
    """The generated screen for one printed form."""

    changed = Signal()
    field_entered = Signal(object)  # a FieldEdit got the focus

    def __init__(self, session: KeyingSession, *, editable: Callable[[FieldAddress], bool]
                 | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.edits: dict[FieldAddress, FieldEdit] = {}
        self.order: list[FieldEdit] = []
        self.messages: dict[str, QLabel] = {}
        self.commit_hook: Callable[[FieldEdit, str], str] | None = None
        self.closed = False  # the store is closed: nothing more to save
        self._editable = editable
        self.scores: dict[tuple[str, int], QLabel] = {}
        self.setStyleSheet(
            "QLineEdit:focus { border: 2px solid #005EB8; background: #FFF9C4; }"
        )
        layout = QVBoxLayout(self)
        for section in session.layout.sections:
            layout.addWidget(self._section_box(section))
        layout.addStretch(1)
        self._load()

    # ---- building ---------------------------------------------------------------------

    def _section_box(self, section: KeyedSection) -> QGroupBox:
        box = QGroupBox(section.title or section.id.replace("_", " ").capitalize(), self)
        box.setObjectName(f"section.{section.id}")
        outer = QVBoxLayout(box)
        message = QLabel("", box)
        message.setObjectName(f"message.{section.id}")
        message.setWordWrap(True)
        message.setStyleSheet("color: #B3000C; font-weight: bold;")
        outer.addWidget(message)
        self.messages[section.id] = message
        grid = QGridLayout()
        outer.addLayout(grid)
        fields = section.fields
        if section.kind == "chart" and section.axis == "columns":
            # Fields down, time points across, keyed a column at a time (as written).
            for row, spec in enumerate(fields, start=1):
                grid.addWidget(QLabel(_label(spec), box), row, 0)
            for index in range(section.count):
                grid.addWidget(QLabel(section.index_label(index).capitalize(), box), 0, index + 1)
                for row, spec in enumerate(fields, start=1):
                    grid.addWidget(self._edit(section, index, spec, box), row, index + 1)
            if is_news2_chart(fields):
                grid.addWidget(QLabel("NEWS2 from keyed values", box), len(fields) + 1, 0)
                for index in range(section.count):
                    score = QLabel("", box)
                    score.setObjectName(f"score.{section.id}.{index}")
                    grid.addWidget(score, len(fields) + 1, index + 1)
                    self.scores[(section.id, index)] = score
        elif section.kind in ("chart", "table"):
            for col, spec in enumerate(fields, start=1):
                header = QLabel(_label(spec), box)
                header.setWordWrap(True)
                grid.addWidget(header, 0, col)
            for index in range(section.count):
                grid.addWidget(QLabel(section.index_label(index).capitalize(), box), index + 1, 0)
                for col, spec in enumerate(fields, start=1):
                    grid.addWidget(self._edit(section, index, spec, box), index + 1, col)
        else:
            for row, spec in enumerate(fields):
                grid.addWidget(QLabel(_label(spec), box), row, 0)
                grid.addWidget(self._edit(section, 0, spec, box), row, 1)
        return box

    def _edit(self, section: KeyedSection, index: int, spec: FieldSpec,
              parent: QWidget) -> FieldEdit:
        edit = FieldEdit(section, index, spec, parent)
        address = self.session.address(section.id, index, spec.id)
        self.edits[address] = edit
        self.order.append(edit)
        edit.committed.connect(self.commit)
        edit.advance.connect(self._advance)
        edit.entered.connect(self.field_entered.emit)
        edit.textEdited.connect(lambda _text, e=edit: self._check_as_typed(e))
        if self._editable is not None and not self._editable(address):
            edit.setReadOnly(True)
            edit.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            edit.setStyleSheet(_DISABLED)
        if len(self.order) > 1:
            QWidget.setTabOrder(self.order[-2], edit)
        return edit

    def _load(self) -> None:
        for address, entry in self.session.values().items():
            edit = self.edits.get(address)
            if edit is not None:
                self._show_saved(edit, entry)
        for section_id, index in self.scores:
            self._update_score(section_id, index)

    def _update_score(self, section_id: str, index: int) -> None:
        label = self.scores.get((section_id, index))
        if label is None:
            return
        result = self.session.column_score(section_id, index)
        if result is None or result.computed is None:
            label.setText("")
            return
        text = f"{result.computed.total} ({result.computed.risk.value})"
        if result.differs:
            label.setText(f"{text} ≠ {result.handwritten}")
            label.setStyleSheet("color: #B3000C; font-weight: bold;")
        else:
            label.setText(text)
            label.setStyleSheet("color: #006747;")

    def show_values(self, entries: dict[FieldAddress, Entry]) -> None:
        """Show other values (e.g. the agreed double-entry values) without saving them."""
        for address, entry in entries.items():
            edit = self.edits.get(address)
            if edit is not None and not edit.saved_text:
                self._show_saved(edit, entry)

    def _show_saved(self, edit: FieldEdit, entry: Entry) -> None:
        text = _display(edit.spec, entry)
        edit.setText(text)
        edit.saved_text = text
        edit.state = entry.state
        edit.setStyleSheet(_MARKED if entry.state is not EntryState.VALUE else
                           edit.styleSheet() if edit.isReadOnly() else _OK)

    # ---- keying -----------------------------------------------------------------------

    def focus_resume_point(self) -> FieldEdit | None:
        """Put the cursor where keying stopped (the first field after the last keyed)."""
        point = self.session.resume_point()
        edit = self.edits.get(point) if point else None
        if edit is None or edit.focusPolicy() == Qt.FocusPolicy.NoFocus:
            edit = next((e for e in self.order if e.focusPolicy() != Qt.FocusPolicy.NoFocus),
                        None)
        if edit is not None:
            edit.setFocus(Qt.FocusReason.OtherFocusReason)
        return edit

    def _advance(self, edit: FieldEdit) -> None:
        position = self.order.index(edit)
        for following in self.order[position + 1:]:
            if following.focusPolicy() != Qt.FocusPolicy.NoFocus:
                following.setFocus(Qt.FocusReason.TabFocusReason)
                return

    def _check_as_typed(self, edit: FieldEdit) -> None:
        if self.closed:
            return
        text = edit.text().strip()
        message = self.messages[edit.section.id]
        if not text or text in ("?", "-"):
            message.setText("")
            return
        try:
            parsed = self.session.check(edit.section.id, edit.index, edit.spec.id, text)
        except InputError as exc:
            message.setStyleSheet("color: #8A5A00;")
            message.setText(str(exc))
            return
        message.setStyleSheet("color: #005EB8;")
        message.setText(f"{edit.spec.label}: {parsed.shown}")

    def commit(self, edit: FieldEdit) -> None:
        """Validate and save one field (Enter, leaving it, Finish or closing)."""
        if edit.isReadOnly() or self.closed:
            return
        text = edit.text().strip()
        if text == edit.saved_text and not edit.property("invalid"):
            return
        message = self.messages[edit.section.id]
        try:
            if self.commit_hook is not None:
                notice = self.commit_hook(edit, text)
            elif not text:
                self.session.clear(edit.section.id, edit.index, edit.spec.id)
                notice = ""
            else:
                outcome = self.session.enter(edit.section.id, edit.index, edit.spec.id, text)
                notice = outcome.notice or f"{edit.spec.label}: {outcome.shown} — saved"
        except InputError as exc:
            edit.setProperty("invalid", True)
            edit.setStyleSheet(_BAD)
            message.setStyleSheet("color: #B3000C; font-weight: bold;")
            message.setText(str(exc))
            if edit.isVisible():
                QToolTip.showText(edit.mapToGlobal(edit.rect().bottomLeft()), str(exc), edit)
            return
        edit.setProperty("invalid", False)
        entry = self.session.store.entry(
            self.session.address(edit.section.id, edit.index, edit.spec.id),
            self.session.entry_pass,
        )
        if entry is not None:
            self._show_saved(edit, entry)
        else:
            edit.saved_text = ""
            edit.setStyleSheet(_OK)
        alarm = notice.startswith("NEWS2")
        message.setStyleSheet("color: #B3000C; font-weight: bold;" if alarm else
                              "color: #006747;")
        message.setText(notice)
        self._update_score(edit.section.id, edit.index)
        self.changed.emit()

    def invalid_fields(self) -> list[FieldEdit]:
        return [e for e in self.order if e.property("invalid")]


def _label(spec: FieldSpec) -> str:
    unit = f" ({spec.unit})" if spec.unit else ""
    if spec.choices:
        unit = " [" + "/".join(c.code for c in spec.choices) + "]"
    return f"{spec.label}{unit}" + (" *" if spec.required else "")


def _display(spec: FieldSpec, entry: Entry) -> str:
    if entry.state is EntryState.ILLEGIBLE:
        return "?"
    if entry.state is EntryState.NOT_RECORDED:
        return "-"
    value = entry.value or ""
    if spec.type == "datetime":
        try:
            return datetime.fromisoformat(value).astimezone(UK).strftime("%d/%m/%y %H:%M")
        except ValueError:
            return value
    if spec.type == "date":
        try:
            return datetime.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return value
