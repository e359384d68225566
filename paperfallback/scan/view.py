"""What the keying screen shows beside the fields: the returned page, at the part keyed.

For a chart column the view is that column's strip of the scanned page (with a column of
context either side), found through the boxes the renderer recorded and the page's
registration; for anything else, or a page that cannot be lined up, it is the whole page.
Double entry stays blind: the image is the paper, never another pass's values.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from paperfallback.register.store import IssuedForm
from paperfallback.scan.omr import column_places, paper_column, scan_layout
from paperfallback.scan.registration import register_page
from paperfallback.scan.store import ScanStore

CONTEXT_COLUMNS = 1.0  # columns of context shown either side of the keyed one


@dataclass(frozen=True, slots=True)
class PageView:
    page: int
    image: Image.Image  # the whole scanned page, greyscale
    caption: str
    # Where the keyed column is on the scanned page (pixels: left, top, right, bottom);
    # None when the whole page is shown. ``image`` is then the band labels + that column.
    column: tuple[int, int, int, int] | None = None


def page_view(issued: IssuedForm, scans: ScanStore, section: str, index: int,
              page: int | None = None) -> PageView | None:
    """The scan to show while keying ``section``[``index``] of ``issued``; None when no
    page of the form has come back (the clerk keys from the paper)."""
    returned = scans.form_pages(issued.instance_id)
    if not returned:
        return None
    layout = scan_layout(issued.extra)
    places = column_places(layout, section) if layout else []
    place = places[index] if index < len(places) else None
    wanted = place.page if place else page
    number = wanted if wanted in returned else min(returned)
    page_id, payload = returned[number]
    image = Image.open(io.BytesIO(scans.image(page_id))).convert("L")
    caption = f"{issued.instance_id} page {number} of {issued.page_count}"
    if place is None or place.page != number or layout is None:
        if wanted is not None and wanted != number:
            caption += f" (page {wanted} has not come back)"
        return PageView(number, image, caption)
    page_w, page_h, margin = layout["page"]
    registration = register_page(image, page_w, page_h, margin, payload)
    if registration is None or registration.marks_found < 2:
        return PageView(number, image, caption + " (whole page: could not line it up)")
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


def _box(transform: Any, left: float, right: float, top: float, bottom: float,
         image: Image.Image) -> tuple[int, int, int, int]:
    corners = [transform((x, y)) for x in (left, right) for y in (top, bottom)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return (max(0, int(min(xs))), max(0, int(min(ys))),
            min(image.width, int(max(xs)) + 1), min(image.height, int(max(ys)) + 1))
