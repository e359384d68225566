"""Keys for finding patients the way staff type them: no case, no accents, no spaces."""

from __future__ import annotations

import re
import unicodedata

from paperfallback.domain.names import clean_name

# Letters that do not decompose under NFKD but that staff type without their mark.
_EXTRA = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "ß": "ss", "æ": "ae", "đ": "d"})


def fold(text: str) -> str:
    """'Gŵyn-Łopez' -> 'gwyn-lopez': what a name prefix search compares (invisible and
    bidi control characters removed first, as in printed names: domain.names)."""
    decomposed = unicodedata.normalize("NFKD", clean_name(text).translate(_EXTRA))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def identifier_key(text: str) -> str:
    """An identifier as typed ('999 123 4567', 'rm1 23456') -> '9991234567', 'RM123456'."""
    return re.sub(r"[\s-]", "", text).upper()


_BED_PARTS = re.compile(r"(\d+)")


def bed_sort_key(bed: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order: 'Bed 2' before 'Bed 10'; side rooms after numbered bays' beds."""
    return tuple(
        (0, int(part)) if part.isdecimal() else (1, part.casefold())
        for part in _BED_PARTS.split(bed)
        if part
    )
