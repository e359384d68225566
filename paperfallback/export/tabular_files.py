"""CSV and xlsx written row by row as the export builds them (issue 15, goal 3).

One CSV file per form type (UTF-8 with BOM so Excel reads Welsh letters), or one workbook
with a sheet per form type, written with openpyxl's write-only mode (each sheet streams to
a temporary file; nothing is kept per row). Files are written as ``*.part`` and renamed
when complete; after an error the parts are removed.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import IO, Any, Protocol

from paperfallback.export.neutralise import neutralise

COLUMN_WIDTHS = {"form_instance_id": 14, "patient_name": 26, "effective": 26, "field_label": 24,
                 "value": 18, "note": 40, "keyed_at": 26, "printed_at": 26, "keyed_by": 18}
XLSX_MAX_ROWS = 1_048_575  # rows per sheet after the header (Excel's limit is 1,048,576)
COLUMNS: tuple[str, ...] = (
    "form_instance_id", "form_id", "form_version", "section", "row",
    "nhs_number", "hospital_number", "downtime_number", "patient_name", "birth_date",
    "effective", "field_id", "field_label", "value", "unit", "state",
    "loinc_code", "snomed_code", "other_codes", "choice_label", "note",
    "keyed_by", "keyed_at", "printed_at", "pc_id", "change", "drug", "dose_time",
)


def cells(row: dict[str, str]) -> list[str]:
    """A row's cells in column order, each neutralised against formula injection."""
    return [neutralise(row.get(column, "")) for column in COLUMNS]


class RowSink(Protocol):
    def write(self, form_id: str, row: dict[str, str]) -> None: ...
    def finish(self) -> list[Path]: ...
    def abandon(self) -> None: ...


class CsvFiles:
    """``<form id>.csv`` per form type in ``folder``, a row at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, tuple[IO[str], Any]] = {}

    def write(self, form_id: str, row: dict[str, str]) -> None:
        found = self._files.get(form_id)
        if found is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = (self.folder / f"{form_id}.csv.part").open(
                "w", encoding="utf-8-sig", newline="")
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            writer.writerow(COLUMNS)
            found = self._files[form_id] = (handle, writer)
        found[1].writerow(cells(row))

    def finish(self) -> list[Path]:
        written = []
        for form_id, (handle, _) in sorted(self._files.items()):
            handle.close()
            path = self.folder / f"{form_id}.csv"
            (self.folder / f"{form_id}.csv.part").replace(path)
            written.append(path)
        return written

    def abandon(self) -> None:
        for form_id, (handle, _) in self._files.items():
            handle.close()
            (self.folder / f"{form_id}.csv.part").unlink(missing_ok=True)


class XlsxFile:
    """One workbook, one sheet per form type (sorted by form id, as before); a form type
    longer than Excel's sheet continues on "<form>-2" ...; a README sheet when empty."""

    def __init__(self, path: Path) -> None:
        from openpyxl import Workbook

        self.path = path
        self.workbook = Workbook(write_only=True)
        self._sheets: dict[str, Any] = {}  # form id -> its current sheet
        self._rows: dict[str, int] = {}
        self._order: list[tuple[str, int, Any]] = []  # (form id, part, sheet)

    def _sheet(self, form_id: str, part: int) -> Any:
        from openpyxl.utils import get_column_letter

        sheet = self.workbook.create_sheet(_sheet_name(form_id if part == 1
                                                       else f"{form_id}-{part}"))
        sheet.freeze_panes = "A2"
        for index, column in enumerate(COLUMNS, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = COLUMN_WIDTHS.get(
                column, 14)
        sheet.append(list(COLUMNS))
        self._order.append((form_id, part, sheet))
        return sheet

    def write(self, form_id: str, row: dict[str, str]) -> None:
        done = self._rows.get(form_id, 0)
        if form_id not in self._sheets or (done and done % XLSX_MAX_ROWS == 0):
            self._sheets[form_id] = self._sheet(form_id, done // XLSX_MAX_ROWS + 1)
        # Every cell is a string cell (the NHS number stays text); after neutralising
        # none starts with "=", so none is written as a formula.
        self._sheets[form_id].append(cells(row))
        self._rows[form_id] = done + 1

    def finish(self) -> list[Path]:
        if not self._order:
            sheet = self.workbook.create_sheet("README")
            sheet.append(["Nothing new to export: every keyed entry was exported before."])
        else:  # sheets in form id order, whatever order the forms came in
            self.workbook._sheets = [s for _, _, s in sorted(self._order, key=lambda o: o[:2])]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".part")
        self.workbook.save(tmp)
        tmp.replace(self.path)
        return [self.path]

    def abandon(self) -> None:
        self.path.with_name(self.path.name + ".part").unlink(missing_ok=True)


def _sheet_name(form_id: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "-", form_id)[:31]
