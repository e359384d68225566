"""Stop spreadsheet formula injection in exported cells (OWASP "CSV Injection").

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
(after any leading spaces) is read by Excel and LibreOffice as a formula, so a name
keyed as ``=HYPERLINK(...)`` or ``@SUM(...)`` could run when the file is opened. Such a
cell is written with a single quote in front (``'=HYPERLINK(...)``): the spreadsheet
shows the text, the quote tells the reader it was neutralised. Plain numbers (``-250``,
``+3.5``) are left alone: they are values, not formulas, and a fluid balance can be
negative. Documented in docs/export.md.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def needs_neutralising(text: str) -> bool:
    stripped = text.lstrip(" ")
    return (
        bool(stripped)
        and stripped.startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.match(stripped)
    ) or text.startswith(("\t", "\r"))


def neutralise(text: str) -> str:
    """The text, made inert for a spreadsheet program."""
    return "'" + text if needs_neutralising(text) else text
