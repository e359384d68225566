"""How the demo hospital writes FHIR: the Bulk Data NDJSON files and small resource parts.

Split from :mod:`paperfallback.cache.demo` (modules stay under 600 lines): the generator
there decides *what* the hospital holds; this module only says how it is written, the way
an EPR's ``$export`` writes it (one NDJSON file per resource type plus ``manifest.json``),
so a first start goes through the real importer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from paperfallback.domain import terminology as terms
from paperfallback.domain.terminology import SNOMED, UCUM

Json = dict[str, Any]
PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


@dataclass
class BulkWriter:
    """One NDJSON file per resource type, as a FHIR Bulk Data $export writes them."""

    folder: Path
    files: dict[str, TextIO] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def write(self, resource: Json) -> None:
        rtype = resource["resourceType"]
        handle = self.files.get(rtype)
        if handle is None:
            handle = (self.folder / f"{rtype}.ndjson").open("w", encoding="utf-8")
            self.files[rtype] = handle
        handle.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
        handle.write("\n")
        self.counts[rtype] = self.counts.get(rtype, 0) + 1

    def close(self, transaction_time: datetime) -> None:
        for handle in self.files.values():
            handle.close()
        manifest = {
            "transactionTime": transaction_time.isoformat(),
            "request": "https://ehr.demo.example/fhir/Group/current-inpatients/$export",
            "requiresAccessToken": False,
            "output": [
                {"type": rtype, "url": f"https://ehr.demo.example/output/{rtype}.ndjson",
                 "count": count}
                for rtype, count in sorted(self.counts.items())
            ],
            "error": [],
        }
        (self.folder / "manifest.json").write_text(json.dumps(manifest, indent=2),
                                                   encoding="utf-8")


def role(code: terms.Code) -> Json:
    return concept(code.display, code.system, code.code)


def coding(system: str, code: str, display: str) -> Json:
    return {"system": system, "code": code, "display": display}


def concept(text: str, system: str = "", code: str = "") -> Json:
    out: Json = {"text": text}
    if code:
        out["coding"] = [coding(system or SNOMED, code, text)]
    return out


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ref(rtype: str, rid: str, display: str = "") -> Json:
    out: Json = {"reference": f"{rtype}/{rid}"}
    if display:
        out["display"] = display
    return out


def quantity(text: str) -> Json:
    """A Quantity from a dose as the tables write it ("500 mg", "1 litre")."""
    value, unit = text.split(" ", 1)
    number = float(value)
    return {"value": int(number) if number.is_integer() else number, "unit": unit,
            "system": UCUM, "code": _UCUM_CODES.get(unit, unit)}


# The demo writes the safe word as Quantity.unit (what charts print) and the UCUM code
# as Quantity.code (what FHIR needs); never the bare code as the unit text.
_UCUM_CODES = {"microgram": "ug", "mL": "mL", "units": "[iU]", "nanogram": "ng", "litre": "L"}
