"""How a printed form's scan layout is kept in the register (``IssuedForm.extra
["scan_layout"]``): written once by the renderer, read by scan-back and keying.

A ward pack records some 14,000 keyable boxes. Kept as a JSON object per box they came to
1.8 MB per 28-bed pack: the work store grew by that on every print (a week of hourly
packs: 300 MB), and writing it was a tenth of the print command (issue #15). Now each box
is one array and the whole is deflated (``zlib``) and base64-encoded behind the prefix
``z1:`` (about 40 times smaller). Layouts recorded before are plain JSON objects and still
read. Readers get the same shape either way (docs/formats.md):

    {"page": [w, h, margin], "grids": [...],
     "fields": [{"page", "section", "field", "row", "kind", "box": [l, t, w, h],
                 "options": [{"value", "box"}]}]}
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

PREFIX = "z1:"  # deflated, base64, compact arrays (format 1 of this codec)
_LEVEL = 1  # deflate's fastest level: the boxes repeat so much that it still packs ~40x

Box = tuple[float, float, float, float]  # left, top (upper edge, y up), width, height
# page, section, field, row (None outside tables), kind, box, tick boxes (value, square)
BoxRecord = tuple[int, str, str, int | None, str, Box, tuple[tuple[str, Box], ...]]


class LayoutUnreadable(ValueError):
    """A recorded layout that cannot be decoded (damaged in the work store)."""


def encode_layout(page: Sequence[float], grids: list[dict[str, Any]],
                  fields: Sequence[BoxRecord]) -> str:
    """The text kept in ``extra["scan_layout"]``. Points to hundredths (far finer than
    any scan); each box ``[page, section, field, row, kind, l, t, w, h, options]`` with
    options ``[[value, l, t, w, h], ...]``."""
    memo = _ROW_JSON
    if len(memo) > 20_000:  # a ward pack has about 14,000 boxes, most alike
        memo.clear()
    parts = []
    for record in fields:
        text = memo.get(record)
        if text is None:
            text = memo[record] = _record_json(record)
        parts.append(text)
    head = json.dumps({"page": [round(v, 2) for v in page], "grids": grids},
                      separators=(",", ":"), ensure_ascii=False)
    plain = head[:-1] + ',"rows":[' + ",".join(parts) + "]}"
    packed = zlib.compress(plain.encode("utf-8"), _LEVEL)
    return PREFIX + base64.b64encode(packed).decode("ascii")


def decode_layout(text: str) -> dict[str, Any]:
    """The layout as readers use it, from either the packed or the older plain form.
    Raises LayoutUnreadable naming what is wrong."""
    if not text.startswith(PREFIX):
        try:
            plain = json.loads(text)
        except ValueError as exc:
            raise LayoutUnreadable(f"the recorded layout is not JSON ({exc})") from exc
        if not isinstance(plain, dict):
            raise LayoutUnreadable("the recorded layout is not a JSON object")
        return plain
    try:
        packed = json.loads(zlib.decompress(base64.b64decode(text[len(PREFIX):],
                                                             validate=True)))
        rows = packed.pop("rows")
        packed["fields"] = [_entry(row) for row in rows]
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError) as exc:
        raise LayoutUnreadable(f"the recorded layout is damaged ({exc})") from exc
    if not isinstance(packed, dict):
        raise LayoutUnreadable("the recorded layout is not a JSON object")
    return packed


def _entry(row: list[Any]) -> dict[str, Any]:
    page, section, field_id, number, kind, left, top, width, height, options = row
    return {"page": page, "section": section, "field": field_id, "row": number,
            "kind": kind, "box": [left, top, width, height],
            "options": [{"value": o[0], "box": o[1:5]} for o in options]}


_ROW_JSON: dict[BoxRecord, str] = {}  # a box's JSON, by its record (every fluid balance
# chart has the same 288 cells)


def _record_json(record: BoxRecord) -> str:
    page, section, field_id, row, kind, box, options = record
    ticks = ",".join(f"[{_quoted(value)},{_numbers(square)}]" for value, square in options)
    return (f"[{page},{_quoted(section)},{_quoted(field_id)},"
            f"{'null' if row is None else row},{_quoted(kind)},{_numbers(box)},[{ticks}]]")


@lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _numbers(box: Box) -> str:
    left, top, width, height = box
    return f"{left:.2f},{top:.2f},{width:.2f},{height:.2f}"
