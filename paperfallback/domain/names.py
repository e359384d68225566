"""People's names as PaperFallback prints and searches them.

An extract can carry characters nobody sees: zero-width spaces and joiners, the byte-order
mark, soft hyphens, and bidirectional controls (U+202A-U+202E, U+2066-U+2069, LRM/RLM).
Stored as they are, "Jo\u200bnes" prints as "Jones" but is never found by typing "jones",
and a right-to-left override can make a printed name read backwards (issue 13, item 5).
``clean_name`` removes every Unicode format character (category Cf, which is exactly these
invisible controls), turns other control characters and runs of white space into one
space, and composes the result (NFC) so that "ï" typed and "ï" received compare equal.
The importers keep the name as received beside the clean one (``Patient.family_as_received``).

Zero-width joiners and non-joiners also shape some scripts (Persian, Indic); on a printed
English-script NHS banner and in a search box they carry no letter, so they go too.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def clean_name(text: str) -> str:
    """The name as it is printed and searched: no invisible characters, NFC, one space."""
    if text.isascii() and text.isprintable() and "  " not in text and text == text.strip():
        return text  # the common case, without building a new string
    kept = "".join(
        " " if unicodedata.category(c) == "Cc" else c
        for c in text
        if unicodedata.category(c) != "Cf"
    )
    return unicodedata.normalize("NFC", _SPACES.sub(" ", kept).strip())
