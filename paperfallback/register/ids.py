"""Form-instance IDs and downtime numbers: short, typeable, unique per site, self-checking.

Shape: ``K7-0042Q-X`` = PC code (1-4 characters, unique within the site, assigned by IT)
+ a 5-character per-PC counter + one check character. Downtime registration numbers are
the same with a ``DT`` prefix (``DT-K7-00042-M``) and their own counter, so a printed
number is never mistaken for the other kind.

Alphabet: Crockford base32 (0-9 and A-Z without I, L, O, U), so typed O/o reads as 0 and
I/i/L/l as 1. Check character: the Damm algorithm over the quasigroup
``x * y = 2x + y`` in GF(32) (H. M. Damm, "Total anti-symmetrische Quasigruppen", 2004:
``a*x + y`` with ``a`` not 0 or 1 is totally anti-symmetric in characteristic 2). It
detects every single substitution and every adjacent transposition (including with the
check character itself) while keeping to the same 32 characters.
"""

from __future__ import annotations

import hashlib
import re

from paperfallback.domain.errors import InputError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})
COUNTER_CHARS = 5
COUNTER_MAX = 32**COUNTER_CHARS - 1
DOWNTIME_PREFIX = "DT"
_POLY = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)


def _times_two(value: int) -> int:
    """Multiply by x in GF(32)."""
    value <<= 1
    return value ^ _POLY if value & 0b100000 else value


def _damm(values: list[int]) -> int:
    interim = 0
    for value in values:
        interim = _times_two(interim) ^ value
    return interim


def check_character(payload: str) -> str:
    """The check character for a payload of alphabet characters (hyphens ignored)."""
    values = [_VALUE[c] for c in payload.replace("-", "")]
    # The check c makes interim * c == 0, i.e. 2*interim + c == 0 (characteristic 2).
    return ALPHABET[_times_two(_damm(values))]


def is_consistent(compact: str) -> bool:
    """True when the last character is the right check for the rest."""
    return _damm([_VALUE[c] for c in compact]) == 0


def encode_counter(number: int) -> str:
    if not 0 <= number <= COUNTER_MAX:
        raise ValueError(f"counter {number} is out of range")
    digits = []
    for _ in range(COUNTER_CHARS):
        number, rest = divmod(number, 32)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def normalise_pc_code(text: str) -> str:
    """A PC code as IT typed it, in the ID alphabet ('k7' -> 'K7')."""
    code = text.strip().upper().translate(_TYPO).replace("-", "").replace(" ", "")
    if not 1 <= len(code) <= 4 or any(c not in _VALUE for c in code):
        raise InputError(
            f"PC code {text!r} must be 1 to 4 characters from {ALPHABET} "
            "(no I, L, O or U)",
            where="settings pc_code",
        )
    if code.startswith(DOWNTIME_PREFIX):
        raise InputError(f"PC code {text!r} must not start with {DOWNTIME_PREFIX}",
                         where="settings pc_code")
    return code


def derived_pc_code(pc_id: str) -> str:
    """A 3-character code from the PC name, used when IT has not assigned one.

    Derived codes can collide (1 in 32768 per pair of PCs), so sites should assign
    ``pc_code`` in settings.json; see docs/forms/README.md.
    """
    digest = hashlib.sha256(pc_id.strip().casefold().encode("utf-8")).digest()
    number = int.from_bytes(digest[:4], "big")
    code = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in range(3))
    if code.startswith(DOWNTIME_PREFIX):
        code = "Z" + code[1:]
    return code


def format_instance_id(pc_code: str, counter: int) -> str:
    payload = normalise_pc_code(pc_code) + encode_counter(counter)
    check = check_character(payload)
    return f"{payload[:-COUNTER_CHARS]}-{payload[-COUNTER_CHARS:]}-{check}"


def format_downtime_number(pc_code: str, counter: int) -> str:
    pc = normalise_pc_code(pc_code)
    counter_text = encode_counter(counter)
    check = check_character(DOWNTIME_PREFIX + pc + counter_text)
    return f"{DOWNTIME_PREFIX}-{pc}-{counter_text}-{check}"


_SEPARATORS = re.compile(r"[\s\-_.]+")


def _compact(text: str, what: str) -> str:
    compact = _SEPARATORS.sub("", text.strip().upper()).translate(_TYPO)
    if not compact:
        raise InputError(f"the {what} is empty")
    bad = sorted({c for c in compact if c not in _VALUE})
    if bad:
        raise InputError(
            f"{what} {text!r} contains {', '.join(repr(c) for c in bad)}, which no "
            f"{what} uses (letters and digits except I, L, O, U)"
        )
    return compact


def validate_instance_id(text: str) -> str:
    """Normalise a typed or scanned form-instance ID to ``K7-0042Q-X``.

    Accepts any case, spaces or no hyphens, O for 0 and I/L for 1. Raises InputError
    with a message a clerk can act on when the length or the check character is wrong.
    """
    compact = _compact(text, "form ID")
    if compact.startswith(DOWNTIME_PREFIX) and len(compact) > 1 + COUNTER_CHARS + 1:
        # No PC code starts with DT, so this is a downtime number keyed as a form ID.
        raise InputError(f"{text!r} is a downtime registration number, not a form ID")
    if not 1 + COUNTER_CHARS + 1 <= len(compact) <= 4 + COUNTER_CHARS + 1:
        raise InputError(
            f"form ID {text!r} has {len(compact)} characters; it should look like "
            "K7-0042Q-X (2 to 4, then 5, then 1 check character)"
        )
    if not is_consistent(compact):
        raise InputError(
            f"form ID {text!r}: the check character is wrong, so a character was misread "
            "or mistyped; check the ID on the paper again"
        )
    pc = compact[: -COUNTER_CHARS - 1]
    return f"{pc}-{compact[-COUNTER_CHARS - 1:-1]}-{compact[-1]}"


def validate_downtime_number(text: str) -> str:
    """Normalise a downtime registration number to ``DT-K7-00042-M`` (see above)."""
    compact = _compact(text, "downtime number")
    if not compact.startswith(DOWNTIME_PREFIX):
        raise InputError(f"downtime number {text!r} must start with {DOWNTIME_PREFIX}")
    body = compact[len(DOWNTIME_PREFIX):]
    if not 1 + COUNTER_CHARS + 1 <= len(body) <= 4 + COUNTER_CHARS + 1:
        raise InputError(
            f"downtime number {text!r} has the wrong length; it should look like DT-K7-00042-M"
        )
    if not is_consistent(compact):
        raise InputError(
            f"downtime number {text!r}: the check character is wrong; check it on the paper"
        )
    pc = body[: -COUNTER_CHARS - 1]
    return f"{DOWNTIME_PREFIX}-{pc}-{body[-COUNTER_CHARS - 1:-1]}-{body[-1]}"


def split_instance_id(instance_id: str) -> tuple[str, int]:
    """(PC code, counter) of a valid ID."""
    normal = validate_instance_id(instance_id)
    pc, counter, _check = normal.split("-")
    number = 0
    for c in counter:
        number = number * 32 + _VALUE[c]
    return pc, number
