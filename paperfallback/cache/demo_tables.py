"""The demo hospital's data tables: names, places and clinical content.

Kept as data in ``resources/demo/hospital.json`` and loaded once here, so that the
generator (:mod:`paperfallback.cache.demo`) and its clinical records
(:mod:`paperfallback.cache.demo_clinical`) draw from the same tables.
"""

from __future__ import annotations

import json
from typing import Any

from paperfallback.resources import resource


def _load_tables() -> dict[str, tuple[Any, ...]]:
    """Names, places and clinical content, kept as data in resources/demo/hospital.json."""
    raw = json.loads(resource("demo", "hospital.json").read_text(encoding="utf-8"))
    return {key: tuple(value) for key, value in raw.items()}


_T = _load_tables()
GIVEN_FEMALE, GIVEN_MALE, FAMILY = _T["given_female"], _T["given_male"], _T["family"]
WARD_NAMES, SPECIALTIES = _T["ward_names"], _T["specialties"]
STREETS, TOWNS, CLINICIANS = _T["streets"], _T["towns"], _T["clinicians"]
CLINICS, THEATRES, PROCEDURES = _T["clinics"], _T["theatres"], _T["procedures"]
ALLERGIES, ALERTS = _T["allergies"], _T["alerts"]  # (substance, reaction, severity, ...)
# Drugs a demo patient with each allergy is never prescribed (issue #13 item 14: the demo
# must not teach staff to overlook a penicillin allergy on an amoxicillin chart).
ALLERGY_CONFLICTS = {allergen: tuple(words) for allergen, words in _T["allergy_conflicts"]}
REGULAR, PRN = _T["regular"], _T["prn"]  # (drug, dm+d, dose, route, times) / (..., max 24 h)
ONCE, INFUSIONS = _T["once"], _T["infusions"]  # (drug, dose, route) / (drug, volume, mL/h)
