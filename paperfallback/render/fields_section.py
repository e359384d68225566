"""A box of labelled fields (``kind: fields``): registration details, the MAR allergy box."""

from __future__ import annotations

from dataclasses import dataclass

from paperfallback.formspec.models import FieldSpec, FieldsSection
from paperfallback.formspec.vocabulary import TICKED_VALUE
from paperfallback.register.layout_codec import Box
from paperfallback.render.draw import (
    ALERT_RED,
    MM,
    Canvas,
    label,
    text_in_box,
    tick_options,
)
from paperfallback.render.layout import Block, BuildContext, Flow
from paperfallback.render.prefill import resolve
from paperfallback.render.sections_common import draw_title, title_height


def _rows(section: FieldsSection) -> list[list[tuple[FieldSpec, int]]]:
    """Fields placed in grid rows: (field, span in columns)."""
    rows: list[list[tuple[FieldSpec, int]]] = [[]]
    used = 0
    for spec in section.fields:
        span = min(section.columns, max(1, round(spec.width)))
        if used + span > section.columns:
            rows.append([])
            used = 0
        rows[-1].append((spec, span))
        used += span
    return [r for r in rows if r]


def _height(row: list[tuple[FieldSpec, int]], unit: float) -> float:
    return max((spec.lines if spec.type == "lines" else 1) for spec, _ in row) * unit


@dataclass
class FieldsFlow:
    section: FieldsSection
    ctx: BuildContext

    def take(self, avail: float, width: float, fresh: bool) -> tuple[Block | None, Flow | None]:
        unit = self.section.row_height_mm * MM
        rows = _rows(self.section)
        height = title_height(self.section) + sum(_height(r, unit) for r in rows)
        if height > avail and not fresh:
            return None, self
        return Block(height, self._draw), None

    def _draw(self, c: Canvas, x: float, top: float, width: float) -> None:
        section = self.section
        alert = section.style == "alert"
        top -= draw_title(c, section, x, top, width, alert=alert)
        unit = section.row_height_mm * MM
        col_w = width / section.columns
        y = top
        box_top = top
        for row in _rows(section):
            h = _height(row, unit)
            cx = x
            for spec, span in row:
                w = col_w * span
                c.setLineWidth(0.5)
                c.rect(cx, y - h, w, h, stroke=1, fill=0)
                label(c, spec.label + (f" ({spec.unit})" if spec.unit else ""), cx, y, w)
                value = resolve(spec.prefill, self.ctx.subject) if spec.prefill else ""
                options: list[tuple[str, Box]] = []
                if value:
                    emphasis = spec.prefill == "allergies.summary"
                    text_in_box(c, value, cx, y - 2.4 * MM, w, h - 2.4 * MM,
                                size=9.5 if emphasis else 8.5, bold=emphasis, min_size=5.5)
                elif spec.type == "choice":
                    squares = tick_options(c, [f"{ch.code} {ch.label}" if len(ch.code) < 3
                                               and ch.code != ch.label else ch.code
                                               for ch in spec.choices], cx, y - 2.2 * MM, w,
                                           h - 2.2 * MM, size=6.5)
                    options = [(ch.code, sq) for ch, sq in zip(spec.choices, squares,
                                                               strict=True)]
                elif spec.type == "tickbox":
                    c.rect(cx + w - 5 * MM, y - h + 1.5 * MM, 3.5 * MM, 3.5 * MM)
                    options = [(TICKED_VALUE, (cx + w - 5 * MM, y - h + 5 * MM, 3.5 * MM,
                                               3.5 * MM))]
                elif spec.type == "lines" and spec.lines > 1:
                    c.setStrokeGray(0.75)
                    c.setLineWidth(0.3)
                    for i in range(1, spec.lines):
                        c.line(cx + 1.5, y - i * unit, cx + w - 1.5, y - i * unit)
                    c.setStrokeGray(0)
                if spec.keyed and not value:  # a box to write in: where scan-back finds it
                    self.ctx.stats.record_box(section.id, spec.id, None, spec.type,
                                              (cx, y, w, h), options)
                cx += w
            y -= h
        if alert:
            c.setStrokeColorRGB(*ALERT_RED)
            c.setLineWidth(2.2)
            c.rect(x, y, width, box_top - y, stroke=1, fill=0)
            c.setStrokeGray(0)
            c.setLineWidth(0.5)
