"""Flowing sections onto pages.

Each section renderer offers a :class:`Flow`: asked for a block that fits the space left
on the page, it returns that block and what remains (a table that continues, a chart's
all-blank second page). Laying a form out before drawing it gives the page count that
"Page x of y" needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from paperfallback.register.layout_codec import Box, BoxRecord, encode_layout
from paperfallback.render.draw import Canvas
from paperfallback.render.prefill import RowContext


@dataclass
class Block:
    """Something drawn at (x, top) across ``width``, ``height`` points tall."""

    height: float
    draw: Callable[[Canvas, float, float, float], None]


class Flow(Protocol):
    def take(self, avail: float, width: float, fresh: bool) -> tuple[Block | None, Flow | None]:
        """The block for this page (None: nothing fits; start a new page unless
        ``fresh``) and what is left for the next page (None: the section is done)."""
        ...


@dataclass
class Stats:
    """What the printed instance holds, for the register (IssuedForm)."""

    prefilled: int = 0
    blank: int = 0
    prefilled_times: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # e.g. "dates:regular" -> ISO dates
    page: int = 0  # the instance's page being drawn (set by the pack before each page)
    # Where keyable chart boxes were drawn, per page (scan-back reads marks from them):
    # see chart_section.ColumnsChartFlow._record_grid.
    grids: list[dict[str, Any]] = field(default_factory=list)
    # Where every other keyable box was drawn, per page: fields, table cells, tick boxes
    # (scan-back cuts a field out of a scan, reads ticks, finds a page's first field).
    # Kept as tuples while drawing (a ward pack draws some 14,000) and packed once for
    # the register by scan_layout.
    fields: list[BoxRecord] = field(default_factory=list)
    spo2_scale: int | None = None  # the SpO2 scale a NEWS2 chart printed (decided once)

    def record_box(self, section: str, field_id: str, row: int | None, kind: str,
                   box: Box, options: list[tuple[str, Box]] | None = None) -> None:
        """Record one keyable box drawn on the current page (PDF points, y up: left, top
        edge, width, height), with the tick boxes printed in it (value, square)."""
        self.fields.append((self.page, section, field_id, row, kind, box,
                            tuple(options) if options else ()))

    def scan_layout(self, page_w: float, page_h: float, margin: float) -> str:
        """``IssuedForm.extra["scan_layout"]``: the page geometry, chart columns and band
        rows (``grids``) and every other keyable field, table cell and printed tick box,
        per page (``fields``), packed as the register keeps it (register.layout_codec;
        docs/formats.md)."""
        return encode_layout((page_w, page_h, margin), self.grids, self.fields)


@dataclass
class BuildContext:
    """Everything a section renderer may read while laying out one form instance."""

    now: datetime
    subject: RowContext | None  # None: a blank form
    stats: Stats
    table_rows: dict[str, list[RowContext]]  # table source -> rows (ward, clinic, theatre)
    form_key: str  # "<form id>:<version>", for naming reusable artwork

    @property
    def blank(self) -> bool:
        return self.subject is None and not self.table_rows


def paginate(flows: list[tuple[Flow, bool]], width: float, height: float) -> list[list[Block]]:
    """Place flows (each with its page-break-before flag) onto pages of ``height``."""
    pages: list[list[Block]] = [[]]
    used = 0.0
    gap = 2.5 * 2.834645669  # 2.5 mm between sections
    for flow, break_before in flows:
        if break_before and pages[-1]:
            pages.append([])
            used = 0.0
        current: Flow | None = flow
        while current is not None:
            fresh = not pages[-1]
            avail = height - used - (0 if fresh else gap)
            block, rest = current.take(avail, width, fresh)
            if block is None:
                if fresh:  # pragma: no cover - a flow must always fit an empty page
                    raise RuntimeError("a section does not fit on an empty page")
                pages.append([])
                used = 0.0
                continue
            if not fresh:
                used += gap
                pages[-1].append(Block(gap, lambda c, x, top, w: None))
            pages[-1].append(block)
            used += block.height
            if rest is not None:
                pages.append([])
                used = 0.0
            current = rest
    if not pages[-1] and len(pages) > 1:
        pages.pop()
    return pages
