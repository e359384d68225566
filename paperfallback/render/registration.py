"""Where the page's fixed landmarks are printed, so a scan can be mapped back onto the page.

The QR (top right, inside the margin) and three solid registration squares in the other
corners, in the margin, give four well-spread points: from their positions in a scan the
scan side fits the transform from page coordinates to image pixels (rotation, scale,
skew and offset of a sheet through a document feeder), so any box the renderer drew can be
cut out of the image. One definition serves the drawing and the reading.

Coordinates are PDF points from the page's bottom-left corner.
"""

from __future__ import annotations

from paperfallback.render.draw import MM, Canvas

QR_SIZE = 20 * MM
QR_BLOCK_W = 28 * MM
MARK_SIZE = 3.0 * MM
MARK_MIN_INSET = 5.5 * MM  # centre from the paper edge: inside most printers' margins


def qr_origin(page_w: float, page_h: float, margin: float) -> tuple[float, float]:
    """Bottom-left corner of the printed QR code."""
    return page_w - margin - QR_SIZE - 1 * MM, page_h - margin - QR_SIZE - 0.5 * MM


def qr_centre(page_w: float, page_h: float, margin: float) -> tuple[float, float]:
    x, y = qr_origin(page_w, page_h, margin)
    return x + QR_SIZE / 2, y + QR_SIZE / 2


def mark_centres(page_w: float, page_h: float, margin: float
                 ) -> tuple[tuple[float, float], ...]:
    """Centres of the registration squares: top left, bottom left, bottom right."""
    inset = max(MARK_MIN_INSET, margin * 0.55)
    return ((inset, page_h - inset), (inset, inset), (page_w - inset, inset))


def draw_marks(c: Canvas, page_w: float, page_h: float, margin: float) -> None:
    c.setFillGray(0)
    for x, y in mark_centres(page_w, page_h, margin):
        c.rect(x - MARK_SIZE / 2, y - MARK_SIZE / 2, MARK_SIZE, MARK_SIZE, stroke=0, fill=1)
