"""Identity fields must have the JSON type FHIR gives them, or the import fails.

The readers in ``fhir_values`` are lenient on purpose (what is absent reads as ""), but
leniency on identity is a hazard (issue 13, item 2): an NHS number sent as a JSON number
was read as "NHS number not recorded", and a ``family`` sent as an object dropped the
family name, so the form printed a different-looking person. Every field that says *who*
a resource is about is checked here before it is mapped; a field PaperFallback does not
use is not looked at, whatever its type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paperfallback.cache.importers.fhir_files import Where
from paperfallback.cache.importers.fhir_values import Json
from paperfallback.domain.errors import InputError

_KINDS: dict[type, str] = {
    str: "a string", bool: "true or false", int: "a number", float: "a number",
    list: "an array", dict: "an object", type(None): "null",
}


def json_kind(value: Any) -> str:
    """How a JSON value reads in a message: 'a number', 'an object' ..."""
    return _KINDS.get(type(value), type(value).__name__)


class _Checker:
    """Checks one resource, building the field path for the message."""

    def __init__(self, res: Json, where: Where) -> None:
        self.res = res
        self.where = where

    def fail(self, path: str, expected: type, value: Any) -> None:
        rtype, rid = self.res.get("resourceType"), self.res.get("id")
        raise InputError(
            f"{rtype} {rid!r}, field {path}: expected {_KINDS[expected]}, got "
            f"{json_kind(value)} ({_short(value)}); an identity field of the wrong type is "
            "refused rather than read as missing",
            where=str(self.where),
        )

    def typed(self, parent: Json, name: str, expected: type, path: str) -> Any:
        """``parent[name]`` if absent or of the expected type (bool is not a number)."""
        value = parent.get(name)
        if value is None:
            return None
        if type(value) is not expected and not (expected is float and type(value) is int):
            self.fail(path or name, expected, value)
        return value

    def objects(self, parent: Json, name: str, path: str) -> list[Json]:
        """An array of objects (FHIR JSON always writes repeating elements as arrays)."""
        items = self.typed(parent, name, list, path) or []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(f"{path}[{index}]", dict, item)
        return list(items)

    def strings(self, parent: Json, name: str, path: str) -> None:
        """An array of strings; null items are allowed (FHIR JSON pairs them with ``_name``
        extensions, e.g. ``"given": ["Ann", null], "_given": [null, {...}]``)."""
        for index, item in enumerate(self.typed(parent, name, list, path) or []):
            if item is not None and not isinstance(item, str):
                self.fail(f"{path}[{index}]", str, item)

    def reference(self, parent: Json, name: str, path: str) -> None:
        ref = self.typed(parent, name, dict, path)
        if ref is not None:
            self.typed(ref, "reference", str, f"{path}.reference")

    def concept(self, parent: Json, name: str, path: str) -> None:
        concept = self.typed(parent, name, dict, path)
        if concept is None:
            return
        self.typed(concept, "text", str, f"{path}.text")
        for index, coding in enumerate(self.objects(concept, "coding", f"{path}.coding")):
            for key in ("system", "code"):
                self.typed(coding, key, str, f"{path}.coding[{index}].{key}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _patient(check: _Checker) -> None:
    res = check.res
    for index, ident in enumerate(check.objects(res, "identifier", "identifier")):
        path = f"identifier[{index}]"
        check.typed(ident, "system", str, f"{path}.system")
        check.typed(ident, "value", str, f"{path}.value")
        check.concept(ident, "type", f"{path}.type")
    for index, name in enumerate(check.objects(res, "name", "name")):
        path = f"name[{index}]"
        for key in ("use", "family", "text"):
            check.typed(name, key, str, f"{path}.{key}")
        check.strings(name, "given", f"{path}.given")
        check.strings(name, "prefix", f"{path}.prefix")
    for key in ("birthDate", "gender", "deceasedDateTime"):
        check.typed(res, key, str, key)
    check.typed(res, "deceasedBoolean", bool, "deceasedBoolean")


def _subject(field: str) -> Callable[[_Checker], None]:
    def check_subject(check: _Checker) -> None:
        check.reference(check.res, field, field)

    return check_subject


def _appointment(check: _Checker) -> None:
    for index, person in enumerate(check.objects(check.res, "participant", "participant")):
        check.reference(person, "actor", f"participant[{index}].actor")


def _administration(check: _Checker) -> None:
    check.reference(check.res, "subject", "subject")
    check.reference(check.res, "request", "request")


# Who each resource is about: the field that links it to a patient (or a prescription).
_CHECKS: dict[str, Callable[[_Checker], None]] = {
    "Patient": _patient,
    "Encounter": _subject("subject"),
    "AllergyIntolerance": _subject("patient"),
    "Flag": _subject("subject"),
    "MedicationRequest": _subject("subject"),
    "MedicationAdministration": _administration,
    "Observation": _subject("subject"),
    "Appointment": _appointment,
}


_SUBJECT_ONLY = {"Encounter": "subject", "AllergyIntolerance": "patient", "Flag": "subject",
                 "MedicationRequest": "subject", "Observation": "subject"}


def check_identity(res: Json, where: Where) -> None:
    """Raise InputError naming file:line and field for an identity field of the wrong type."""
    rtype = res.get("resourceType")
    field = _SUBJECT_ONLY.get(rtype) if isinstance(rtype, str) else None
    if field is not None:  # the hot path (most of an extract): one well-formed reference
        ref = res.get(field)
        if ref is None or (type(ref) is dict and type(ref.get("reference", "")) is str):
            return
    check = _CHECKS.get(str(rtype))
    if check is not None:
        check(_Checker(res, where))
