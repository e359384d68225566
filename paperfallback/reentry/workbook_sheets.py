"""Opening a keying workbook and finding its data sheets (and the form each keys).

Split out of :mod:`paperfallback.reentry.workbook_import`: a workbook that cannot be read
is refused with a message naming the file; a sheet that is not part of the keying
workbook but holds data is a problem, never silently skipped.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from paperfallback.cache.importers.workbook_limits import KEYING_LIMITS, check_workbook
from paperfallback.domain.errors import InputError
from paperfallback.formspec import FormCatalogue, FormSpec
from paperfallback.reentry.workbook import INSTRUCTIONS_SHEET, META_SHEET
from paperfallback.reentry.workbook_cells import Problem, cell_text, column_name, is_empty


def open_workbook(path: Path) -> Any:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.exists():
        raise InputError("no such file", where=str(path))
    check_workbook(path, KEYING_LIMITS)  # size, rows, no DTD: before any XML parser runs
    try:
        # Formulas as written (not their cached results), so they can be refused.
        return load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError,
            TypeError) as exc:
        raise InputError(
            f"not a readable .xlsx workbook ({type(exc).__name__}); save it as Excel "
            ".xlsx and try again", where=str(path)
        ) from None


def data_sheets(wb: Any, catalogue: FormCatalogue,
                 problems: list[Problem]) -> list[tuple[Any, FormSpec, str]]:
    """The data sheets and the form section each keys (from the hidden _meta sheet).

    A sheet that is not part of the keying workbook but holds data is a problem: its
    values would otherwise be lost without a word.
    """
    meta: dict[str, str] = {}
    sections: dict[str, str] = {}
    if META_SHEET in wb.sheetnames:
        for row in wb[META_SHEET].iter_rows(values_only=True):
            if not row or row[0] is None:
                continue
            if row[0] == "sheet" and len(row) >= 3:
                sections[str(row[1])] = str(row[2])
            elif len(row) >= 2:
                meta[str(row[0])] = str(row[1])
    form_id = meta.get("form_id")
    if form_id is None:
        names = [n for n in wb.sheetnames if n not in (META_SHEET, INSTRUCTIONS_SHEET)]
        form_id = next((n.split(".")[0] for n in names if n.split(".")[0] in catalogue), None)
    if form_id is None or form_id not in catalogue:
        raise InputError(
            "this workbook has no sheet for a known form: make a new workbook for the form "
            "with PaperFallback and key into that file"
        )
    form = catalogue.get(form_id)
    out = []
    for name in wb.sheetnames:
        if name in (META_SHEET, INSTRUCTIONS_SHEET):
            continue
        section_id = sections.get(name)
        if section_id is None:
            head, _, tail = name.partition(".")
            if head != form.id:
                report_foreign_sheet(wb[name], problems)
                continue
            section_id = tail or only_section(form)
        out.append((wb[name], form, section_id))
    if not out:
        raise InputError(f"the workbook has no data sheet for form {form.id!r}")
    return out


def report_foreign_sheet(ws: Any, problems: list[Problem]) -> None:
    for number, cells in enumerate(ws.iter_rows(), start=1):
        for cell in cells:
            if not is_empty(cell.value):
                problems.append(Problem(
                    ws.title, number, column_name(cell, ""), cell_text(cell.value)[:80],
                    "this sheet is not part of the keying workbook, so nothing on it is "
                    "imported; type the values on the form's sheet"))
                return


def only_section(form: FormSpec) -> str:
    from paperfallback.reentry.layout import form_layout

    return form_layout(form).sections[0].id
