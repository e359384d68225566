"""Time-series charts (``kind: chart``).

Axis "columns" (NEWS2): parameters run down in RCP graph rows shaded by their NEWS2 score
(from the domain's BANDS, through the form's ``score_table``), time points run across:
the last recorded observations from the cache first (oldest to newest), each value
written in the row of its band, then blank columns. The grid, shading and labels are the
same on every page, so they are drawn once per document as a Form XObject.

Axis "rows" (fluid balance): fixed time points run down, fields across.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from paperfallback.cache.staleness import uk_time
from paperfallback.domain.keyed import (
    is_keyed_from_paper,
    is_unchecked_total,
    keyed_spo2_scale,
    paper_total,
)
from paperfallback.domain.news2_input import chart_spo2_scale
from paperfallback.domain.records import Observation, ObservationKind, PatientRecord
from paperfallback.formspec.models import ChartRow, ChartSection, FieldSpec, GraphRow
from paperfallback.render.draw import (
    LIGHT_GREY,
    MM,
    SCORE_RGB,
    Canvas,
    draw_text,
    fit_size,
    form_name,
    text_in_box,
)
from paperfallback.render.fonts import BOLD, REGULAR
from paperfallback.render.layout import Block, BuildContext, Flow
from paperfallback.render.prefill import KEYED_MARK, UNCHECKED_MARK
from paperfallback.render.sections_common import draw_title, title_height

GROUP_W = 5.5 * MM
NAME_W = 19 * MM
BAND_W = 16 * MM
MIN_ROW_H = 2.7 * MM
MIN_COL_W = 9.0 * MM
HEADER_ROWS = 2  # date, time


# ---- data: the cached observations as time points ------------------------------------


@dataclass(frozen=True, slots=True)
class TimePoint:
    moment: datetime
    values: dict[str, str]  # field id -> printed text
    numbers: dict[str, float]  # field id -> numeric value (for placing in graph rows)
    keyed_at: datetime | None = None  # keyed from paper (not in the EPR snapshot): when
    spo2_scale: int | None = None  # the scale the column was recorded on (keyed, or the EPR's)
    paper_total: str | None = None  # handwritten NEWS2 total that differed from the computed


PAPER_TOTAL_MARK = "≠"  # beside a computed total whose handwritten one differed


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


SET_WINDOW = timedelta(minutes=10)


def observation_sets(observations: tuple[Observation, ...]) -> list[list[Observation]]:
    """Group observations into sets taken together: one set runs from its first reading
    for up to SET_WINDOW and never holds a parameter twice (a repeat starts a new set).
    EPRs often stamp the parameters of one set seconds or minutes apart."""
    sets: list[list[Observation]] = []
    kinds: set[ObservationKind] = set()
    for obs in sorted(observations, key=lambda o: o.effective):
        if (not sets or obs.kind in kinds
                or obs.effective - sets[-1][0].effective > SET_WINDOW):
            sets.append([])
            kinds = set()
        sets[-1].append(obs)
        kinds.add(obs.kind)
    return sets


# The last few (record, chart) -> points: a chart's points are asked for four times per
# instance (three footnote checks before layout, then the layout; issue #15). Held by
# identity with the objects themselves, so an id is never reused while remembered.
_RECENT_POINTS: list[tuple[PatientRecord, ChartSection, tuple[TimePoint, ...]]] = []


def time_points(record: PatientRecord, chart: ChartSection) -> list[TimePoint]:
    """Observation sets as time points, oldest first (a set's time is that of its first
    reading). Sets keyed from paper (long outages) carry when they were keyed."""
    for seen_record, seen_chart, seen in _RECENT_POINTS:
        if seen_record is record and seen_chart is chart:
            return list(seen)
    points = _time_points(record, chart)
    _RECENT_POINTS.insert(0, (record, chart, tuple(points)))
    del _RECENT_POINTS[4:]
    return points


def _time_points(record: PatientRecord, chart: ChartSection) -> list[TimePoint]:
    fields = {f.prefill: f for f in chart.fields if f.prefill}
    points = []
    for group in observation_sets(record.observations):
        moment = group[0].effective
        values: dict[str, str] = {}
        numbers: dict[str, float] = {}
        for obs in group:
            spec = fields.get(f"observation.{obs.kind.value}")
            if obs.kind is ObservationKind.OXYGEN:
                code = obs.text.strip().upper()
                if code in ("A", "AIR"):
                    code = "A"
                elif code:
                    if code not in ("O2", "OXYGEN"):
                        device = fields.get("observation.o2_device")
                        if device:
                            values[device.id] = obs.text.strip()
                    code = "O2"
                if spec and code:
                    values[spec.id] = code
                continue
            if obs.kind is ObservationKind.O2_FLOW and obs.text:
                device = fields.get("observation.o2_device")
                if device:
                    values[device.id] = obs.text
            if spec is None:
                continue
            if obs.value is not None:
                numbers[spec.id] = obs.value
                values[spec.id] = _fmt(obs.value, spec.decimals)
                if paper_total(obs) is not None:
                    values[spec.id] += PAPER_TOTAL_MARK
                elif is_unchecked_total(obs):
                    values[spec.id] += UNCHECKED_MARK
            elif obs.text:
                values[spec.id] = obs.text.strip().upper()
        if values:
            keyed = [o.source_time or o.effective for o in group if is_keyed_from_paper(o)]
            scales = [s for s in map(keyed_spo2_scale, group) if s is not None]
            papers = [p for p in map(paper_total, group) if p is not None]
            points.append(TimePoint(moment, values, numbers, max(keyed) if keyed else None,
                                    scales[-1] if scales else record.spo2_scale,
                                    papers[-1] if papers else None))
    scale_field = fields.get("observation.spo2_scale")
    if scale_field:
        for point in points:
            if point.spo2_scale:
                point.values[scale_field.id] = str(point.spo2_scale)
    return points


# ---- axis "columns" ---------------------------------------------------------------


def _graph_row_for(row: ChartRow, spec: FieldSpec, point: TimePoint,
                   oxygen_field: str | None) -> int | None:
    """Index of the graph row a time point's value is written in, if any."""
    value = point.values.get(spec.id)
    if value is None:
        return None
    oxygen = point.values.get(oxygen_field) if oxygen_field else None
    for i, graph_row in enumerate(row.graph):
        if graph_row.choice is not None:
            if graph_row.choice == value:
                return i
        elif spec.id in point.numbers and graph_row.contains(point.numbers[spec.id], oxygen):
            return i
    return None


@dataclass
class ColumnsChartFlow:
    """NEWS2-style chart: ``pages_left`` pages, the first with the cached time points."""

    chart: ChartSection
    ctx: BuildContext
    points: list[TimePoint]
    spo2_scale: int | None
    first: bool = True

    def take(self, avail: float, width: float, fresh: bool) -> tuple[Block | None, Flow | None]:
        chart = self.chart
        rows = chart.layout_rows()
        n_lines = sum(max(1, len(r.graph)) for r in rows) + HEADER_ROWS
        fixed = title_height(chart, "x") + 3.6 * MM
        row_h = chart.row_height_mm * MM
        if fixed + n_lines * row_h > avail:
            if not fresh:
                return None, self
            row_h = max(MIN_ROW_H, (avail - fixed) / n_lines)  # shrink to fit the page
        height = fixed + n_lines * row_h
        columns = max(chart.blank_columns, int((width - GROUP_W - NAME_W - BAND_W) // MIN_COL_W))
        shown = self.points[-min(chart.prefill_columns, columns - chart.blank_columns):] \
            if self.first and chart.prefill_columns and columns > chart.blank_columns else []
        if not self.first:
            shown = []
        stats = self.ctx.stats
        stats.prefilled += len(shown)
        stats.blank += columns - len(shown)
        stats.prefilled_times.extend(p.moment.isoformat() for p in shown)

        def draw(c: Canvas, x: float, top: float, w: float) -> None:
            self._draw(c, x, top, w, columns, shown, row_h)

        return Block(height, draw), None

    def _note(self) -> str:
        if not any(f.role == "news2.spo2" for f in self.chart.fields):
            return ""  # not a NEWS2 chart (a site chart): no SpO2 scale to state
        if self.ctx.subject is None:
            return "SpO2 scale: circle the scale prescribed (Scale 1 unless a clinician " \
                   "prescribes Scale 2)."
        if self.ctx.subject.record is not None and \
                self.ctx.subject.record.spo2_scale in (1, 2):
            return f"SpO2 scale recorded in the EPR: Scale {self.spo2_scale}."
        return "SpO2 scale not recorded in the EPR: Scale 1 unless a clinician " \
               "prescribes Scale 2."

    def _draw(self, c: Canvas, x: float, top: float, width: float, columns: int,
              shown: list[TimePoint], row_h: float) -> None:
        chart = self.chart
        top -= draw_title(c, chart, x, top, width, extra_note=self._note())
        grid_x = x + GROUP_W + NAME_W + BAND_W
        col_w = (x + width - grid_x) / columns
        # Caption over the columns: which came from the cache.
        cap = 3.6 * MM
        if shown:
            if any(p.keyed_at for p in shown):
                source = (f"(◆ recorded in the EPR, copied from the cache; {KEYED_MARK} keyed "
                          "from paper, see the note at the foot)")
            else:
                source = "(marked ◆): last observations recorded in the EPR, copied from the cache"
            text = (f"Columns 1–{len(shown)} {source}. Columns {len(shown) + 1}–{columns}:"
                    " new observations.")
            c.setFont(BOLD, fit_size(text, BOLD, width, 6.3, 4.5))
            draw_text(c, "left", x, top - cap + 1.2 * MM, text)
        top -= cap
        key = f"{self.ctx.form_key}:{chart.id}:grid:{x:.0f}:{top:.0f}:{width:.0f}:{columns}"
        name = form_name(f"{key}:{row_h:.2f}")
        if not c.hasForm(name):
            c.beginForm(name)
            self._draw_grid(c, x, top, width, columns, grid_x, col_w, row_h)
            c.endForm()
        c.doForm(name)
        self._record_grid(top, grid_x, col_w, row_h, columns, len(shown))
        if shown:
            self._draw_values(c, top, grid_x, col_w, row_h, shown)

    def _record_grid(self, top: float, grid_x: float, col_w: float, row_h: float,
                     columns: int, prefilled: int) -> None:
        """Where this page's keyable columns and band rows were drawn (PDF points), for
        the register: a scan of the page is mapped back onto these boxes, so the marks
        in band rows can check what was keyed (scan.omr)."""
        blocks = []
        y = top - HEADER_ROWS * row_h
        for index, row in enumerate(self.chart.layout_rows()):
            n = max(1, len(row.graph))
            if row.graph:
                blocks.append({"row": index, "field": row.field, "top": round(y, 2)})
            y -= n * row_h
        stats = self.ctx.stats
        stats.grids.append({
            "page": stats.page, "chart": self.chart.id, "x": round(grid_x, 2),
            "left": round(grid_x - GROUP_W - NAME_W - BAND_W, 2),
            "col_w": round(col_w, 3), "row_h": round(row_h, 3), "columns": columns,
            "prefilled": prefilled, "blocks": blocks,
        })

    def _draw_grid(self, c: Canvas, x: float, top: float, width: float, columns: int,
                   grid_x: float, col_w: float, row_h: float) -> None:
        chart = self.chart
        right = x + width
        # header rows: date, time
        c.setFillColorRGB(*LIGHT_GREY)
        c.rect(x, top - HEADER_ROWS * row_h, width, HEADER_ROWS * row_h, stroke=0, fill=1)
        c.setFillGray(0)
        c.setFont(BOLD, 6.5)
        draw_text(c, "left", x + 1.5, top - row_h + 2.2, "Date")
        draw_text(c, "left", x + 1.5, top - 2 * row_h + 2.2, "Time")
        y = top - HEADER_ROWS * row_h
        c.setLineWidth(0.35)
        c.line(x, top, right, top)
        c.line(grid_x, top - row_h, right, top - row_h)
        group_runs: list[tuple[str, float, float]] = []
        for row in chart.layout_rows():
            spec = chart.field(row.field)
            n = max(1, len(row.graph))
            block_top = y
            title = row.label or spec.label
            if row.graph:
                for graph_row in row.graph:
                    score = row.score_of(graph_row)
                    if score:
                        c.setFillColorRGB(*SCORE_RGB[score])
                        c.rect(x + GROUP_W + NAME_W, y - row_h, right - x - GROUP_W - NAME_W,
                               row_h, stroke=0, fill=1)
                        c.setFillGray(0)
                    size = fit_size(graph_row.label, REGULAR, BAND_W - 3.2 * MM, 6.3, 4.2)
                    c.setFont(REGULAR, size)
                    draw_text(c, "right", grid_x - 1.2, y - row_h + 2.3, graph_row.label)
                    if score is not None:
                        c.setFont(BOLD, 5)
                        draw_text(c, "left", x + GROUP_W + NAME_W + 0.8, y - row_h + 2.4,
                                  str(score))
                    y -= row_h
                    c.setLineWidth(0.2)
                    c.line(x + GROUP_W + NAME_W, y, right, y)
                text_in_box(c, title, x + GROUP_W, block_top, NAME_W, n * row_h, size=6.5,
                            bold=True, min_size=4.5, valign="middle")
                c.setLineWidth(0.7)
                c.line(x + GROUP_W + NAME_W, block_top, x + GROUP_W + NAME_W, y)
            else:
                heavy = spec.bold  # declared in forms/*.yaml (the NEWS2 total)
                if heavy:
                    c.setFillColorRGB(*LIGHT_GREY)
                    c.rect(x + GROUP_W, y - row_h, width - GROUP_W, row_h, stroke=0, fill=1)
                    c.setFillGray(0)
                text_in_box(c, title, x + GROUP_W, y, NAME_W + BAND_W, row_h, size=6.3,
                            bold=True, min_size=4.2, valign="middle")
                y -= row_h
            c.setLineWidth(0.7)
            c.line(x + (GROUP_W if row.group else 0), y, right, y)
            if row.group:
                if group_runs and group_runs[-1][0] == row.group:
                    name, start, _ = group_runs[-1]
                    group_runs[-1] = (name, start, y)
                else:
                    group_runs.append((row.group, block_top, y))
        # group letters (A+B, C, D, E) in the left column
        for name, start, end in group_runs:
            c.setLineWidth(0.7)
            c.line(x, end, x + GROUP_W, end)
            c.saveState()
            c.translate(x + GROUP_W / 2 + 2.2, (start + end) / 2)
            c.rotate(90)
            c.setFont(BOLD, 8)
            draw_text(c, "center", 0, 0, name)
            c.restoreState()
        bottom = y
        c.setLineWidth(0.7)
        c.rect(x, bottom, width, top - bottom, stroke=1, fill=0)
        c.line(x + GROUP_W, top - HEADER_ROWS * row_h, x + GROUP_W, bottom)
        c.line(grid_x, top, grid_x, bottom)
        c.setLineWidth(0.3)
        for i in range(1, columns):
            cx = grid_x + i * col_w
            c.line(cx, top, cx, bottom)

    def _draw_values(self, c: Canvas, top: float, grid_x: float, col_w: float, row_h: float,
                     shown: list[TimePoint]) -> None:
        chart = self.chart
        oxygen_field = next((f.id for f in chart.fields if f.prefill == "observation.oxygen"),
                            None)
        for j, point in enumerate(shown):
            scale = point.spo2_scale or self.spo2_scale or 1
            cx = grid_x + j * col_w
            moment = uk_time(point.moment)
            day = (f"{KEYED_MARK} " if point.keyed_at else "◆") + moment.strftime("%d-%b")
            c.setFont(BOLD, fit_size(day, BOLD, col_w - 1.5, 5.8, 4))
            draw_text(c, "center", cx + col_w / 2, top - row_h + 2.2, day)
            c.setFont(BOLD, 5.8)
            draw_text(c, "center", cx + col_w / 2, top - 2 * row_h + 2.2, moment.strftime("%H:%M"))
            y = top - HEADER_ROWS * row_h
            for row in chart.layout_rows():
                spec = chart.field(row.field)
                n = max(1, len(row.graph))
                if row.graph:
                    if row.spo2_scale is None or row.spo2_scale == scale:
                        index = _graph_row_for(row, spec, point, oxygen_field)
                        if index is not None:
                            self._mark(c, point.values[spec.id], cx, y - index * row_h, col_w,
                                       row_h)
                else:
                    text = point.values.get(spec.id, "")
                    if text:
                        size = fit_size(text, BOLD, col_w - 1.5, 6.3, 3.8)
                        c.setFont(BOLD, size)
                        draw_text(c, "center", cx + col_w / 2, y - row_h + 2.3, text)
                y -= n * row_h

    @staticmethod
    def _mark(c: Canvas, text: str, x: float, top: float, w: float, h: float) -> None:
        """A value written in its band row: bold, boxed so it reads at a glance."""
        c.setLineWidth(0.9)
        c.rect(x + 0.6, top - h + 0.5, w - 1.2, h - 1.0, stroke=1, fill=0)
        c.setFont(BOLD, fit_size(text, BOLD, w - 2, 6.3, 4))
        draw_text(c, "center", x + w / 2, top - h + 2.3, text)


# ---- axis "rows" -------------------------------------------------------------------


@dataclass
class RowsChartFlow:
    """Fixed time points down the page (fluid balance), one column per field."""

    chart: ChartSection
    ctx: BuildContext

    def _columns(self) -> list[FieldSpec]:
        return list(self.chart.fields)

    def take(self, avail: float, width: float, fresh: bool) -> tuple[Block | None, Flow | None]:
        row_h = self.chart.row_height_mm * MM
        header_h = 9 * MM
        height = title_height(self.chart) + header_h + len(self.chart.time_points) * row_h
        if height > avail and not fresh:
            return None, self
        self.ctx.stats.blank += len(self.chart.time_points)
        return Block(height, self._draw), None

    def _record(self, x: float, top: float, width: float, row_h: float) -> None:
        """Each keyable cell (row = time point, as keying numbers it; the printed hour
        is not keyed from the paper), for scan-back."""
        fields = self._columns()
        total = sum(f.width for f in fields)
        stats = self.ctx.stats
        cells = []
        cx = x
        for spec in fields:
            w = width * spec.width / total
            if spec.keyed and spec.id != self.chart.time_field:
                cells.append((spec.id, spec.type, cx, w))
            cx += w
        for row in range(len(self.chart.time_points)):
            for field_id, kind, left, w in cells:
                stats.record_box(self.chart.id, field_id, row, kind,
                                 (left, top - row * row_h, w, row_h))

    def _draw(self, c: Canvas, x: float, top: float, width: float) -> None:
        chart = self.chart
        top -= draw_title(c, chart, x, top, width)
        row_h = chart.row_height_mm * MM
        header_h = 9 * MM
        self._record(x, top - header_h, width, row_h)
        name = form_name(f"{self.ctx.form_key}:{chart.id}:rows:{x:.0f}:{top:.0f}:{width:.0f}")
        if c.hasForm(name):
            c.doForm(name)
            return
        c.beginForm(name)
        fields = self._columns()
        total = sum(f.width for f in fields)
        widths = [width * f.width / total for f in fields]
        bottom = top - header_h - len(chart.time_points) * row_h
        c.setFillColorRGB(*LIGHT_GREY)
        c.rect(x, top - header_h, width, header_h, stroke=0, fill=1)
        cx = x
        c.setFillGray(0.93)  # running totals: a light tint, under the grid lines
        for spec, w in zip(fields, widths, strict=True):
            if _is_running_total(spec):
                c.rect(cx, bottom, w, top - header_h - bottom, stroke=0, fill=1)
            cx += w
        c.setFillGray(0)
        cx = x
        for spec, w in zip(fields, widths, strict=True):
            text = spec.label + (f" ({spec.unit})" if spec.unit else "")
            text_in_box(c, text, cx, top, w, header_h, size=6.3, bold=True, min_size=4.5,
                        align="center", valign="middle")
            cx += w
        y = top - header_h
        c.setLineWidth(0.3)
        for i, label in enumerate(chart.time_points):
            c.setFont(BOLD, 7.5)
            draw_text(c, "center", x + widths[0] / 2, y - row_h + 0.36 * row_h, label)
            y -= row_h
            c.setLineWidth(0.7 if (i + 1) % 6 == 0 else 0.3)
            c.line(x, y, x + width, y)
        cx = x
        c.setLineWidth(0.4)
        for i, (spec, w) in enumerate(zip(fields, widths, strict=True)):
            if i:
                c.setLineWidth(0.9 if _is_running_total(spec) else 0.4)
                c.line(cx, top, cx, bottom)
            cx += w
        c.setLineWidth(0.8)
        c.rect(x, bottom, width, top - bottom, stroke=1, fill=0)
        c.line(x, top - header_h, x + width, top - header_h)
        c.endForm()
        c.doForm(name)


def _is_running_total(spec: FieldSpec) -> bool:
    return "running" in spec.id or "balance" in spec.id


def _points_shown(record: PatientRecord, chart: ChartSection) -> list[TimePoint]:
    if chart.axis != "columns" or not chart.prefill or not chart.prefill_columns:
        return []
    return time_points(record, chart)[-chart.prefill_columns:]


def keyed_times_shown(record: PatientRecord, chart: ChartSection) -> list[datetime]:
    """When the keyed-from-paper time points the chart pre-fills were keyed (for the
    page's footnote, which must be known before layout as it sets the footer's height)."""
    return [p.keyed_at for p in _points_shown(record, chart) if p.keyed_at is not None]


def paper_totals_shown(record: PatientRecord, chart: ChartSection) -> list[tuple[datetime, str]]:
    """(column time, handwritten total) of pre-filled columns whose paper NEWS2 total
    differed from the one computed from their keyed values (for the ≠ footnote)."""
    return [(p.moment, p.paper_total) for p in _points_shown(record, chart)
            if p.paper_total is not None]


def unchecked_totals_shown(record: PatientRecord, chart: ChartSection) -> bool:
    """Whether a pre-filled column shows a paper total it could not check (? footnote)."""
    return any(v.endswith(UNCHECKED_MARK) for p in _points_shown(record, chart)
               for v in p.values.values())


def chart_flow(chart: ChartSection, ctx: BuildContext) -> list[Flow]:
    """The flows for a chart section: one per page it prints on."""
    if chart.axis == "rows":
        return [RowsChartFlow(chart, ctx)]
    record = ctx.subject.record if ctx.subject else None
    points = time_points(record, chart) if (record and chart.prefill) else []
    scale = chart_spo2_scale(record.spo2_scale) if record else None
    if scale is not None and any(f.prefill == "observation.spo2_scale" for f in chart.fields):
        ctx.stats.spo2_scale = scale  # recorded on the issued form: every later path reads it
    return [ColumnsChartFlow(chart, ctx, points, scale, first=(i == 0)) for i in range(chart.pages)]


__all__ = ["PAPER_TOTAL_MARK", "GraphRow", "TimePoint", "chart_flow", "paper_totals_shown",
           "time_points", "unchecked_totals_shown"]
