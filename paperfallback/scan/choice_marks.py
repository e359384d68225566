"""Ticks in the printed boxes of choice and tickbox fields, read off a returned page.

The renderer recorded, per page, where each keyable field was drawn and where the small
tick square of each of its options is (``IssuedForm.extra["scan_layout"]["fields"]``);
registration maps those squares onto the scan, and the ink inside each square is measured
as SDAPS measures a checkbox (``scan.omr.box_state``). The reading of a field is one of:

- exactly one box clearly ticked and nothing else in any box: that option's value;
- no box marked at all: nothing (the paper may say it in words, or not at all);
- anything else (two ticks, a filled-in box, a faint mark): a note for a person to look at
  the paper. A value is never guessed from an unclear page.

Nothing here decides what is keyed: the keying service offers a clear reading to the
clerk to confirm, and ``scans check`` compares it with what was keyed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from paperfallback.formspec.vocabulary import TICKED_VALUE
from paperfallback.register.store import IssuedForm
from paperfallback.scan.lineup import line_up
from paperfallback.scan.omr import BoxState, box_state, ink_share, scan_layout
from paperfallback.scan.registration import Affine
from paperfallback.scan.store import ScanStore

# Read the middle of a tick square: its printed outline (0.5 pt) stays out even when the
# page lines up a point off. Set on printed, ticked and scanned pages.
BOX_INSET = 0.2
# A page is read for ticks only when every landmark fits within this many points (the
# squares are about 6 pt); each square is then found by its outline (snap_to_outline).
MAX_RESIDUAL_PT = 2.0
# Each square is then found by its printed outline within this reach of where the fit puts
# it; a side counts as found when this share of it is ink (over three pixel lines).
SNAP_REACH_PT = 2.0
SNAP_MIN_EDGE = 0.6
SNAP_KEEP = 0.75  # the fit stays unless the outline is clearly stronger elsewhere
OUTLINE_DARK = 170  # a 0.5 pt line is thin: antialiased and blurred it is grey, not black


@dataclass(frozen=True, slots=True)
class OptionReading:
    value: str
    share: float  # ink share inside the square
    state: BoxState


@dataclass(frozen=True, slots=True)
class ChoiceMark:
    """What the tick squares of one field on one returned page say."""

    page: int
    section: str
    field: str
    row: int | None  # the 0-based table row, None for a plain field
    kind: str  # the field type: "choice" or "tickbox"
    options: tuple[OptionReading, ...]
    value: str | None = None  # the one clearly ticked option (canonical, as keyed)
    note: str = ""  # why a person must look at the paper; "" when clear or unmarked

    @property
    def index(self) -> int:
        """The keying index of the field (table row; 0 for a plain field)."""
        return self.row or 0

    @property
    def ambiguous(self) -> bool:
        return bool(self.note)

    def to_json(self) -> dict[str, Any]:
        return {"page": self.page, "section": self.section, "field": self.field,
                "row": self.row, "value": self.value, "note": self.note or None,
                "boxes": {o.value: round(o.share, 3) for o in self.options}}


@dataclass
class FormMarks:
    """Every tick-box reading of one form's returned pages."""

    marks: list[ChoiceMark] = field(default_factory=list)
    pages_read: list[int] = field(default_factory=list)
    pages_unregistered: list[int] = field(default_factory=list)  # could not be lined up

    def by_place(self) -> dict[tuple[str, int, str], ChoiceMark]:
        """(section, index, field) → reading (a field is on one page)."""
        return {(m.section, m.index, m.field): m for m in self.marks}


def choice_fields(layout: dict[str, Any], page: int | None = None) -> list[dict[str, Any]]:
    """The recorded fields that have printed tick squares (on ``page``, if given)."""
    return [f for f in layout.get("fields", ())
            if f.get("options") and (page is None or int(f["page"]) == page)]


def read_field(image: Image.Image, transform: Affine, recorded: dict[str, Any]) -> ChoiceMark:
    """Measure every tick square of one recorded field and decide what it says."""
    tickbox = recorded.get("kind") == "tickbox"
    readings = []
    for option in recorded["options"]:
        left, top, width, height = (float(v) for v in option["box"])
        at = snap_to_outline(image, transform, left, top, width, height)
        share = ink_share(image, at, left, top, width, height, inset=BOX_INSET)
        value = TICKED_VALUE if tickbox else str(option["value"])
        readings.append(OptionReading(value, share, box_state(share)))
    ticked, note = decide(readings, tickbox=tickbox)
    row = recorded.get("row")
    return ChoiceMark(int(recorded["page"]), str(recorded["section"]), str(recorded["field"]),
                      None if row is None else int(row), str(recorded.get("kind", "choice")),
                      tuple(readings), ticked, note)


def snap_to_outline(image: Image.Image, transform: Affine, left: float, top: float,
                    width: float, height: float) -> Affine:
    """The transform moved by the few pixels that put it on the square's printed outline
    (as SDAPS adjusts a checkbox to the box it finds): a sheet stretched or creased a
    point off the page-wide fit would otherwise bring the outline into the part read and
    make an empty box look ticked. The two vertical and the two horizontal sides are found
    by the ink along them, at exactly the square's size apart (a tick stroke is not a pair
    of parallel lines); without a clear outline the transform is kept as it is."""
    corners = [transform((x, y)) for x in (left, left + width) for y in (top, top - height)]
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    x0, x1, y0, y1 = round(min(xs)), round(max(xs)), round(min(ys)), round(max(ys))
    reach = max(1, round(SNAP_REACH_PT * transform.scale))
    if x0 - reach - 1 < 0 or y0 - reach - 1 < 0 or x1 + reach + 2 > image.width or \
            y1 + reach + 2 > image.height or x1 - x0 < 6 or y1 - y0 < 6:
        return transform
    win_x, win_y = x0 - reach - 1, y0 - reach - 1
    window = image.crop((win_x, win_y, x1 + reach + 2, y1 + reach + 2))
    pixels, w = window.tobytes(), window.width
    dark = [v < OUTLINE_DARK for v in pixels]

    def run(fixed_lo: int, fixed_hi: int, along: int, vertical: bool) -> int:
        """Dark pixels of one line of the window (a column if ``vertical``)."""
        if vertical:
            return sum(dark[y * w + along] for y in range(fixed_lo, fixed_hi))
        return sum(dark[along * w + x] for x in range(fixed_lo, fixed_hi))

    def offset(lo: int, hi: int, span_lo: int, span_hi: int, vertical: bool) -> int:
        inner = (span_hi - span_lo) // 5  # leave the corners out: lines that meet the box
        a, b = span_lo + inner, span_hi - inner
        line = [run(a, b, i, vertical) for i in range(len(dark) // w if not vertical else w)]
        def score(d: int) -> int:  # both sides: one strong line (a stem) is not a box
            return min(sum(line[lo + d + k] for k in (-1, 0, 1)),
                       sum(line[hi + d + k] for k in (-1, 0, 1)))

        best = max(range(-reach, reach + 1), key=lambda d: (score(d), -abs(d)))
        if score(best) < SNAP_MIN_EDGE * (b - a) or score(0) >= SNAP_KEEP * score(best):
            return 0  # no clear outline, or the fit is on it already (a tick beside a
            # letter can look like a pair of sides a few pixels off)
        return best

    dx = offset(x0 - win_x, x1 - win_x, y0 - win_y, y1 - win_y, True)
    dy = offset(y0 - win_y, y1 - win_y, x0 - win_x, x1 - win_x, False)
    if not dx and not dy:
        return transform
    return Affine(transform.a, transform.b, transform.c + dx, transform.d, transform.e,
                  transform.f + dy)


def decide(readings: Iterable[OptionReading], *, tickbox: bool = False
           ) -> tuple[str | None, str]:
    """(value, note): one clear tick and nothing else → its value; no mark → (None, "");
    anything else → (None, why a person must look). Never a guess."""
    options = list(readings)

    def named(state: BoxState) -> list[str]:
        return [("the box" if tickbox else o.value) for o in options if o.state is state]

    filled, ticked, faint = (named(s) for s in (BoxState.FILLED, BoxState.TICKED,
                                                 BoxState.FAINT))
    if filled:
        return None, (f"{_join(filled)} filled in (a correction?): check the paper")
    if len(ticked) > 1:
        return None, f"ticks in {_join(ticked)}: check the paper"
    if ticked and faint:
        return None, (f"a tick in {ticked[0]} and a faint mark in {_join(faint)}: "
                      "check the paper")
    if faint:
        return None, f"a faint mark in {_join(faint)}: check the paper"
    if ticked:
        return next(o.value for o in options if o.state is BoxState.TICKED), ""
    return None, ""


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def read_page(image: Image.Image, transform: Affine, layout: dict[str, Any],
              page: int) -> list[ChoiceMark]:
    """Every choice / tickbox field printed on ``page`` of a lined-up scan."""
    return [read_field(image, transform, f) for f in choice_fields(layout, page)]


def read_form_marks(issued: IssuedForm, scans: ScanStore) -> FormMarks:
    """Read the tick squares on every returned page of a form that has any; pages
    without tick squares are not even opened (opening a form for keying stays quick)."""
    result = FormMarks()
    layout = scan_layout(issued.extra)
    if layout is None or not choice_fields(layout):
        return result
    returned = scans.form_pages(issued.instance_id)
    for page in sorted({int(f["page"]) for f in choice_fields(layout)}):
        if page not in returned:
            continue
        page_id, payload = returned[page]
        lined = line_up(scans, layout, page, page_id, payload, max_residual_pt=MAX_RESIDUAL_PT)
        if lined is None:
            result.pages_unregistered.append(page)
            continue
        result.pages_read.append(page)
        result.marks.extend(read_page(lined.image, lined.registration.transform, layout, page))
    return result
