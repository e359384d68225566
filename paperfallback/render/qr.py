"""The form-instance QR code, drawn as one vector path (sharp at any scan resolution and
a few hundred bytes per page).

Payload: ``<instance ID>/<page>`` (e.g. ``K7-0042Q-X/2``), all in the QR alphanumeric set,
so version 1 fits and each module is about 1 mm at the printed size. A scanner gets the
form instance and the page from the code alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

from paperfallback.register.ids import validate_instance_id
from paperfallback.render.draw import Canvas

QR_MASK = 1  # horizontal stripes: fewest runs, so the shortest path
_DARK_RUN = re.compile(b"\x01+")  # a run of dark modules in one row of segno's matrix


def qr_payload(instance_id: str, page: int) -> str:
    return f"{instance_id}/{page}"


def parse_qr_payload(text: str) -> tuple[str, int | None]:
    """(instance ID, page) from a scanned payload; the page is None when absent."""
    ident, _, page = text.strip().partition("/")
    return validate_instance_id(ident), int(page) if page.isdecimal() else None


@lru_cache(maxsize=4096)
def _runs(payload: str) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """(size, runs): each run is (row, first column, length) of dark modules."""
    # A fixed mask skips segno's mask scoring (most of the encoding time); every mask
    # pattern is valid and decodes, and the tests decode every printed page. segno is
    # imported here, on the first page drawn, not when the command starts.
    import segno

    matrix = segno.make(payload, error="m", micro=False, mask=QR_MASK).matrix
    runs = [(row, found.start(), found.end() - found.start())
            for row, values in enumerate(matrix) for found in _DARK_RUN.finditer(values)]
    return len(matrix), tuple(runs)


@lru_cache(maxsize=4096)
def _path_ops(payload: str) -> tuple[int, str]:
    """(size, PDF operators): one rectangle per run of dark modules in module units
    (whole numbers), filled as one path: no number formatting per page (issue #15)."""
    size, runs = _runs(payload)
    rects = " ".join(f"{col} {size - row - 1} {length} 1 re" for row, col, length in runs)
    return size, f"{rects} f"


def draw_qr(c: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """Draw the code with its bottom-left corner at (x, y), ``size`` points square
    (the quiet zone is left to the caller's margins: keep 4 modules clear)."""
    modules, ops = _path_ops(payload)
    unit = size / modules
    c.setFillGray(0)
    c.saveState()
    c.transform(unit, 0, 0, unit, x, y)  # one module = one unit
    c.addLiteral(ops)
    c.restoreState()
