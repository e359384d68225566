"""Lay out one form instance: its sections flowed onto pages of the form's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A3, A4, landscape, portrait

from paperfallback.formspec.models import (
    ChartSection,
    FieldsSection,
    FormSpec,
    LinesSection,
    PageSpec,
    TableSection,
)
from paperfallback.render.chart_section import chart_flow
from paperfallback.render.draw import MM
from paperfallback.render.fields_section import FieldsFlow
from paperfallback.render.fonts import register_fonts
from paperfallback.render.furniture import footer_height, header_height
from paperfallback.render.layout import Block, BuildContext, Flow, Stats, paginate
from paperfallback.render.lines_section import LinesFlow
from paperfallback.render.prefill import RowContext
from paperfallback.render.table_section import table_flow


@dataclass(frozen=True, slots=True)
class Geometry:
    page_w: float
    page_h: float
    margin: float
    content_top: float
    content_bottom: float

    @property
    def content_w(self) -> float:
        return self.page_w - 2 * self.margin

    @property
    def content_h(self) -> float:
        return self.content_top - self.content_bottom


def page_size(page: PageSpec) -> tuple[float, float]:
    size = A4 if page.size == "A4" else A3
    oriented = landscape(size) if page.orientation == "landscape" else portrait(size)
    return float(oriented[0]), float(oriented[1])


def geometry(page: PageSpec, legend: tuple[str, ...], stale: bool) -> Geometry:
    register_fonts()
    w, h = page_size(page)
    margin = page.margin_mm * MM
    top = h - margin - header_height(stale) - 1.5 * MM
    bottom = margin + footer_height(legend, w - 2 * margin)
    return Geometry(w, h, margin, top, bottom)


@dataclass
class LaidOut:
    pages: list[list[Block]]
    stats: Stats
    geometry: Geometry


def layout_form(spec: FormSpec, *, subject: RowContext | None,
                table_rows: dict[str, list[RowContext]], now: datetime,
                stale: bool) -> LaidOut:
    """Flow a form's sections onto pages (nothing is drawn yet)."""
    geo = geometry(spec.page, tuple(spec.legend), stale)
    stats = Stats()
    ctx = BuildContext(now=now, subject=subject, stats=stats, table_rows=table_rows,
                       form_key=f"{spec.id}:{spec.version}")
    flows: list[tuple[Flow, bool]] = []
    for section in spec.sections:
        if isinstance(section, FieldsSection):
            flows.append((FieldsFlow(section, ctx), section.page_break_before))
        elif isinstance(section, ChartSection):
            for i, flow in enumerate(chart_flow(section, ctx)):
                flows.append((flow, section.page_break_before or i > 0))
        elif isinstance(section, TableSection):
            flows.append((table_flow(section, ctx), section.page_break_before))
        elif isinstance(section, LinesSection):
            flows.append((LinesFlow(section, ctx, section.pages), section.page_break_before))
    pages = paginate(flows, geo.content_w, geo.content_h)
    return LaidOut(pages, stats, geo)
