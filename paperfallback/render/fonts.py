"""The embedded Unicode fonts (DejaVu Sans, resources/fonts/, Bitstream Vera licence).

Standard PDF fonts cannot print ŵ, ŷ or ł; an embedded TrueType font can, and ReportLab
subsets it so each PDF carries only the glyphs it uses.
"""

from __future__ import annotations

from functools import cache

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from paperfallback.resources import resource

REGULAR = "PFSans"
BOLD = "PFSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}


@cache
def register_fonts() -> tuple[str, str]:
    """Register the fonts with ReportLab once per process; returns (regular, bold)."""
    for name, file in _FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(resource("fonts", file))))
    return REGULAR, BOLD


def missing_glyphs(text: str, font: str = REGULAR) -> set[str]:
    """Characters of ``text`` the font has no glyph for (they would print as boxes)."""
    register_fonts()
    face = pdfmetrics.getFont(font).face
    return {c for c in text if not c.isspace() and ord(c) not in face.charToGlyph}


def string_width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))
