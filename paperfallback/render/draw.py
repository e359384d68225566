"""Drawing primitives shared by the section renderers: fitted and wrapped text, boxes,
tick boxes, the RCP score colours. Units are PDF points unless a name says ``_mm``."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from reportlab.lib.rl_accel import fp_str
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics

from paperfallback.render.fonts import BOLD, REGULAR, string_width

Canvas = Any  # reportlab.pdfgen.canvas.Canvas (untyped upstream)

# RCP NEWS2 (2017) chart colours by score. The RCP asks that the chart be reproduced in
# colour; these tints keep handwriting legible on top (see the hazard log, RCP terms).
SCORE_RGB: dict[int, tuple[float, float, float]] = {
    3: (0.93, 0.42, 0.42),  # red
    2: (0.98, 0.71, 0.45),  # orange / amber
    1: (1.00, 0.93, 0.50),  # yellow
}
ALERT_RED = (0.78, 0.05, 0.1)
LIGHT_GREY = (0.9, 0.9, 0.9)
MID_GREY = (0.55, 0.55, 0.55)
LABEL_SIZE = 5.6
MM = float(mm)
# Layout works on at most this many characters of any one text (issue 12, item 10): one
# absurd value (a 200,000-character family name) made wrap() quadratic and hung a ward
# handover for 12 minutes. No box on an A4 page holds more at a legible size; the full
# value stays in the cache, and the cut is marked with an ellipsis.
MAX_LAYOUT_CHARS = 1000


def layout_cut(text: str, limit: int = MAX_LAYOUT_CHARS) -> str:
    """``text`` cut for layout to ``limit`` characters, the last being "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def draw_text(c: Canvas, align: str, x: float, y: float, text: str) -> None:
    """``drawString`` for our TrueType fonts without ReportLab's per-call text object:
    the PDF operators for each (font, text) are built once per document and reused, which
    is most of the drawing time on a dense chart. Uses the canvas's current font and fill.
    """
    if not text:
        return
    text = layout_cut(text)
    font_name, size = c._fontname, c._fontsize
    if align != "left":
        width = string_width(text, font_name, size)
        x -= width if align == "right" else width / 2
    memo: dict[tuple[str, float, str], str] | None = getattr(c, "_pf_text_memo", None)
    if memo is None:
        memo = {}
        c._pf_text_memo = memo
    key = (font_name, size, text)
    body = memo.get(key)
    if body is None:
        font = pdfmetrics.getFont(font_name)
        points = fp_str(size)
        body = " ".join(
            f"{font.getSubsetInternalName(subset, c._doc)} {points} Tf ({c._escape(part)}) Tj"
            for subset, part in font.splitString(text, c._doc)
        )
        memo[key] = body
    c._code.append(f"BT 1 0 0 1 {fp_str(x, y)} Tm {body} ET")


Segment = tuple[float, float, float, float]  # x1, y1, x2, y2


def stroke_segments(c: Canvas, width: float, segments: list[Segment]) -> None:
    """Stroke straight segments of one line width as one path. A MAR or ward list page
    has hundreds of cell borders; ReportLab's ``line`` costs a call, a number formatting
    and a stroke per segment, and a width change before each (issue #15)."""
    if not segments:
        return
    c.setLineWidth(width)
    c._code.append(" ".join(f"{x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l"
                            for x1, y1, x2, y2 in segments) + " S")


def form_name(key: str) -> str:
    """A short, PDF-safe name for a reusable Form XObject."""
    return "F" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def fit_size(text: str, font: str, width: float, size: float, min_size: float) -> float:
    """The largest size <= ``size`` (down to ``min_size``) at which ``text`` fits."""
    if not text:
        return size
    natural = string_width(layout_cut(text), font, size)
    if natural <= width:
        return size
    return max(min_size, size * width / natural)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap; explicit newlines are kept; over-long words are split."""
    lines: list[str] = []
    for paragraph in layout_cut(text).split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if string_width(candidate, font, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while string_width(word, font, size) > width and len(word) > 1:
                cut = _longest_fitting(word, font, size, width)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _longest_fitting(word: str, font: str, size: float, width: float) -> int:
    """How many leading characters of ``word`` fit ``width`` (at least 1): a binary search,
    not one measurement per character."""
    low, high = 1, len(word) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if string_width(word[:middle], font, size) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def text_in_box(
    c: Canvas, text: str, x: float, top: float, width: float, height: float, *,
    size: float = 7.5, min_size: float = 5.0, bold: bool = False, pad: float = 1.2,
    align: str = "left", valign: str = "top",
) -> None:
    """Draw ``text`` wrapped (and shrunk if needed) inside a box: nothing spills out."""
    if not text:
        return
    font = BOLD if bold else REGULAR
    size, lines, leading = _box_layout(layout_cut(text), font, width - 2 * pad,
                                       height - 2 * pad, size, min_size)
    block = len(lines) * leading
    first = (height - block) / 2 if valign == "middle" else pad
    y = top - first - size * 0.9
    c.setFont(font, size)
    for line in lines:
        if align == "center":
            draw_text(c, "center", x + width / 2, y, line)
        elif align == "right":
            draw_text(c, "right", x + width - pad, y, line)
        else:
            draw_text(c, "left", x + pad, y, line)
        y -= leading


@lru_cache(maxsize=8192)
def _box_layout(text: str, font: str, inner_w: float, inner_h: float, size: float,
                min_size: float) -> tuple[float, tuple[str, ...], float]:
    """(size, lines, leading) of ``text`` in a box: the same cell text in the same box
    recurs on every page of a pack (headers, codes), so it is measured once (issue #15)."""
    longest = max(text.replace("\n", " ").split(" "), key=len)
    size = max(min_size, min(size, fit_size(longest, font, inner_w, size, min_size)))
    while True:
        lines = wrap(text, font, size, inner_w)
        leading = size * 1.15
        if len(lines) * leading <= inner_h + 0.5 or size <= min_size:
            break
        size = max(min_size, size - 0.5)
    max_lines = max(1, int((inner_h + 0.5) // leading))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and string_width(last + "…", font, size) > inner_w:
            last = last[:-1]
        lines[-1] = last + "…"
    return size, tuple(lines), leading


def label(c: Canvas, text: str, x: float, top: float, width: float,
          size: float = LABEL_SIZE) -> None:
    """A small field label in the top-left corner of a box."""
    font_size = fit_size(text, REGULAR, width - 2, size, 4.0)
    c.setFillGray(0.3)
    c.setFont(REGULAR, font_size)
    draw_text(c, "left", x + 1.2, top - font_size - 0.6, text)
    c.setFillGray(0)


def tick_options(c: Canvas, codes: list[str], x: float, top: float, width: float,
                 height: float, size: float = 6.0) -> list[tuple[float, float, float, float]]:
    """Print choice codes each with an empty tick box, wrapping across the cell; return
    the squares drawn, in order (left, top edge, width, height: y up), for scan-back."""
    box = size * 0.95
    cursor_x = x + 1.5
    y = top - height / 2 - box / 2 if height < 3 * size else top - size - 4
    c.setFont(REGULAR, size)
    c.setLineWidth(0.5)
    squares = []
    for code in codes:
        needed = box + 1.5 + string_width(code, REGULAR, size) + 3
        if cursor_x + needed > x + width and cursor_x > x + 1.5:
            cursor_x = x + 1.5
            y -= size + 2.5
        c.rect(cursor_x, y, box, box, stroke=1, fill=0)
        squares.append((cursor_x, y + box, box, box))
        draw_text(c, "left", cursor_x + box + 1.2, y + 0.8, code)
        cursor_x += needed
    return squares
