"""Dataclass <-> JSON-compatible dict, so stores can keep whole facts in one column.

Dates and datetimes travel as ISO 8601 strings; datetimes are always timezone-aware.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def to_json(obj: Any) -> Any:
    """Return a JSON-compatible copy of a dataclass (recursively)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, tuple | list):
        return [to_json(item) for item in obj]
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    return obj


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from a dict written by :func:`to_json`."""
    hints = _hints(typing.cast(type, cls))
    kwargs = {name: _decode(hints[name], value) for name, value in data.items() if name in hints}
    return cls(**kwargs)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner[0], value)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return tuple(_decode(item, v) for v in value)
    if origin is list:
        item = typing.get_args(tp)[0]
        return [_decode(item, v) for v in value]
    if origin is dict:
        _, vt = typing.get_args(tp)
        return {k: _decode(vt, v) for k, v in value.items()}
    if tp is datetime:
        return datetime.fromisoformat(value)
    if tp is date:
        return date.fromisoformat(value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_json(tp, value)
    if tp is float and isinstance(value, int):
        return float(value)
    return value
