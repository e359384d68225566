"""The cells of a keying workbook as the importer reads them: a value as typed, a
formula or error refused (never dropped), text as a clerk typed it, and the problem
reported for a cell (sheet / row / column / value / reason).

Split out of :mod:`paperfallback.reentry.workbook_import` so each module holds one idea.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from openpyxl.utils import get_column_letter

FORMULA_REASON = "formulas are not accepted; type the value from the paper"

ERROR_REASON = "the cell holds a spreadsheet error, not a value; type the value from the paper"

@dataclass(frozen=True, slots=True)
class Refused:
    """A cell whose content cannot be taken as typed (a formula or an error value)."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Problem:
    sheet: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        value = f" value {self.value!r}" if self.value else ""
        return f"{self.sheet} / row {self.row} / {self.column}:{value}: {self.reason}"


def cell_value(cell: Any) -> Any:
    """The value of a cell as typed; formulas and error values are refused, not dropped."""
    value = cell.value
    kind = getattr(cell, "data_type", None)
    if kind == "f" or (value is not None and not isinstance(
            value, str | int | float | bool | datetime | date | time)):
        return Refused(str(value), FORMULA_REASON)  # formulas, array formulas
    if kind == "e":
        return Refused(str(value), ERROR_REASON)
    return value


def column_name(cell: Any, header: str) -> str:
    column = getattr(cell, "column", None)
    letter = get_column_letter(column) if isinstance(column, int) else "?"
    return header or f"column {letter}"


def has_input(values: tuple[Any, ...], inputs: set[int]) -> bool:
    """True when any input (or stray) column of the row holds something."""
    return any(not is_empty(values[i]) for i in inputs if i < len(values))


def is_empty(value: object) -> bool:
    if isinstance(value, Refused):
        return False
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def same_identity(column: str, got: str, want: str) -> bool:
    """Identity text equal to what was printed: NHS numbers by their digits, the rest
    ignoring case and runs of spaces (a spreadsheet may re-case or re-space text)."""
    if column == "nhs_number":
        return digits(got) == digits(want)
    return " ".join(got.split()).casefold() == " ".join(want.split()).casefold()


def digits(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and c != "-")


def whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return None
