"""The embedded Unicode fonts (DejaVu Sans, resources/fonts/, Bitstream Vera licence).

Standard PDF fonts cannot print ŵ, ŷ or ł; an embedded TrueType font can, and ReportLab
subsets it so each PDF carries only the glyphs it uses.
"""

from __future__ import annotations

from functools import cache, partial
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace

from paperfallback.resources import resource

REGULAR = "PFSans"
BOLD = "PFSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}


FONT_CACHE_FILE = "fonts.pickle"


@cache
def register_fonts() -> tuple[str, str]:
    """Register the fonts with ReportLab once per process; returns (regular, bold)."""
    for font in _fonts():
        pdfmetrics.registerFont(font)
    return REGULAR, BOLD


def _fonts() -> list[TTFont]:
    """The parsed fonts: from the data folder's derived cache when the font files and
    ReportLab are those they were parsed from (parsing the two TrueType files in pure
    Python was about 6 % of a ward print, issue #15), else parsed and kept there.

    What is kept is each font's own state as ReportLab's parser left it, without the
    per-document subsets (empty before a first use) and the unit scale (a function,
    rebuilt here exactly as ReportLab builds it from ``unitsPerEm``)."""
    import reportlab

    from paperfallback import derived_cache

    paths = {name: resource("fonts", file) for name, file in _FILES.items()}
    folder = derived_cache.folder()
    key = derived_cache.key_of(["fonts", reportlab.Version, *paths], paths.values())
    if folder is not None:
        kept = derived_cache.read(folder / FONT_CACHE_FILE, key)
        if isinstance(kept, list) and len(kept) == len(paths):
            try:
                return [_rebuilt(state) for state in kept]
            except (KeyError, TypeError, AttributeError):
                pass  # not what this ReportLab keeps: parsed again below
    fonts = [_parse(name, path) for name, path in paths.items()]
    if folder is not None:
        derived_cache.write(folder / FONT_CACHE_FILE, key, [_kept(f) for f in fonts])
    return fonts


def _parse(name: str, path: Path) -> TTFont:
    return TTFont(name, str(path))


def _kept(font: TTFont) -> dict[str, Any]:
    state = {k: v for k, v in vars(font).items() if k not in ("face", "state")}
    face = {k: v for k, v in vars(font.face).items() if k != "_pdfScale"}
    return {"font": state, "face": face}


def _rebuilt(kept: dict[str, Any]) -> TTFont:
    face = TTFontFace.__new__(TTFontFace)
    vars(face).update(kept["face"])
    units = face.unitsPerEm
    face._pdfScale = _identity if units == 1000 else partial(_scaled, 1000 / units)
    font = TTFont.__new__(TTFont)
    vars(font).update(kept["font"])
    font.face = face
    font.state = WeakKeyDictionary()
    return font


def _identity(x: float) -> float:
    return x


def _scaled(factor: float, x: float) -> float:
    return x * factor


def missing_glyphs(text: str, font: str = REGULAR) -> set[str]:
    """Characters of ``text`` the font has no glyph for (they would print as boxes)."""
    register_fonts()
    face = pdfmetrics.getFont(font).face
    return {c for c in text if not c.isspace() and ord(c) not in face.charToGlyph}


def string_width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))
