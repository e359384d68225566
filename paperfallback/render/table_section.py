"""Repeating rows (``kind: table``): one per cached record, then blank rows to write in.

A row may hold sub-rows (a MAR prescription has one per dose time) and a repeated group
of cells (seven days of administrations, a PRN log). Rows never split across pages; the
header is repeated on every page the table continues onto.

The register learns each printed *sub-row* as its own row (``regular:rx1@08:00``), so a
prescription given three times a day is keyed as three rows, one per dose time, exactly
as the paper reads. Day columns printed with their dates record them for the register
(``Stats.extra["dates:<section>"]``): the dates are then known without keying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from paperfallback.cache.staleness import uk_time
from paperfallback.domain.records import PrescriptionKind
from paperfallback.formspec.models import FieldSpec, TableSection
from paperfallback.formspec.vocabulary import day_section_id
from paperfallback.register.layout_codec import Box
from paperfallback.render.draw import (
    LIGHT_GREY,
    MM,
    Canvas,
    Segment,
    stroke_segments,
    text_in_box,
    tick_options,
)
from paperfallback.render.layout import Block, BuildContext, Flow
from paperfallback.render.prefill import RowContext, resolve
from paperfallback.render.sections_common import draw_title, title_height


@dataclass(frozen=True, slots=True)
class TableRow:
    ctx: RowContext | None  # None: a blank row
    sub_rows: int
    keys: tuple[str, ...] = ()  # per keyed row: the cached record (and dose time) it is for


@dataclass(frozen=True, slots=True)
class Column:
    spec: FieldSpec
    width: float
    repeat: int = 0  # 1-based repeat number, 0 for a plain column


def _columns(section: TableSection, width: float) -> list[Column]:
    plain = list(section.fields)
    weights = [f.width for f in plain]
    repeat = section.repeat
    if repeat:
        weights += [repeat.width] * (repeat.count * len(repeat.fields))
    unit = width / sum(weights)
    columns = [Column(f, f.width * unit) for f in plain]
    if repeat:
        for n in range(1, repeat.count + 1):
            columns += [Column(f, repeat.width * unit, n) for f in repeat.fields]
    return columns


def _matches(section: TableSection, kind: PrescriptionKind) -> bool:
    wanted = section.filter.get("kind")
    return wanted is None or kind.value in {k.strip() for k in wanted.split(",")}


def table_rows(section: TableSection, ctx: BuildContext) -> list[TableRow]:
    """The cached rows of a table, from its source."""
    rows: list[TableRow] = []
    if section.source == "prescriptions":
        record = ctx.subject.record if ctx.subject else None
        if record is None:
            return []
        for rx in record.prescriptions:
            if not _matches(section, rx.kind):
                continue
            subs = max(section.sub_rows_min,
                       len(rx.dose_times) if section.sub_rows_from else 1)
            row_ctx = RowContext(now=ctx.now, patient=record.patient, stay=record.stay,
                                 ward=record.ward, record=record, prescription=rx)
            if section.sub_rows_from:
                # One keyed row per printed sub-row: the dose time, or none for a spare one.
                times = list(rx.dose_times) + [""] * (subs - len(rx.dose_times))
                keys = tuple(f"{section.id}:{rx.id}@{t}" for t in times)
            else:
                keys = (f"{section.id}:{rx.id}",)
            rows.append(TableRow(row_ctx, subs, keys))
        return rows
    for row_ctx in ctx.table_rows.get(section.source, []):
        key = (row_ctx.appointment.id if row_ctx.appointment else
               row_ctx.theatre_case.id if row_ctx.theatre_case else
               row_ctx.patient.id if row_ctx.patient else "")
        rows.append(TableRow(row_ctx, 1, (f"{section.id}:{key}",)))
    return rows


def printed_dates(section: TableSection, ctx: BuildContext) -> list[date]:
    """The dates printed over a table's day columns: the print day (UK), then one a day;
    none on blank copies, where they are written by hand (and keyed)."""
    repeat = section.repeat
    if repeat is None or not repeat.print_dates or ctx.blank or ctx.subject is None:
        return []
    first = uk_time(ctx.now).date()
    return [first + timedelta(days=n) for n in range(repeat.count)]


@dataclass
class TableFlow:
    section: TableSection
    ctx: BuildContext
    rows: list[TableRow]
    blank_rows: int
    fill_page: bool  # a blank table fills its page with rows
    continued: bool = False
    empty_note: str = ""
    first_row: int = 0  # the keyed row number (0-based, as keying counts) of the first row
    _header_h: float = field(default=0.0, init=False)
    # the tick boxes drawn in each choice cell (field id, left, top), for _record_row
    _squares: dict[tuple[str, float, float], list[Box]] = field(default_factory=dict,
                                                                 init=False)

    def _header_height(self) -> float:
        return (9.0 if self.section.repeat and len(self.section.repeat.fields) > 1
                else 7.0) * MM

    def take(self, avail: float, width: float, fresh: bool) -> tuple[Block | None, Flow | None]:
        section = self.section
        row_h = section.row_height_mm * MM
        head = title_height(section) + self._header_height()
        note_h = 4.5 * MM if self.empty_note and not self.continued else 0.0
        room = avail - head - note_h
        placed: list[TableRow] = []
        used = 0.0
        for row in self.rows:
            h = row.sub_rows * row_h
            if used + h > room:
                break
            placed.append(row)
            used += h
        rest_rows = self.rows[len(placed):]
        blank_sub = section.sub_rows_blank if section.sub_rows_from else 1
        blank_h = blank_sub * row_h
        blanks = 0
        if not rest_rows:
            wanted = self.blank_rows
            fits = int((room - used + 0.01) // blank_h)
            blanks = max(0, min(wanted, fits))
            if self.fill_page or section.min_rows:
                blanks = max(blanks, min(fits, section.min_rows - len(placed)))
                if self.fill_page:
                    blanks = max(blanks, fits)
        if not placed and not blanks and not (note_h and not rest_rows):
            if not fresh:
                return None, self
            if self.rows:  # a single row taller than the page: print it anyway
                placed, rest_rows = self.rows[:1], self.rows[1:]
        height = head + note_h + sum(r.sub_rows for r in placed) * row_h + blanks * blank_h
        if height > avail + 0.01 and not fresh:
            return None, self  # e.g. a heading and its "none in the cache" note: next page
        self.ctx.stats.prefilled += len(placed)
        self.ctx.stats.rows.extend(k for r in placed for k in r.keys)
        dates = printed_dates(section, self.ctx)
        if dates:
            self.ctx.stats.extra[f"dates:{section.id}"] = ",".join(d.isoformat() for d in dates)
        self.ctx.stats.blank += blanks
        continued = self.continued
        first_row = self.first_row
        next_row = first_row + sum(len(r.keys) for r in placed) + blanks * blank_sub

        def draw(c: Canvas, x: float, top: float, w: float) -> None:
            self._draw(c, x, top, w, placed, blanks, blank_sub, continued, note_h, first_row)

        rest: Flow | None = None
        if rest_rows:
            rest = TableFlow(section, self.ctx, rest_rows, self.blank_rows, False, True,
                             self.empty_note, next_row)
        elif blanks < self.blank_rows and not self.fill_page and (placed or blanks):
            # the blank rows for new entries did not all fit: they continue overleaf
            rest = TableFlow(section, self.ctx, [], self.blank_rows - blanks, False, True,
                             first_row=next_row)
        return Block(height, draw), rest

    def _draw(self, c: Canvas, x: float, top: float, width: float, rows: list[TableRow],
              blanks: int, blank_sub: int, continued: bool, note_h: float,
              first_row: int) -> None:
        section = self.section
        if section.title:
            suffix = " (continued)" if continued else ""
            c.saveState()
            top -= draw_title(c, section.model_copy(update={"title": section.title + suffix}),
                              x, top, width)
            c.restoreState()
        columns = _columns(section, width)
        header_h = self._header_height()
        self._draw_header(c, x, top, width, columns, header_h)
        if not continued:
            self._record_day_dates(x, top, columns, header_h)
        y = top - header_h
        row_h = section.row_height_mm * MM
        if note_h:
            text_in_box(c, self.empty_note, x, y, width, note_h, size=7, min_size=6)
            c.setLineWidth(0.4)
            c.rect(x, y - note_h, width, note_h)
            y -= note_h
        keyed_row = first_row
        for row in rows:
            self._draw_row(c, x, y, columns, row.ctx, row.sub_rows, row_h)
            y = self._record_row(x, y, columns, row.ctx, row.sub_rows, row_h, keyed_row)
            keyed_row += len(row.keys)
        for _ in range(blanks):
            self._draw_row(c, x, y, columns, None, blank_sub, row_h)
            y = self._record_row(x, y, columns, None, blank_sub, row_h, keyed_row)
            keyed_row += blank_sub if section.sub_rows_from else 1
        c.setLineWidth(0.8)
        c.rect(x, y, width, top - y)

    def _record_day_dates(self, x: float, top: float, columns: list[Column],
                          header_h: float) -> None:
        """Where the date of each day column is written (or a printed one crossed out and
        rewritten): its header cell, under the id keying gives it (``<table>.days``)."""
        repeat = self.section.repeat
        if repeat is None or repeat.day_field is None or not repeat.day_field.keyed:
            return
        two_level = len(repeat.fields) > 1
        height = header_h / 2 if two_level else header_h
        cx = x
        for col in columns:
            if col.repeat > 0 and col.spec.id == repeat.fields[0].id:
                width = sum(c.width for c in columns if c.repeat == 1)
                self.ctx.stats.record_box(
                    day_section_id(self.section.id), f"{repeat.day_field.id}_{col.repeat}",
                    None, repeat.day_field.type, (cx, top, width, height))
            cx += col.width

    def _record_row(self, x: float, top: float, columns: list[Column],
                    ctx: RowContext | None, sub_rows: int, row_h: float,
                    first_row: int) -> float:
        """Record the keyable (unprinted) cells of one printed row, numbered as keying
        numbers rows: each dose-time sub-row of a MAR prescription is its own row.
        Returns the row's bottom edge, as _draw_row does."""
        section = self.section
        split = bool(section.sub_rows_from)
        keyed_rows = sub_rows if split else 1
        times = list(ctx.prescription.dose_times) if (
            ctx and ctx.prescription and split) else []
        height = sub_rows * row_h
        cells: list[list[tuple[str, str, Box, list[tuple[str, Box]]]]] = [
            [] for _ in range(keyed_rows)]
        cx = x
        for col in columns:
            spec = col.spec
            field_id = spec.id if col.repeat == 0 else f"{spec.id}_{col.repeat}"
            per_sub = split and (col.repeat > 0 or spec.prefill == section.sub_rows_from)
            for k in range(keyed_rows):
                if not spec.keyed:
                    break
                if split and spec.prefill == section.sub_rows_from and k < len(times):
                    continue  # the dose time is printed
                if (spec.prefill and ctx is not None and spec.prefill != section.sub_rows_from
                        and resolve(spec.prefill, ctx)):
                    continue  # printed from the cache
                box = (cx, top - k * row_h, col.width, row_h) if per_sub else \
                    (cx, top, col.width, height)
                options: list[tuple[str, Box]] = []
                if spec.type == "choice" and col.repeat == 0:
                    squares = self._squares.get((spec.id, cx, top), [])
                    options = [(ch.code, sq) for ch, sq in zip(spec.choices, squares,
                                                               strict=False)]
                cells[k].append((field_id, spec.type, box, options))
            cx += col.width
        for k, row_cells in enumerate(cells):
            for field_id, kind, box, options in row_cells:
                self.ctx.stats.record_box(section.id, field_id, first_row + k, kind, box,
                                          options)
        return top - height

    def _repeat_header(self, n: int) -> str:
        """'Tue 24-Nov' over a day column printed with its date, else the form's header."""
        dates = printed_dates(self.section, self.ctx)
        if dates and n <= len(dates):
            return f"{dates[n - 1]:%a %d-%b-%Y}"
        assert self.section.repeat is not None
        return self.section.repeat.header.format(n=n)

    def _draw_header(self, c: Canvas, x: float, top: float, width: float,
                     columns: list[Column], header_h: float) -> None:
        section = self.section
        c.setFillColorRGB(*LIGHT_GREY)
        c.rect(x, top - header_h, width, header_h, stroke=0, fill=1)
        c.setFillGray(0)
        two_level = section.repeat is not None and len(section.repeat.fields) > 1
        cx = x
        c.setLineWidth(0.4)
        for col in columns:
            if col.repeat == 0 or not two_level:
                text = col.spec.label if col.repeat == 0 else \
                    self._repeat_header(col.repeat) if section.repeat else ""
                text_in_box(c, text, cx, top, col.width, header_h, size=6.3, bold=True,
                            min_size=4.0, align="center", valign="middle")
            else:
                text_in_box(c, col.spec.label, cx, top - header_h / 2, col.width,
                            header_h / 2, size=5.2, min_size=3.8, align="center",
                            valign="middle")
            first_of_group = two_level and section.repeat is not None and col.repeat > 0 and \
                col.spec.id == section.repeat.fields[0].id
            inner = two_level and col.repeat > 0 and not first_of_group
            c.line(cx, top - (header_h / 2 if inner else 0), cx, top - header_h)
            cx += col.width
        if two_level and section.repeat:
            group_w = sum(col.width for col in columns if col.repeat == 1)
            gx = x + sum(col.width for col in columns if col.repeat == 0)
            for n in range(1, section.repeat.count + 1):
                text_in_box(c, self._repeat_header(n), gx, top, group_w,
                            header_h / 2, size=6.0, bold=True, min_size=4.0, align="center",
                            valign="middle")
                c.line(gx, top - header_h / 2, gx + group_w, top - header_h / 2)
                gx += group_w
        c.line(x, top - header_h, x + width, top - header_h)

    def _draw_row(self, c: Canvas, x: float, top: float, columns: list[Column],
                  ctx: RowContext | None, sub_rows: int, row_h: float) -> float:
        section = self.section
        height = sub_rows * row_h
        times: list[str] = []
        if ctx and ctx.prescription and section.sub_rows_from:
            times = list(ctx.prescription.dose_times)
        cx = x
        size = section.font_size
        thin: list[Segment] = []  # sub-row rules, 0.25 pt
        borders: list[Segment] = []  # column borders, 0.4 pt
        for col in columns:
            spec = col.spec
            per_sub = col.repeat > 0 or spec.prefill == section.sub_rows_from
            if per_sub and sub_rows > 1:
                thin += [(cx, top - i * row_h, cx + col.width, top - i * row_h)
                         for i in range(1, sub_rows)]
            if spec.prefill == section.sub_rows_from and section.sub_rows_from:
                for i, t in enumerate(times):
                    text_in_box(c, t, cx, top - i * row_h, col.width, row_h, size=size,
                                bold=True, align="center", valign="middle")
            elif spec.prefill and ctx is not None:
                value = resolve(spec.prefill, ctx)
                bold = spec.prefill in ("patient.name", "allergies.summary", "alerts.summary",
                                        "stay.bed", "prescription.drug")
                text_in_box(c, value, cx, top, col.width, height, size=size, bold=bold,
                            min_size=4.5)
            elif spec.type == "choice" and col.repeat == 0:
                self._squares[(spec.id, cx, top)] = tick_options(
                    c, [ch.code for ch in spec.choices], cx, top, col.width, height,
                    size=min(6.0, size))
            elif spec.type == "lines" and height > 9 * MM:
                c.setStrokeGray(0.8)
                c.setLineWidth(0.25)
                step = 4.5 * MM
                ly = top - step
                while ly > top - height + 1.5:
                    c.line(cx + 1.5, ly, cx + col.width - 1.5, ly)
                    ly -= step
                c.setStrokeGray(0)
            if cx > x:
                borders.append((cx, top, cx, top - height))
            cx += col.width
        stroke_segments(c, 0.25, thin)
        stroke_segments(c, 0.4, borders)
        stroke_segments(c, 0.6, [(x, top - height, cx, top - height)])
        return top - height


def table_flow(section: TableSection, ctx: BuildContext) -> TableFlow:
    rows = table_rows(section, ctx)
    note = ""
    if not rows and not ctx.blank and section.source != "none":
        subject = {"prescriptions": "medicines of this kind",
                   "ward_patients": "patients on this ward",
                   "appointments": "appointments in this clinic on this day",
                   "theatre_cases": "cases on this list"}.get(section.source, "records")
        note = f"No {subject} in the cache (as of the 'Data as of' time above)."
    return TableFlow(section, ctx, rows, section.blank_rows, fill_page=ctx.blank,
                     empty_note=note)
