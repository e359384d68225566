"""The one JSON reader for extract files: nesting depth and NaN/Infinity refused.

Deeper JSON than any FHIR resource needs is an attack or a broken export; without a limit
it ends in a RecursionError traceback (issue 12, item 6) instead of a message naming the
file and line. Python's reader also accepts NaN and Infinity, which JSON (RFC 8259) does not.
"""

from __future__ import annotations

import json
from typing import Any

from paperfallback.domain.errors import InputError

# FHIR resources nest about 10 levels deep, a resource in a Bundle in a Bundle about 20.
MAX_JSON_DEPTH = 64


class _NonFinite(ValueError):
    """NaN or Infinity: not JSON (RFC 8259), though Python's reader accepts them."""


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def parse_json(text: str, where: str) -> Any:
    """``json.loads`` that refuses nesting deeper than MAX_JSON_DEPTH and NaN/Infinity,
    with ``where`` in the message; a syntax error is raised as json.JSONDecodeError for the
    caller to place (it knows the line)."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputError(_TOO_DEEP, where=where) from None
    except _NonFinite as exc:
        raise InputError(f"not valid JSON: {exc} is not a number JSON allows",
                         where=where) from None
    # Depth cannot exceed the number of brackets: only a text with many is walked.
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH and _deeper_than(data):
        raise InputError(_TOO_DEEP, where=where)
    return data


_TOO_DEEP = (
    f"JSON nested deeper than {MAX_JSON_DEPTH} levels; no FHIR resource nests this deep, "
    "so the file is damaged or hostile"
)


def _deeper_than(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    if not isinstance(data, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False
