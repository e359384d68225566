"""Small readers for FHIR R4 datatypes (CodeableConcept, Reference, HumanName ...).

They take the parsed JSON as it is (dicts and lists) and never raise on a missing
optional element: FHIR extracts leave out much, and what is absent reads as "".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Code and identifier systems: defined once in paperfallback.domain.terminology.
from paperfallback.domain.terminology import DMD_SYSTEMS as DMD_SYSTEMS
from paperfallback.domain.terminology import LOINC as LOINC
from paperfallback.domain.terminology import NHS_NUMBER_SYSTEM as NHS_NUMBER_SYSTEM
from paperfallback.domain.terminology import SNOMED as SNOMED
from paperfallback.domain.terminology import SPO2_SCALE_SYSTEM as SPO2_SCALE_SYSTEM

Json = dict[str, Any]

# Our own documented codes and extensions (docs/formats.md), where UK Core has none.
PF_BASE = "https://fhir.paperfallback.example"
LAST_ADMINISTERED_URL = f"{PF_BASE}/StructureDefinition/last-administered"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def dicts(value: Any) -> list[Json]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return [value] if isinstance(value, dict) else []


def text_of(concept: Any) -> str:
    """A CodeableConcept as people read it: its text, else the first coding's display."""
    if not isinstance(concept, dict):
        return ""
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    for coding in dicts(concept.get("coding")):
        display = coding.get("display")
        if isinstance(display, str) and display.strip():
            return display.strip()
    for coding in dicts(concept.get("coding")):
        code = coding.get("code")
        if isinstance(code, str) and code:
            return code
    return ""


def texts_of(concepts: Any) -> list[str]:
    return [t for t in (text_of(c) for c in as_list(concepts)) if t]


def codes_of(concept: Any, system: str | None = None) -> set[str]:
    """The codes in a CodeableConcept (optionally of one system)."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return set()
    return {
        str(c["code"])
        for c in codings
        if isinstance(c, dict) and c.get("code") is not None
        and (system is None or c.get("system") == system)
    }


def all_codes(concepts: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for concept in concepts:
        found |= codes_of(concept)
    return found


def first_code(concept: Any, systems: Iterable[str]) -> str:
    wanted = tuple(systems)
    for coding in dicts(concept.get("coding") if isinstance(concept, dict) else None):
        if coding.get("system") in wanted and coding.get("code"):
            return str(coding["code"])
    return ""


def reference_key(reference: Any, aliases: dict[str, str] | None = None) -> str:
    """A Reference as "Type/id": relative, absolute URL, or a Bundle fullUrl alias."""
    if not isinstance(reference, dict):
        return ""
    ref = reference.get("reference")
    if not isinstance(ref, str) or not ref:
        return ""
    if aliases and ref in aliases:
        return aliases[ref]
    if ref.count("/") == 1 and ":" not in ref:  # the usual "Patient/123"
        return ref
    if ref.startswith(("urn:uuid:", "urn:oid:", "#")):
        return ref
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ref


def reference_type(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def display_of(reference: Any) -> str:
    if isinstance(reference, dict):
        display = reference.get("display")
        if isinstance(display, str):
            return display.strip()
    return ""


def pick_name(names: Any) -> Json:
    """The official name, else the usual one, else the first that is not old."""
    candidates = [n for n in dicts(names) if n.get("use") not in ("old", "anonymous")]
    for use in ("official", "usual"):
        for name in candidates:
            if name.get("use") == use:
                return name
    return candidates[0] if candidates else {}


def given_of(name: Json) -> str:
    return " ".join(str(g) for g in as_list(name.get("given")) if g)


def family_of(name: Json) -> str:
    family = name.get("family")
    if isinstance(family, str) and family:
        return family
    text = name.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip().split()[-1]
    return ""


def person_name(names: Any) -> str:
    """'Mrs Sandra Gose': prefix, given names and family name, as lists show clinicians."""
    name = pick_name(names)
    if not name:
        return ""
    text = name.get("text")
    if not name.get("family") and isinstance(text, str):
        return text.strip()
    parts = [*map(str, as_list(name.get("prefix"))), given_of(name), family_of(name)]
    return " ".join(p for p in parts if p).strip()


def address_text(addresses: Any) -> str:
    """The home (else first current) address on one line."""
    current = [a for a in dicts(addresses) if a.get("use") not in ("old",)]
    chosen = next((a for a in current if a.get("use") == "home"), current[0] if current else None)
    if chosen is None:
        return ""
    if not chosen.get("line") and isinstance(chosen.get("text"), str):
        return str(chosen["text"]).strip()
    parts = [
        *map(str, as_list(chosen.get("line"))),
        str(chosen.get("city") or ""),
        str(chosen.get("district") or ""),
        str(chosen.get("postalCode") or ""),
    ]
    return ", ".join(p.strip() for p in parts if p and p.strip())


def extension_value(resource: Json, url: str) -> Any:
    for ext in dicts(resource.get("extension")):
        if ext.get("url") == url:
            for key, value in ext.items():
                if key.startswith("value"):
                    return value
    return None


# Units as a drug chart may print them. UCUM codes such as "ug" and "U" are on the
# "do not use" abbreviation lists (ISMP List of Error-Prone Abbreviations; NHS Specialist
# Pharmacy Service / RCP prescribing standards: write "microgram" and "units" in full):
# "ug" is misread as "mg" (1000-fold) and "U" as 0 or 4 (insulin overdose).
SAFE_UNITS: dict[str, str] = {  # keys lower case: looked up case-insensitively
    "ug": "microgram", "mcg": "microgram", "µg": "microgram", "μg": "microgram",
    "microgram": "microgram", "micrograms": "microgram",
    "[iu]": "units", "iu": "units", "u": "units", "[u]": "units", "unit": "units",
    "units": "units", "international unit": "units", "international units": "units",
    "ml": "mL", "millilitre": "mL", "millilitres": "mL", "milliliter": "mL",
    "milliliters": "mL",
    "mg": "mg", "milligram": "mg", "milligrams": "mg",
    "g": "g", "gram": "g", "grams": "g",
    "ng": "nanogram", "nanogram": "nanogram", "nanograms": "nanogram",
    "mmol": "mmol", "millimole": "mmol", "millimoles": "mmol",
    "l": "litre", "litre": "litre", "litres": "litre", "liter": "litre", "liters": "litre",
}


def safe_unit(unit: str) -> str:
    """A unit as it may appear on a printed drug chart ('ug' -> 'microgram', 'U' -> 'units')."""
    text = unit.strip()
    return SAFE_UNITS.get(text.lower(), text)


def quantity_text(quantity: Any) -> str:
    """'500 microgram' from a Quantity: the human unit text first, else the UCUM code, both
    mapped to safe words (SAFE_UNITS), because the text is what a MAR prints."""
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        return ""
    value = number_text(quantity["value"])
    unit = quantity_unit(quantity)
    return f"{value} {unit}".strip() if unit else value


def quantity_unit(quantity: Json) -> str:
    """A Quantity's unit as printed: its text, else its UCUM code, made safe (SAFE_UNITS)."""
    unit = quantity.get("unit")
    code = quantity.get("code")
    if not (isinstance(unit, str) and unit.strip()):
        unit = code if isinstance(code, str) and code and "{" not in code else ""
    return safe_unit(unit)


def number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
