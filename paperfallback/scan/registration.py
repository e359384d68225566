"""Map a scanned page back onto the printed page: the transform from PDF points to pixels.

A first estimate comes from the QR's four corners (zxing reports them in the symbol's own
orientation, so a turned or upside-down sheet needs no special case); the three corner
registration squares, looked for where that estimate puts them, then pin the transform
across the whole sheet. Seven points, least squares: rotation, scale, skew and offset of a
sheet through a document feeder. Without the squares (an old print, a cropped scan) the
QR alone is used and the result says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import zxingcpp
from PIL import Image

from paperfallback.render.registration import MARK_SIZE, QR_SIZE, mark_centres, qr_origin
from paperfallback.scan.identify import QR_ONLY

Point = tuple[float, float]
MARK_SEARCH = 5.0 * 72 / 25.4  # look for a square within 5 mm of where it should be
DARK = 110  # grey level below which a pixel is ink or toner


@dataclass(frozen=True, slots=True)
class Affine:
    """x' = a·x + b·y + c, y' = d·x + e·y + f (page points → image pixels)."""

    a: float
    b: float
    c: float
    d: float
    e: float
    f: float

    def __call__(self, point: Point) -> Point:
        x, y = point
        return self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f

    @property
    def scale(self) -> float:
        """Pixels per point (mean of the two axes)."""
        return float(math.hypot(self.a, self.d) + math.hypot(self.b, self.e)) / 2


@dataclass(frozen=True, slots=True)
class Registration:
    transform: Affine
    marks_found: int  # 0–3: how many corner squares pinned the transform
    residual_px: float  # worst distance between a landmark and where the transform puts it


def register_page(image: Image.Image, page_w: float, page_h: float, margin: float,
                  payload: str) -> Registration | None:
    """The page → image transform of a scan whose QR reads ``payload``; None when the
    code cannot be found again (the page is then not checked, never guessed)."""
    corners = _qr_corners(image, payload)
    if corners is None:
        return None
    qx, qy = qr_origin(page_w, page_h, margin)
    page_pts: list[Point] = [(qx, qy + QR_SIZE), (qx + QR_SIZE, qy + QR_SIZE),
                             (qx + QR_SIZE, qy), (qx, qy)]
    image_pts = list(corners)
    first = fit_affine(page_pts, image_pts)
    found = 0
    for centre in mark_centres(page_w, page_h, margin):
        spot = _find_mark(image, first, centre)
        if spot is not None:
            page_pts.append(centre)
            image_pts.append(spot)
            found += 1
    transform = fit_affine(page_pts, image_pts) if found else first
    residual = max(_distance(transform(p), q) for p, q in zip(page_pts, image_pts, strict=True))
    return Registration(transform, found, residual)


def _qr_corners(image: Image.Image, payload: str) -> tuple[Point, ...] | None:
    for result in zxingcpp.read_barcodes(image, formats=QR_ONLY, try_rotate=True,
                                         try_downscale=True, try_invert=False):
        if result.text == payload:
            pos = result.position
            return tuple((float(p.x), float(p.y)) for p in
                         (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left))
    return None


def _find_mark(image: Image.Image, transform: Affine, centre: Point) -> Point | None:
    """Centroid of the solid square near where the transform expects it, if it is there."""
    x, y = transform(centre)
    reach = MARK_SEARCH * transform.scale
    box = (max(0, int(x - reach)), max(0, int(y - reach)),
           min(image.width, int(x + reach) + 1), min(image.height, int(y + reach) + 1))
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        return None
    window = image.crop(box)
    blob = _largest_blob(window.tobytes(), window.width, window.height)
    side = MARK_SIZE * transform.scale
    if not 0.4 * side * side <= len(blob) <= 2.0 * side * side:
        return None  # nothing there, or something that is not the square
    xs = [i % window.width for i in blob]
    ys = [i // window.width for i in blob]
    if max(max(xs) - min(xs), max(ys) - min(ys)) > 1.8 * side:
        return None  # ink spread wider than the square: a line, not the mark
    return box[0] + sum(xs) / len(blob), box[1] + sum(ys) / len(blob)


def _largest_blob(pixels: bytes, width: int, height: int) -> list[int]:
    """The largest 4-connected set of dark pixels (the square, not a neighbouring letter)."""
    seen = bytearray(len(pixels))
    best: list[int] = []
    for start, value in enumerate(pixels):
        if value >= DARK or seen[start]:
            continue
        seen[start] = 1
        blob, stack = [], [start]
        while stack:
            i = stack.pop()
            blob.append(i)
            x = i % width
            for j in (i - width, i + width, i - 1 if x else -1, i + 1 if x < width - 1 else -1):
                if 0 <= j < len(pixels) and not seen[j] and pixels[j] < DARK:
                    seen[j] = 1
                    stack.append(j)
        if len(blob) > len(best):
            best = blob
    return best


def fit_affine(page: list[Point], image: list[Point]) -> Affine:
    """Least-squares affine transform through three or more point pairs."""
    sxx = sum(x * x for x, _ in page)
    sxy = sum(x * y for x, y in page)
    syy = sum(y * y for _, y in page)
    sx = sum(x for x, _ in page)
    sy = sum(y for _, y in page)
    n = float(len(page))
    matrix = [[sxx, sxy, sx], [sxy, syy, sy], [sx, sy, n]]
    rows = []
    for axis in (0, 1):
        rhs = [sum(p[0] * q[axis] for p, q in zip(page, image, strict=True)),
               sum(p[1] * q[axis] for p, q in zip(page, image, strict=True)),
               sum(q[axis] for q in image)]
        rows.append(_solve3(matrix, rhs))
    (a, b, c), (d, e, f) = rows
    return Affine(a, b, c, d, e, f)


def _solve3(m: list[list[float]], v: list[float]) -> tuple[float, float, float]:
    """Gaussian elimination with partial pivoting (3×3: no numpy at run time)."""
    a = [[*row, rhs] for row, rhs in zip(m, v, strict=True)]
    for col in range(3):
        pivot = max(range(col, 3), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise ValueError("landmarks are collinear: no transform")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, 3):
            k = a[r][col] / a[col][col]
            for j in range(col, 4):
                a[r][j] -= k * a[col][j]
    out = [0.0, 0.0, 0.0]
    for r in (2, 1, 0):
        out[r] = (a[r][3] - sum(a[r][j] * out[j] for j in range(r + 1, 3))) / a[r][r]
    return out[0], out[1], out[2]


def _distance(p: Point, q: Point) -> float:
    return float(((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2) ** 0.5)
