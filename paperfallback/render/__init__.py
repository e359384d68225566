"""The ReportLab engine: page furniture, building blocks, one renderer per section kind,
and packs (:func:`render_pack`)."""

from paperfallback.register import COVER_FORM_ID
from paperfallback.render.pack import (
    PackCancelled,
    PackRequest,
    PackResult,
    render_pack,
)

__all__ = ["COVER_FORM_ID", "PackCancelled", "PackRequest", "PackResult", "render_pack"]
