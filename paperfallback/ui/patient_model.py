"""A Qt table model over the core's ward summaries (paperfallback.cache.ward_summary)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from paperfallback.cache.staleness import uk_time, utc_now
from paperfallback.cache.ward_summary import PatientSummary
from paperfallback.domain.news2 import ClinicalRisk
from paperfallback.domain.records import AllergyStatus
from paperfallback.reentry.ward_flags import News2Flag
from paperfallback.ui import theme
from paperfallback.ui.signals import emit

PATIENT_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class Column(IntEnum):
    WARD = 0
    BED = 1
    NAME = 2
    NHS = 3
    AGE = 4
    ALLERGIES = 5
    ALERTS = 6
    NEWS2 = 7


HEADERS = {
    Column.WARD: "Ward",
    Column.BED: "Bed",
    Column.NAME: "Name",
    Column.NHS: "NHS number",
    Column.AGE: "Age",
    Column.ALLERGIES: "Allergies",
    Column.ALERTS: "Alerts",
    Column.NEWS2: "NEWS2 (time)",
}

HEADER_TIPS = {
    Column.NHS: "NHS number as 3 3 4 digits. 'Not recorded' means the copy has none: use the "
                "hospital number.",
    Column.ALLERGIES: "Allergies as recorded in the EPR copy. 'Not recorded' is NOT the same as "
                      "'No known allergies': ask the patient.",
    Column.NEWS2: "The last NEWS2 score and when it was taken. P = keyed back from paper. "
                  "! = a paper chart total differs from the score of its keyed values: "
                  "review the patient and the chart (Ctrl+R).",
}

_Index = QModelIndex | QPersistentModelIndex


class PatientTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._rows: list[PatientSummary] = []
        self.ward_names: dict[str, str] = {}
        self.news2_flags: dict[str, list[News2Flag]] = {}  # open flags by patient id

    def set_rows(self, rows: Sequence[PatientSummary]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_summary(self, row: int) -> PatientSummary:
        return self._rows[row]

    def set_flags(self, flags: dict[str, list[News2Flag]]) -> None:
        """New open NEWS2 flags: repaint the NEWS2 column only (the selection stays)."""
        self.news2_flags = flags
        if self._rows:
            emit(self.dataChanged, self.index(0, Column.NEWS2),
                 self.index(len(self._rows) - 1, Column.NEWS2))

    def flags_of(self, patient_id: str) -> list[News2Flag]:
        return self.news2_flags.get(patient_id, [])

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        column = Column(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(column)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == PATIENT_ID_ROLE:
            return row.patient_id
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._background(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == Qt.ItemDataRole.FontRole and column in (Column.NAME, Column.ALLERGIES,
                                                            Column.NEWS2):
            font = QFont()
            font.setBold(column == Column.NAME or (column == Column.ALLERGIES
                                                   and row.has_allergies)
                         or (column == Column.NEWS2 and bool(self.flags_of(row.patient_id))))
            return font
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._text(row, column)
        return None

    def _text(self, row: PatientSummary, column: Column) -> str:
        if column == Column.WARD:
            if row.deceased:  # on no ward; never a living age (issue 13, item 4)
                return "DECEASED"
            return self.ward_names.get(row.ward_code, row.ward_code)
        if column == Column.BED:
            return row.bed
        if column == Column.NAME:
            return row.name
        if column == Column.NHS:
            return row.nhs_number or "Not recorded"
        if column == Column.AGE:
            return "" if row.age_years is None else str(row.age_years)
        if column == Column.ALLERGIES:
            if row.has_allergies:
                return "⚠ " + row.allergy_text
            return row.allergy_text
        if column == Column.ALERTS:
            return "; ".join(row.alerts)
        flag = "! " if self.flags_of(row.patient_id) else ""  # NEWS2 discrepancy (guide)
        if row.news2 is None:
            return f"{flag}—"
        mark = "P " if row.news2.keyed_at else ""  # keyed from paper (user guide)
        unchecked = "?" if row.news2.unchecked else ""  # as on the printed chart (guide)
        return f"{flag}{mark}{row.news2.total}{unchecked}   {_short_time(row.news2.at)}"

    def _tooltip(self, row: PatientSummary, column: Column) -> str | None:
        if column == Column.NAME:
            hosp = row.hospital_number or "none"
            dob = row.birth_date.strftime("%d-%b-%Y") if row.birth_date else "not recorded"
            died = f"\n{row.deceased}" if row.deceased else ""
            return f"{row.name}\nHospital number: {hosp}\nDate of birth: {dob}{died}"
        flags = self.flags_of(row.patient_id)
        if column == Column.NEWS2 and flags:
            lines = [f"! {flag.describe()}" for flag in flags]
            latest = "" if row.news2 is None else (
                f"\nLatest NEWS2 {row.news2.total} at "
                f"{uk_time(row.news2.at).strftime('%d-%b-%Y %H:%M')}.")
            return ("\n".join(lines) + latest + "\nSelect the patient and press Ctrl+R to "
                    "record your review.")
        if column == Column.NEWS2 and row.news2 is not None:
            how = "scored from the recorded observations" if row.news2.computed else "as recorded"
            when = uk_time(row.news2.at).strftime("%d-%b-%Y %H:%M")
            keyed = ""
            if row.news2.keyed_at:
                keyed = (" P = keyed from paper on "
                         f"{uk_time(row.news2.keyed_at).strftime('%d-%b %H:%M')}; "
                         "not in the EPR snapshot.")
            if row.news2.unchecked:
                how = ("as written on paper; not checked: a parameter of that set was not "
                       "keyed as a value")
            return (f"NEWS2 {row.news2.total} at {when} ({how}). "
                    f"Risk: {row.news2.risk.value}.{keyed}")
        if column == Column.ALLERGIES:
            return f"{row.allergy_text}\n\n{HEADER_TIPS[Column.ALLERGIES]}"
        if column == Column.ALERTS and row.alerts:
            return "\n".join(row.alerts)
        return None

    def _background(self, row: PatientSummary, column: Column) -> QBrush | None:
        if column == Column.ALLERGIES:
            if row.allergy_status is AllergyStatus.RECORDED:
                return QBrush(QColor(theme.ALLERGY_RED))
            if row.allergy_status is AllergyStatus.NOT_RECORDED:
                return QBrush(QColor(theme.WARN_AMBER))
        if column == Column.NEWS2 and self.flags_of(row.patient_id) and (
                row.news2 is None or row.news2.risk is ClinicalRisk.LOW):
            return QBrush(QColor(theme.WARN_AMBER))  # a flag is never left plain white
        if column == Column.NEWS2 and row.news2 is not None:
            if row.news2.risk is ClinicalRisk.HIGH:
                return QBrush(QColor(theme.NEWS2_HIGH))
            if row.news2.risk is ClinicalRisk.MEDIUM:
                return QBrush(QColor(theme.NEWS2_MEDIUM))
        return None

    def _foreground(self, row: PatientSummary, column: Column) -> QBrush | None:
        if column == Column.ALLERGIES and row.allergy_status is AllergyStatus.RECORDED:
            return QBrush(QColor("white"))
        if (column == Column.NEWS2 and row.news2 is not None
                and row.news2.risk is ClinicalRisk.HIGH):
            return QBrush(QColor("white"))
        return None


def _short_time(moment: datetime) -> str:
    """'05:44' today (UK time), else '23-Nov 05:44'."""
    local = uk_time(moment)
    if local.date() == uk_time(utc_now()).date():
        return local.strftime("%H:%M")
    return local.strftime("%d-%b %H:%M")
