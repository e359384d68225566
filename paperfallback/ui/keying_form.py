"""The keying screen of one form, generated from its definition so it mirrors the paper:
the same sections in the same order, chart time points as columns (or rows, as printed),
tables as rows. Keyboard only: Tab or Enter moves on in paper order, ``?`` (or F7)
marks a field illegible, ``-`` (or F8) not recorded. Each field is saved as it is left.

The widget only shows what the keying service's :class:`OpenForm` returns (which values,
which fields are editable, the printed text of each MAR row); validation, saving and the
double-entry rules live in the core.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path

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
from paperfallback.reentry.keying_service import OpenForm
from paperfallback.reentry.layout import KeyedSection
from paperfallback.reentry.model import Entry, EntryState, FieldAddress
from paperfallback.reentry.news2_check import is_news2_chart
from paperfallback.ui.signals import emit

ILLEGIBLE_KEY = Qt.Key.Key_F7
NOT_RECORDED_KEY = Qt.Key.Key_F8
_OK = ""
_BAD = "QLineEdit { background: #FDE2E1; border: 2px solid #B3000C; }"
_MARKED = "QLineEdit { background: #EDEDED; font-style: italic; }"
_DISABLED = "QLineEdit { background: #F7F7F7; color: #425563; }"
# A value read from the ticks on the scan, not keyed until the clerk confirms it (Enter).
_SUGGESTED = ("QLineEdit { background: #E3EEF9; border: 2px dashed #005EB8; color: #003087; "
              "font-style: italic; }")
_UNCLEAR = "QLineEdit { border: 2px dashed #8A5A00; }"  # the ticks need a look at the paper


class FieldEdit(QLineEdit):
    """One keyed field. Enter commits and moves on; leaving the field commits too."""

    committed = Signal(object)  # the FieldEdit
    confirmed = Signal(object)  # Enter on a value read from the scan: the clerk confirms it
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
        self.suggestion: str | None = None  # shown from the scan, not saved until confirmed
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
            if self.pending():
                emit(self.confirmed, self)
            else:
                emit(self.committed, self)
            if not self.property("invalid"):
                emit(self.advance, self)
            return
        if key == ILLEGIBLE_KEY:
            self.setText("?")
            emit(self.committed, self)
            emit(self.advance, self)
            return
        if key == NOT_RECORDED_KEY:
            self.setText("-")
            emit(self.committed, self)
            emit(self.advance, self)
            return
        super().keyPressEvent(event)

    def pending(self) -> bool:
        """The field shows a value read from the scan that the clerk has not confirmed."""
        return self.suggestion is not None and self.text().strip() == self.suggestion

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        emit(self.entered, self)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        emit(self.committed, self)
        super().focusOutEvent(event)


class FormKeyingWidget(QWidget):
    """The generated screen for one printed form."""

    changed = Signal()
    field_entered = Signal(object)  # a FieldEdit got the focus

    def __init__(self, opened: OpenForm, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.opened = opened
        self.session = opened.session
        self.edits: dict[FieldAddress, FieldEdit] = {}
        self.order: list[FieldEdit] = []
        self.messages: dict[str, QLabel] = {}
        self.row_headers: dict[tuple[str, int], QLabel] = {}
        self.closed = False  # the store is closed: nothing more to save
        self._row_texts = opened.row_texts()
        self.suggestions = opened.scan_suggestions()
        self.scores: dict[tuple[str, int], QLabel] = {}
        self.setStyleSheet(
            "QLineEdit:focus { border: 2px solid #005EB8; background: #FFF9C4; }"
        )
        layout = QVBoxLayout(self)
        for section in opened.layout.sections:
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
                header = QLabel(self._row_header(section, index), box)
                header.setObjectName(f"row.{section.id}.{index}")
                self.row_headers[(section.id, index)] = header
                grid.addWidget(header, index + 1, 0)
                for col, spec in enumerate(fields, start=1):
                    grid.addWidget(self._edit(section, index, spec, box), index + 1, col)
        else:
            for row, spec in enumerate(fields):
                grid.addWidget(QLabel(_label(spec), box), row, 0)
                grid.addWidget(self._edit(section, 0, spec, box), row, 1)
        return box

    def _row_header(self, section: KeyedSection, index: int) -> str:
        """What the paper row shows: for a pre-filled row the medicine, dose, route and
        dose time as printed ('Row 4: Amoxicillin 500mg capsules 500 mg Oral at 22:00')."""
        printed = self._row_texts.get((section.id, index))
        if printed:  # the printed text names the dose time too: 'Row 4: Amoxicillin ...'
            return f"Row {index + 1}: {printed}"
        return section.index_label(index).capitalize()

    def _edit(self, section: KeyedSection, index: int, spec: FieldSpec,
              parent: QWidget) -> FieldEdit:
        edit = FieldEdit(section, index, spec, parent)
        printed = self._row_texts.get((section.id, index))
        if printed:
            edit.setAccessibleName(f"{edit.accessibleName()}: {printed}")
        address = self.session.address(section.id, index, spec.id)
        self.edits[address] = edit
        self.order.append(edit)
        edit.committed.connect(self.commit)
        edit.confirmed.connect(self.confirm)
        edit.entered.connect(self._say_suggestion)
        edit.advance.connect(self._advance)
        edit.entered.connect(self.field_entered)
        edit.textEdited.connect(lambda _text, e=edit: self._check_as_typed(e))
        if not self.opened.editable(address):
            edit.setReadOnly(True)
            edit.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            edit.setStyleSheet(_DISABLED)
        if len(self.order) > 1:
            QWidget.setTabOrder(self.order[-2], edit)
        return edit

    def _load(self) -> None:
        for address, entry in self.opened.shown_values().items():
            edit = self.edits.get(address)
            if edit is not None:
                self._show_saved(edit, entry)
        for address, hint in self.opened.hints().items():
            edit = self.edits.get(address)
            if edit is not None:
                edit.setToolTip(hint)
        for address, offered in self.suggestions.items():
            edit = self.edits.get(address)
            if edit is None or edit.isReadOnly() or edit.saved_text:
                continue
            edit.setToolTip(f"{offered.status}\n\n{edit.toolTip()}")
            if offered.value is None:
                edit.setPlaceholderText("see the paper")
                edit.setStyleSheet(_UNCLEAR)
                continue
            edit.suggestion = offered.text
            edit.setText(offered.text)
            edit.setStyleSheet(_SUGGESTED)
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
        # The scale it was scored on: keyed in the column, else printed on the chart.
        text = (f"{result.computed.total} ({result.computed.risk.value}), "
                f"SpO2 scale {result.scale}")
        if result.differs:
            label.setText(f"{text} ≠ {result.handwritten}")
            label.setStyleSheet("color: #B3000C; font-weight: bold;")
        else:
            label.setText(text)
            label.setStyleSheet("color: #006747;")

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
        point = self.opened.start_point()
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

    def _say_suggestion(self, edit: FieldEdit) -> None:
        """Entering a field with a reading from the scan says what it is and what to do."""
        offered = self.suggestions.get(
            self.session.address(edit.section.id, edit.index, edit.spec.id))
        if offered is None or (offered.value is not None and not edit.pending()):
            return
        message = self.messages[edit.section.id]
        message.setStyleSheet("color: #005EB8;" if offered.value else "color: #8A5A00;")
        message.setText(f"{edit.spec.label}: {offered.status}")

    def confirm(self, edit: FieldEdit) -> None:
        """Enter on a value read from the scan: the service saves it as keyed."""
        if edit.isReadOnly() or self.closed:
            return
        try:
            outcome = self.opened.confirm_suggestion(edit.section.id, edit.index, edit.spec.id)
        except InputError as exc:
            self._refused(edit, exc)
            return
        edit.suggestion = None
        self._saved(edit, outcome.notice or f"{edit.spec.label}: {outcome.shown} — "
                    "confirmed from the scan")

    def _check_as_typed(self, edit: FieldEdit) -> None:
        if self.closed:
            return
        if edit.suggestion is not None and not edit.pending():
            edit.suggestion = None  # the clerk types over it: an ordinary keyed value
            edit.setStyleSheet(_OK)
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
        if edit.isReadOnly() or self.closed or edit.pending():
            return  # a value read from the scan is saved only when confirmed (Enter)
        text = edit.text().strip()
        if text == edit.saved_text and not edit.property("invalid"):
            return
        try:
            if not text:
                self.opened.clear(edit.section.id, edit.index, edit.spec.id)
                notice = ""
            else:
                outcome = self.opened.enter(edit.section.id, edit.index, edit.spec.id, text)
                notice = outcome.notice or f"{edit.spec.label}: {outcome.shown} — saved"
        except InputError as exc:
            self._refused(edit, exc)
            return
        self._saved(edit, notice)

    def _refused(self, edit: FieldEdit, exc: InputError) -> None:
        message = self.messages[edit.section.id]
        edit.setProperty("invalid", True)
        edit.setStyleSheet(_BAD)
        message.setStyleSheet("color: #B3000C; font-weight: bold;")
        message.setText(str(exc))
        # The next keystroke replaces the refused text instead of adding to it.
        edit.selectAll()
        if edit.isVisible():
            QToolTip.showText(edit.mapToGlobal(edit.rect().bottomLeft()), str(exc), edit)

    def _saved(self, edit: FieldEdit, notice: str) -> None:
        message = self.messages[edit.section.id]
        edit.setProperty("invalid", False)
        entry = self.opened.entry(
            self.session.address(edit.section.id, edit.index, edit.spec.id))
        if entry is not None:
            self._show_saved(edit, entry)
        else:
            edit.saved_text = ""
            edit.setStyleSheet(_OK)
        alarm = notice.startswith("NEWS2") or notice.endswith("(flagged)")
        message.setStyleSheet("color: #B3000C; font-weight: bold;" if alarm else
                              "color: #006747;")
        message.setText(notice)
        self._update_score(edit.section.id, edit.index)
        emit(self.changed)

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


_CLERK_FILE = "keying-clerk.json"


def remembered_clerk(data_dir: Path) -> str:
    """The name the last clerk on this PC keyed under (offered, selected, next time)."""
    try:
        data = json.loads((Path(data_dir) / _CLERK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    name = data.get("clerk") if isinstance(data, dict) else None
    return name if isinstance(name, str) else ""


def remember_clerk(data_dir: Path, clerk: str) -> None:
    """Remember the clerk's name for the next time the window opens (best effort)."""
    with contextlib.suppress(OSError):
        (Path(data_dir) / _CLERK_FILE).write_text(json.dumps({"clerk": clerk}),
                                                   encoding="utf-8")
