"""Dataclass <-> JSON-compatible dict, so stores can keep whole facts in one column.

Dates and datetimes travel as ISO 8601 strings; datetimes are always timezone-aware.
Decoders are compiled once per class (reading the cache is on the hot path of every
pack and every search).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
_PLAIN = (str, int, float, bool, type(None))


def to_json(obj: Any) -> Any:
    """Return a JSON-compatible copy of a dataclass (recursively)."""
    if type(obj) in _PLAIN:
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in _fields(type(obj))}
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
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


Decoder = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@cache
def _decoder(tp: Any) -> Decoder:
    """Build the function that turns JSON for type ``tp`` back into Python values."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = _decoder(next(a for a in typing.get_args(tp) if a is not type(None)))
        if inner is _identity:  # ``str | None``: nothing to convert either way
            return _identity
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _decoder(typing.get_args(tp)[0])
        return lambda v: tuple(item(x) for x in v)
    if origin is list:
        item = _decoder(typing.get_args(tp)[0])
        return lambda v: [item(x) for x in v]
    if origin is dict:
        value_decoder = _decoder(typing.get_args(tp)[1])
        return lambda v: {k: value_decoder(x) for k, x in v.items()}
    if tp is datetime:
        return datetime.fromisoformat
    if tp is date:
        return date.fromisoformat
    if tp is float:
        return lambda v: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _class_decoder(tp)
    return _identity


@cache
def _class_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    names = hints.keys()
    # Only the fields that need converting (dates, enums, nested classes) are touched: a
    # ward pack decodes thousands of observations, most of whose fields are plain JSON.
    converters = [(name, d) for name in hints if (d := _decoder(hints[name])) is not _identity]

    def decode(data: dict[str, Any]) -> Any:
        # A key the class no longer has (a cache written by an older version) is dropped.
        values = dict(data) if data.keys() <= names else {
            name: value for name, value in data.items() if name in names}
        for name, convert in converters:
            value = values.get(name)
            if value is not None:
                values[name] = convert(value)
        return cls(**values)

    return decode


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from a dict written by :func:`to_json`."""
    result: T = _class_decoder(typing.cast(type, cls))(data)
    return result
