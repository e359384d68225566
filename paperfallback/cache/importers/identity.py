"""Who a patient is, read the same way from every format (FHIR, CSV, xlsx): the clean
name beside the name as received, and whether (and when) the patient died."""

from __future__ import annotations

from datetime import date

from paperfallback.cache.importers.as_of import parse_date, parse_datetime
from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.domain.names import clean_name


def name_fields(family: str, given: str) -> dict[str, str]:
    """Patient name fields: the clean name (printed and searched, domain.names) and, when it
    differs, the name exactly as received, so the cache keeps what the EPR sent."""
    clean_family, clean_given = clean_name(family), clean_name(given)
    return {
        "family": clean_family,
        "given": clean_given,
        "family_as_received": family if family != clean_family else "",
        "given_as_received": given if given != clean_given else "",
    }


def death_from_fhir(deceased_boolean: object, deceased_time: object,
                    where: object) -> tuple[bool, date | None]:
    """(deceased, date of death as a UK calendar date) from Patient.deceased[x]. A partial
    date ("1989", "1989-05") marks the patient deceased without guessing a day."""
    if isinstance(deceased_time, str) and deceased_time.strip():
        if parse_date(deceased_time, field_name="deceasedDateTime", where=where) is None:
            return True, None
        moment = parse_datetime(deceased_time, field_name="deceasedDateTime", where=where)
        return True, moment.astimezone(UK).date()
    return deceased_boolean is True, None


def death_from_cell(text: str, where: str) -> tuple[bool, date | None]:
    """The CSV/xlsx ``deceased`` column: empty/no, yes, or the date (or date-time) of death."""
    lowered = text.strip().lower()
    if lowered in ("", "0", "no", "n", "false"):
        return False, None
    if lowered in ("1", "yes", "y", "true"):
        return True, None
    try:
        return death_from_fhir(None, text, where)
    except InputError:
        raise InputError(f"{text!r} is not yes, no or a date (YYYY-MM-DD)", where=where) from None
