"""Ruled lines for free text (``kind: lines``): continuation notes fill their pages."""

from __future__ import annotations

from dataclasses import dataclass

from paperfallback.formspec.models import LinesSection
from paperfallback.render.draw import LIGHT_GREY, MM, Canvas, form_name, text_in_box
from paperfallback.render.layout import Block, BuildContext, Flow
from paperfallback.render.sections_common import draw_title, title_height

HEADER_H = 5.5 * MM


@dataclass
class LinesFlow:
    section: LinesSection
    ctx: BuildContext
    pages_left: int

    def take(self, avail: float, width: float, fresh: bool) -> tuple[Block | None, Flow | None]:
        line_h = self.section.line_height_mm * MM
        head = title_height(self.section) + HEADER_H
        count = int((avail - head) // line_h)
        if count < 3 and not fresh:
            return None, self
        count = max(count, 1)
        self.ctx.stats.blank += count
        height = head + count * line_h

        def draw(c: Canvas, x: float, top: float, w: float) -> None:
            self._draw(c, x, top, w, count)

        rest = LinesFlow(self.section, self.ctx, self.pages_left - 1) \
            if self.pages_left > 1 else None
        return Block(height, draw), rest

    def _widths(self, width: float) -> dict[str, float]:
        fixed = [f for f in self.section.fields if f.type != "lines"]
        flexible = [f for f in self.section.fields if f.type == "lines"]
        fixed_w = sum(f.width for f in fixed) * 22 * MM
        widths = {f.id: f.width * 22 * MM for f in fixed}
        for f in flexible:
            widths[f.id] = (width - fixed_w) / max(1, len(flexible))
        return widths

    def _record(self, x: float, top: float, width: float, count: int) -> None:
        """Each keyed column's ruled box on this page, for scan-back (one per page: the
        notes run on, and keying takes them as one text)."""
        widths = self._widths(width)
        height = count * self.section.line_height_mm * MM
        cx = x
        for spec in self.section.fields:
            if spec.keyed:
                self.ctx.stats.record_box(self.section.id, spec.id, None, spec.type,
                                          (cx, top - HEADER_H, widths[spec.id], height))
            cx += widths[spec.id]

    def _draw(self, c: Canvas, x: float, top: float, width: float, count: int) -> None:
        section = self.section
        top -= draw_title(c, section, x, top, width)
        self._record(x, top, width, count)
        name = form_name(f"{self.ctx.form_key}:{section.id}:{x:.0f}:{top:.0f}:{width:.0f}:{count}")
        if not c.hasForm(name):
            c.beginForm(name)
            line_h = section.line_height_mm * MM
            widths = self._widths(width)
            bottom = top - HEADER_H - count * line_h
            c.setFillColorRGB(*LIGHT_GREY)
            c.rect(x, top - HEADER_H, width, HEADER_H, stroke=0, fill=1)
            c.setFillGray(0)
            cx = x
            c.setLineWidth(0.5)
            for spec in section.fields:
                w = widths[spec.id]
                text_in_box(c, spec.label, cx, top, w, HEADER_H, size=7, bold=True,
                            align="center", valign="middle")
                if cx > x:
                    c.line(cx, top, cx, bottom)
                cx += w
            c.setLineWidth(0.3)
            c.setStrokeGray(0.55)
            y = top - HEADER_H
            for _ in range(count - 1):
                y -= line_h
                c.line(x, y, x + width, y)
            c.setStrokeGray(0)
            c.setLineWidth(0.8)
            c.rect(x, bottom, width, top - bottom)
            c.endForm()
        c.doForm(name)
