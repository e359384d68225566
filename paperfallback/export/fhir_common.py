"""Pieces every FHIR builder shares: identifier systems, entries, references, codings.

Identity is what makes a re-import idempotent. Each exported resource carries an
identifier whose value is ``<form-instance id>/<field>/<column or row>`` in the site's
downtime-entry system, and its Bundle entry is a conditional create on it
(``POST`` + ``ifNoneExist``); a corrected value goes out as a conditional update
(``PUT <type>?identifier=...``) so the EPR's copy is replaced, never duplicated.
Provenance has no identifier element, so it is a ``PUT`` to an id derived from the same
address. ``fullUrl`` values are UUIDs derived from the identifier, so the same data always
gives byte-identical files (docs/export.md).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote

from paperfallback.domain.terminology import (
    DATA_ABSENT_REASON,
    NHS_NUMBER_SYSTEM,
    OBSERVATION_CATEGORY,
    PRINTED_UNITS,
    Code,
)
from paperfallback.export.model import KeyedValue, PatientRef

DEFAULT_BASE_URL = "https://paperfallback.example.nhs.uk"

Method = Literal["POST", "PUT", "PATCH"]


@dataclass(frozen=True, slots=True)
class SiteSystems:
    """The URIs a site's export uses. One set per site (``Settings.site_code``), so two
    trusts' downtime identifiers never collide in a regional record. Documented in
    docs/export.md; a trust may set its own base URL (settings ``export_base_url``)."""

    entry: str  # identifier system of every exported resource
    downtime_number: str  # the pre-allocated downtime patient number
    form_instance: str  # the paper form instance id (Provenance.entity)
    field_code: str  # local code system for form fields without a LOINC/SNOMED code
    questionnaire: str  # canonical base of the form definitions as Questionnaires

    @classmethod
    def for_site(cls, site_code: str, base_url: str = DEFAULT_BASE_URL) -> SiteSystems:
        site = quote((site_code or "site").strip().lower(), safe="")
        base = base_url.rstrip("/")
        return cls(
            entry=f"{base}/Id/downtime-entry/{site}",
            downtime_number=f"{base}/Id/downtime-number/{site}",
            form_instance=f"{base}/Id/form-instance/{site}",
            field_code=f"{base}/CodeSystem/form-field",
            questionnaire=f"{base}/Questionnaire",
        )


@dataclass(frozen=True, slots=True)
class BuiltEntry:
    """One Bundle entry: the resource and how the server should apply it."""

    resource: dict[str, Any]
    full_url: str
    method: Method
    url: str
    if_none_exist: str | None = None
    key: str = ""  # identifier value, or the PUT/PATCH url: what makes it "the same"

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    def bundle_entry(self) -> dict[str, Any]:
        request: dict[str, Any] = {"method": self.method, "url": self.url}
        if self.if_none_exist:
            request["ifNoneExist"] = self.if_none_exist
        return {"fullUrl": self.full_url, "resource": self.resource, "request": request}


def entry_id(instance_id: str, field_id: str, index: int) -> str:
    """'<instance>/<field>/<column or row, from 1>': the address on the paper."""
    return f"{instance_id}/{field_id}/{index + 1}"


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def full_url_for(system: str, value: str) -> str:
    """``urn:uuid:`` + the RFC 4122 version-5 UUID of ``system|value`` (as uuid.uuid5,
    written out because an export makes hundreds of thousands of them)."""
    digest = bytearray(hashlib.sha1(_URL_NAMESPACE + f"{system}|{value}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=64)
def _quoted_system(system: str) -> str:
    return quote(system, safe=":/")


_PLAIN = re.compile(r"[A-Za-z0-9_.\-~/:]*")


def token(system: str, value: str) -> str:
    """A search token for ``ifNoneExist`` and conditional urls, percent-encoded."""
    quoted = value if _PLAIN.fullmatch(value) else quote(value, safe=":/")
    return f"identifier={_quoted_system(system)}|{quoted}"


def deterministic_id(*parts: str) -> str:
    """A FHIR id (<= 64 of [A-Za-z0-9-.]) that is the same for the same parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"pf-{digest[:40]}"


def identified(
    resource: dict[str, Any], systems: SiteSystems, value: str, *, update: bool = False
) -> BuiltEntry:
    """Give ``resource`` its entry identifier and wrap it as a conditional create (or, for
    a correction of something already exported, a conditional update)."""
    identifier = {"system": systems.entry, "value": value}
    kind = str(resource["resourceType"])
    others = resource.get("identifier", [])
    resource = {"resourceType": kind, "identifier": None, **resource}
    resource["identifier"] = [identifier, *others]
    search = token(systems.entry, value)
    full_url = full_url_for(systems.entry, value)
    if update:
        return BuiltEntry(resource, full_url, "PUT", f"{kind}?{search}", None, value)
    return BuiltEntry(resource, full_url, "POST", kind, search, value)


def patient_reference(patient: PatientRef, systems: SiteSystems) -> dict[str, Any]:
    """A logical reference by identifier: NHS number, else hospital number, else the
    downtime number. Never a guessed EPR id."""
    if patient.nhs_number:
        identifier = {"system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number}
    elif patient.hospital_number:
        identifier = {"system": patient.hospital_number_system, "value": patient.hospital_number}
    elif patient.downtime_number:
        identifier = {"system": systems.downtime_number, "value": patient.downtime_number}
    else:
        raise ValueError("a patient reference needs an NHS, hospital or downtime number")
    reference: dict[str, Any] = {"type": "Patient", "identifier": identifier}
    if patient.display_name:
        reference["display"] = patient.display_name
    return reference


def coding(code: Code) -> dict[str, Any]:
    out: dict[str, Any] = {"system": code.system, "code": code.code}
    if code.display:
        out["display"] = code.display
    return out


def concept(codes: Iterable[Code], text: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    codings = [coding(c) for c in codes]
    if codings:
        out["coding"] = codings
    if text:
        out["text"] = text
    return out


def merged_codes(canonical: Iterable[Code], extra: Iterable[Code]) -> list[Code]:
    """The UK Core codes first, then any other code the form definition adds."""
    out = list(canonical)
    seen = {(c.system, c.code) for c in out}
    for code in extra:
        if (code.system, code.code) not in seen:
            out.append(code)
            seen.add((code.system, code.code))
    return out


def field_concept(value: KeyedValue, systems: SiteSystems, form_id: str) -> dict[str, Any]:
    """The code of a field: its LOINC/SNOMED codes, else a local code naming the field."""
    codes = list(value.codes) or [
        Code(systems.field_code, f"{form_id}/{value.field_id}", value.label or value.field_id)
    ]
    return concept(codes, value.label)


@lru_cache(maxsize=16)
def category(code: str, display: str) -> list[dict[str, Any]]:
    """An Observation category (shared between resources: never mutate the result)."""
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}]


def decimal_value(number: float, text: str | None = None) -> int | float:
    """The number as keyed: '37.0' stays 37.0 (its precision), '96' stays an integer."""
    if text is not None and "." in text:
        return float(number)
    return int(number) if float(number).is_integer() else number


def quantity(number: float, printed_unit: str, text: str | None = None) -> dict[str, Any]:
    """A valueQuantity with its UCUM code."""
    out: dict[str, Any] = {"value": decimal_value(number, text)}
    if printed_unit in PRINTED_UNITS:
        out.update(PRINTED_UNITS[printed_unit].quantity())
    elif printed_unit:
        out["unit"] = printed_unit
    return out


def data_absent() -> dict[str, Any]:
    """Illegible on paper: the EPR learns a value was written but could not be read."""
    return {
        "coding": [{"system": DATA_ABSENT_REASON, "code": "unknown", "display": "Unknown"}],
        "text": "Illegible on the paper form",
    }
