"""A returned page opened from the work store and lined up with its printed page.

One rule for every reader of marks (NEWS2 band rows, tick boxes): a page is read only when
at least two corner squares pinned its transform and every landmark sits within the
reader's tolerance of where the transform puts it. A worse fit could read a neighbouring
row or box, so such a page is reported as not lined up, never read.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from PIL import Image

from paperfallback.scan.registration import Registration, register_page
from paperfallback.scan.store import ScanStore

MIN_MARKS = 2
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LinedUpPage:
    page: int
    image: Image.Image  # greyscale
    registration: Registration


def stored_page(scans: ScanStore, page_id: int) -> Image.Image:
    """A stored scan, decoded to greyscale (what every reader of a page works on).
    Raises KeyError when it was removed under the retention rule, OSError when damaged."""
    return Image.open(io.BytesIO(scans.image(page_id))).convert("L")


def register_to_layout(image: Image.Image, layout: dict[str, Any],
                       payload: str) -> Registration | None:
    """Where the printed page (``layout["page"]``: width, height, margin) lies on the
    scanned ``image``: its registration marks and QR found (None: not found)."""
    page_w, page_h, margin = layout["page"]
    return register_page(image, float(page_w), float(page_h), float(margin), payload)


def line_up(scans: ScanStore, layout: dict[str, Any], page: int, page_id: int, payload: str,
            *, max_residual_pt: float) -> LinedUpPage | None:
    """The stored scan of ``page`` with its page → image transform; None when its
    landmarks cannot be found or do not fit within ``max_residual_pt``."""
    try:
        image = stored_page(scans, page_id)
        reg = register_to_layout(image, layout, payload)
    except KeyError:
        return None  # removed under the retention rule: nothing to read
    except (OSError, ValueError) as exc:  # a damaged image, landmarks in a line
        log.warning("scans: page %d (%s) cannot be lined up: %s", page, payload, exc)
        return None
    if reg is None or reg.marks_found < MIN_MARKS:
        return None
    if reg.residual_px > max_residual_pt * reg.transform.scale:
        return None
    return LinedUpPage(page, image, reg)
