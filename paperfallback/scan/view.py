"""What the keying screen shows beside the fields: the returned page, at the part keyed.

For a chart column the view is that column's strip of the scanned page (with a column of
context either side); for any other field (a MAR dose row, a fluid balance hour, a
registration box, a handover row) it is that row's strip across the page, the field
outlined. Both are found through the boxes the renderer recorded
(``IssuedForm.extra["scan_layout"]``) and the page's registration; for a page that cannot
be lined up, or a copy printed before the boxes were recorded, it is the whole page.
Double entry stays blind: the image is the paper, never another pass's values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from paperfallback.register.store import IssuedForm
from paperfallback.scan.lineup import MIN_MARKS, register_to_layout, stored_page
from paperfallback.scan.omr import column_places, paper_column, scan_layout
from paperfallback.scan.registration import Registration
from paperfallback.scan.store import ScanStore

CONTEXT_COLUMNS = 1.0  # columns of context shown either side of the keyed one
ROW_CONTEXT = 30.0  # points shown above and below a keyed row or box, at most
ROW_START = 0.25  # share of a table's width shown as a row's start (drug, dose; bed, name)

# Pages already decoded and lined up, by (stored page id, what): the screen keeps one so
# that moving from field to field does not decode and register the image again.
Memo = dict[tuple[int, str], Any]


@dataclass(frozen=True, slots=True)
class PageView:
    page: int
    image: Image.Image  # the whole scanned page, greyscale
    caption: str
    # Where the keyed column is on the scanned page (pixels: left, top, right, bottom);
    # None when the whole page is shown. ``image`` is then the band labels + that column.
    column: tuple[int, int, int, int] | None = None
    # Where the keyed row or field's strip is on the scanned page (pixels), when
    # ``image`` is that strip; None for a chart column or the whole page.
    part: tuple[int, int, int, int] | None = None


def page_view(issued: IssuedForm, scans: ScanStore, section: str, index: int,
              page: int | None = None, *, field: str = "", where: str = "",
              memo: Memo | None = None) -> PageView | None:
    """The scan to show while keying ``section``[``index``] (field ``field``, named on the
    paper as ``where``: "row 4 (dose time 08:00)") of ``issued``; None when no page of
    the form has come back (the clerk keys from the paper)."""
    returned = scans.form_pages(issued.instance_id)
    if not returned:
        return None
    layout = scan_layout(issued.extra)
    places = column_places(layout, section) if layout else []
    place = places[index] if index < len(places) else None
    entries = _entries(layout, section, index) if layout and place is None else []
    wanted = place.page if place else _page_of(entries, field, page, set(returned)) or page
    number = wanted if wanted in returned else min(returned)
    page_id, payload = returned[number]
    image = _image(scans, page_id, memo)
    caption = f"{issued.instance_id} page {number} of {issued.page_count}"
    here = [e for e in entries if int(e["page"]) == number]
    on_page = (place is not None and place.page == number) or bool(here)
    if layout is None or not on_page:
        if wanted is not None and wanted != number:
            caption += f" (page {wanted} has not come back)"
        return PageView(number, image, caption)
    registration = _registration(image, page_id, payload, layout, memo)
    if registration is None or registration.marks_found < MIN_MARKS:
        return PageView(number, image, caption + " (whole page: could not line it up)")
    if place is None:
        return _part_view(image, registration, layout, here, field, number,
                          caption + (f", {where}" if where else ""))
    _page_w, page_h, margin = layout["page"]
    grid = place.grid
    tops = [float(b["top"]) for b in grid["blocks"]]
    top = (max(tops) + 2 * float(grid["row_h"])) if tops else page_h - margin
    bottom = margin
    column = _box(registration.transform, place.x - CONTEXT_COLUMNS * place.width,
                  place.x + (1 + CONTEXT_COLUMNS) * place.width, top, bottom, image)
    labels = _box(registration.transform, float(grid.get("left", place.x)), float(grid["x"]),
                  top, bottom, image)
    # The band labels beside the column, so the clerk sees which row each mark is in.
    strip = image.crop(column)
    step = place.width * registration.transform.scale  # one column, in pixels
    marker = ImageDraw.Draw(strip)
    x0 = round(CONTEXT_COLUMNS * step)
    for inset in range(3):  # outline the column being keyed
        marker.rectangle((x0 + inset, inset, x0 + round(step) - inset, strip.height - 1 - inset),
                         outline=0)
    if labels[2] > labels[0]:
        side = image.crop(labels)
        joined = Image.new("L", (side.width + strip.width, max(side.height, strip.height)), 255)
        joined.paste(side, (0, 0))
        joined.paste(strip, (side.width, 0))
        strip = joined
    caption += f", {paper_column(layout, section, index)}"
    return PageView(number, strip, caption, column)


def _entries(layout: dict[str, Any], section: str, index: int) -> list[dict[str, Any]]:
    """The recorded boxes of one keyed row (a table row, a fixed-time chart row) or of a
    plain section's fields (``index`` 0), on whichever pages they were drawn."""
    return [e for e in layout.get("fields", [])
            if e["section"] == section and int(e["row"] or 0) == index]


def _page_of(entries: list[dict[str, Any]], field: str, asked: int | None,
             returned: set[int]) -> int | None:
    """The page to show: the field's own (a MAR row is on one page), else the one asked
    for, else the first that came back (notes that run over several pages)."""
    pages = sorted({int(e["page"]) for e in entries if not field or e["field"] == field}) \
        or sorted({int(e["page"]) for e in entries})
    if not pages:
        return None
    if asked in pages:
        return asked
    return next((p for p in pages if p in returned), pages[0])


def _part_view(image: Image.Image, registration: Registration, layout: dict[str, Any],
               here: list[dict[str, Any]], field: str, number: int, caption: str) -> PageView:
    """The keyed box with a little of the page around it, outlined. A table row is shown
    as the row's start (what it is for: the drug, the patient) joined to the keyed cell
    with a cell either side, so it stays legible in a narrow pane, as a chart column is
    shown beside its band labels."""
    page_w, _page_h, margin = (float(v) for v in layout["page"])
    boxes = [[float(v) for v in e["box"]] for e in here]
    target = next((b for e, b in zip(here, boxes, strict=True) if e["field"] == field), None)
    if target is None:  # the row as a whole (a field not recorded: printed, not written)
        left = min(b[0] for b in boxes)
        top = max(b[1] for b in boxes)
        target = [left, top, max(b[0] + b[2] for b in boxes) - left,
                  top - min(b[1] - b[3] for b in boxes)]
    left, top, width, height = target
    context = min(ROW_CONTEXT, height)
    transform = registration.transform
    in_row = here[0]["row"] is not None
    pad = width if in_row else 12.0  # a cell either side; around a box, a little
    cell = _box(transform, max(margin, left - pad), min(page_w - margin, left + width + pad),
                top + context, top - height - context, image)
    strip = image.crop(cell)
    outline = _box(transform, left, left + width, top, top - height, image)
    marker = ImageDraw.Draw(strip)
    for inset in range(3):  # outline the box being keyed
        marker.rectangle((outline[0] - cell[0] + inset, outline[1] - cell[1] + inset,
                          outline[2] - cell[0] - 1 - inset, outline[3] - cell[1] - 1 - inset),
                         outline=0)
    start_right = margin + ROW_START * (page_w - 2 * margin)
    if in_row and left - pad > start_right:
        start = image.crop(_box(transform, margin, start_right, top + context,
                                top - height - context, image))
        gap = 6
        joined = Image.new("L", (start.width + gap + strip.width,
                                 max(start.height, strip.height)), 255)
        joined.paste(start, (0, 0))
        joined.paste(strip, (start.width + gap, 0))
        strip = joined
    return PageView(number, strip, caption, part=cell)


def _image(scans: ScanStore, page_id: int, memo: Memo | None) -> Image.Image:
    if memo is not None and (page_id, "image") in memo:
        image: Image.Image = memo[(page_id, "image")]
        return image
    image = stored_page(scans, page_id)
    if memo is not None:
        _keep(memo, (page_id, "image"), image)
    return image


def _registration(image: Image.Image, page_id: int, payload: str, layout: dict[str, Any],
                  memo: Memo | None) -> Registration | None:
    if memo is not None and (page_id, "registration") in memo:
        found: Registration | None = memo[(page_id, "registration")]
        return found
    registration = register_to_layout(image, layout, payload)
    if memo is not None:
        _keep(memo, (page_id, "registration"), registration)
    return registration


def _keep(memo: Memo, key: tuple[int, str], value: Any) -> None:
    """Keep a few pages only (a form's pages; images are patient data, in memory)."""
    if len(memo) >= 8:
        memo.pop(next(iter(memo)))
    memo[key] = value


def _box(transform: Any, left: float, right: float, top: float, bottom: float,
         image: Image.Image) -> tuple[int, int, int, int]:
    corners = [transform((x, y)) for x in (left, right) for y in (top, bottom)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return (max(0, int(min(xs))), max(0, int(min(ys))),
            min(image.width, int(max(xs)) + 1), min(image.height, int(max(ys)) + 1))
