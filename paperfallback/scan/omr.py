"""Marks on a returned chart: which band row of each parameter block carries ink.

On the NEWS2 chart each value is written in the band row it falls in, so the row that
carries ink tells the band without reading the handwriting (as SDAPS and queXF read tick
boxes). The renderer recorded, per page, where each keyable column and band row was drawn
(``IssuedForm.extra["scan_layout"]``); registration maps those boxes onto the scan.

Only the inside of a cell is read (the grid lines and the printed score shading stay out:
shading is far lighter than ink), and a row counts as marked only above a minimum share of
ink, so specks and JPEG noise do not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from PIL import Image

from paperfallback.register.layout_codec import LayoutUnreadable, decode_layout
from paperfallback.scan.registration import DARK, Affine

log = logging.getLogger(__name__)

INSET = 0.2  # read the middle of a cell: 20 % of its size off each side
MIN_INK = 0.03  # share of dark pixels above which a cell carries a written value


@dataclass(frozen=True, slots=True)
class ColumnPlace:
    """Where keyed chart column ``index`` (0-based, blank columns in print order) is."""

    page: int
    x: float  # left edge, PDF points
    width: float
    grid: dict[str, Any]
    column: int  # 1-based, as printed on its page


def scan_layout(extra: dict[str, str]) -> dict[str, Any] | None:
    """The printed layout recorded for a form (register.layout_codec); None when none was
    recorded or the record is damaged: scan-back then treats the copy as one printed
    before layouts were recorded (whole pages, no boxes, the clerk reads the paper)."""
    text = extra.get("scan_layout")
    if not text:
        return None
    try:
        return decode_layout(text)
    except LayoutUnreadable as exc:
        log.warning("scan layout not used: %s", exc)
        return None


def column_places(layout: dict[str, Any], chart: str) -> list[ColumnPlace]:
    """Every keyable (blank) column of a chart section, in the order keying numbers them."""
    places = []
    for grid in layout["grids"]:
        if grid["chart"] != chart:
            continue
        for col in range(int(grid["prefilled"]), int(grid["columns"])):
            places.append(ColumnPlace(int(grid["page"]), grid["x"] + col * grid["col_w"],
                                      grid["col_w"], grid, col + 1))
    return places


def paper_column(layout: dict[str, Any], chart: str, index: int) -> str:
    """How the paper and the keying screen name keyed column ``index``: columns are
    numbered per printed page ("column 3 on page 2"), as
    reentry.layout.KeyedSection.index_label says it."""
    places = column_places(layout, chart)
    if index >= len(places):
        return f"column {index + 1}"
    place = places[index]
    return f"column {place.column}" + (f" on page {place.page}" if place.page > 1 else "")


def ink_share(image: Image.Image, transform: Affine, left: float, top: float, width: float,
              height: float, *, inset: float = INSET) -> float:
    """Share of dark pixels in the middle of a page box (PDF points, ``top`` its upper edge)."""
    x0, x1 = left + width * inset, left + width * (1 - inset)
    y0, y1 = top - height * (1 - inset), top - height * inset
    corners = [transform((x, y)) for x in (x0, x1) for y in (y0, y1)]
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    box = (max(0, round(min(xs))), max(0, round(min(ys))),
           min(image.width, round(max(xs))), min(image.height, round(max(ys))))
    if box[2] <= box[0] or box[3] <= box[1]:
        return 0.0
    histogram = image.crop(box).histogram()
    total = sum(histogram)
    return sum(histogram[:DARK]) / total if total else 0.0


def block_ink(image: Image.Image, transform: Affine, place: ColumnPlace, block_top: float,
              rows: int) -> list[float]:
    """Ink share of each band row of one parameter block in one column."""
    row_h = float(place.grid["row_h"])
    return [ink_share(image, transform, place.x, block_top - i * row_h, place.width, row_h)
            for i in range(rows)]


def marked_row(shares: list[float]) -> int | None:
    """The band row that carries the written value, if exactly one clearly does."""
    inked = [i for i, share in enumerate(shares) if share >= MIN_INK]
    if not inked:
        return None
    best = max(inked, key=lambda i: shares[i])
    others = [shares[i] for i in inked if i != best]
    if others and max(others) > shares[best] * 0.6:
        return -1  # ink in two rows alike: a value written across a line; do not decide
    return best


# ---- tick boxes (choice and tickbox fields) -------------------------------------------------
# Read as SDAPS reads a checkbox (sdaps/defs.py, ``checkbox_metrics``): the share of ink
# inside the box decides, with bands where the reading is uncertain and a person must look.
# SDAPS calls a box with 10–40 % coverage checked, under 2–5 % empty and a box nearly full
# "filled" (in its correction mode a filled box cancels a tick). Our boxes are small (about
# 2 mm) so one pen stroke covers more of their middle: the bands are set on printed,
# ticked and scanned pages (tests/e2e/test_scans_ticks.py). Nothing in an uncertain band
# is ever taken as a value.
BOX_EMPTY_MAX = 0.04  # below: an empty box (paper, toner specks, JPEG noise)
BOX_TICKED_MIN = 0.10  # from here: a tick or a cross
BOX_FILLED_MIN = 0.92  # from here: filled in (a correction? a heavy mark?): a person decides


class BoxState(StrEnum):
    EMPTY = "empty"
    FAINT = "faint"  # between empty and ticked: dirt, an erased tick, a very light mark
    TICKED = "ticked"
    FILLED = "filled"


def box_state(share: float) -> BoxState:
    """What the ink share inside one printed tick box says."""
    if share >= BOX_FILLED_MIN:
        return BoxState.FILLED
    if share >= BOX_TICKED_MIN:
        return BoxState.TICKED
    if share >= BOX_EMPTY_MAX:
        return BoxState.FAINT
    return BoxState.EMPTY
