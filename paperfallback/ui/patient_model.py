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
from paperfallback.ui import theme

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
    Column.NEWS2: "The last NEWS2 score in the copy and when it was taken. Newer paper "
                  "observations are not shown here.",
}

_Index = QModelIndex | QPersistentModelIndex


class PatientTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._rows: list[PatientSummary] = []
        self.ward_names: dict[str, str] = {}

    def set_rows(self, rows: Sequence[PatientSummary]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_summary(self, row: int) -> PatientSummary:
        return self._rows[row]

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
        if role == Qt.ItemDataRole.FontRole and column in (Column.NAME, Column.ALLERGIES):
            font = QFont()
            font.setBold(column == Column.NAME or row.has_allergies)
            return font
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._text(row, column)
        return None

    def _text(self, row: PatientSummary, column: Column) -> str:
        if column == Column.WARD:
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
        if row.news2 is None:
            return "—"
        mark = "P " if row.news2.keyed_at else ""  # keyed from paper (user guide)
        return f"{mark}{row.news2.total}   {_short_time(row.news2.at)}"

    def _tooltip(self, row: PatientSummary, column: Column) -> str | None:
        if column == Column.NAME:
            hosp = row.hospital_number or "none"
            dob = row.birth_date.strftime("%d-%b-%Y") if row.birth_date else "not recorded"
            return f"{row.name}\nHospital number: {hosp}\nDate of birth: {dob}"
        if column == Column.NEWS2 and row.news2 is not None:
            how = "scored from the recorded observations" if row.news2.computed else "as recorded"
            when = uk_time(row.news2.at).strftime("%d-%b-%Y %H:%M")
            keyed = ""
            if row.news2.keyed_at:
                keyed = (" P = keyed from paper on "
                         f"{uk_time(row.news2.keyed_at).strftime('%d-%b %H:%M')}; "
                         "not in the EPR snapshot.")
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
