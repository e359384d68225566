"""Which form instance and page a scanned page is, from its QR code (zxing-cpp).

The code is the payload printed by ``render.qr`` (``<instance ID>/<page>``), parsed by the
same function every typed form ID goes through, so a scanned page and a keyed ID can never
be read differently. A page is never guessed: no code, a damaged code or an ID that fails
its check character all come back as not identified.
"""

from __future__ import annotations

from dataclasses import dataclass

import zxingcpp
from PIL import Image, ImageStat

from paperfallback.domain.errors import InputError
from paperfallback.render.qr import parse_qr_payload

# A quick first pass on a half-size image finds almost every code (the printed QR is
# 20 mm, ~80 px at 100 dpi); full size is tried only when that fails.
FIRST_PASS_MAX_SIDE = 1200
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# Below this ink coverage a page with no code is reported as blank, not as unreadable.
BLANK_DARK_SHARE = 0.002


@dataclass(frozen=True, slots=True)
class PageCode:
    """What the page's QR says, or why there is nothing to say."""

    form_id: str | None
    page: int | None
    text: str = ""  # the raw payload, kept for the queue when it does not parse
    blank: bool = False
    rotation: int = 0  # degrees zxing found the code at (0, 90, 180, 270 or in between)


def identify(image: Image.Image) -> PageCode:
    """Decode the page's form-instance code; rotated, skewed and upside-down pages too."""
    for candidate in _candidates(image):
        for result in zxingcpp.read_barcodes(
            candidate, formats=QR_ONLY, try_rotate=True, try_downscale=True,
            try_invert=False,
        ):
            code = _parse(result.text, int(result.orientation))
            if code is not None:
                return code
    return PageCode(None, None, blank=is_blank(image))


def _candidates(image: Image.Image) -> list[Image.Image]:
    side = max(image.size)
    if side <= FIRST_PASS_MAX_SIDE:
        return [image]
    scale = FIRST_PASS_MAX_SIDE / side
    small = image.resize((round(image.width * scale), round(image.height * scale)),
                         Image.Resampling.BILINEAR)
    return [small, image]


def _parse(text: str, rotation: int) -> PageCode | None:
    try:
        form_id, page = parse_qr_payload(text)
    except InputError:
        return None  # someone else's QR (a drug box, a wristband): keep looking
    return PageCode(form_id, page, text=text, rotation=rotation)


def is_blank(image: Image.Image) -> bool:
    """A page with next to no ink: a separator sheet or the back of a page."""
    small = image.reduce(8) if min(image.size) >= 64 else image
    histogram = small.point(lambda v: 255 if v < 128 else 0).convert("L")
    dark_share = ImageStat.Stat(histogram).mean[0] / 255
    return dark_share < BLANK_DARK_SHARE
