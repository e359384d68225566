"""Which issued form a typed or scanned ID means (issue #13 items 10 and 13).

A handheld barcode scanner types the QR payload, ``Q76-00003-M/1`` (form ID and page),
so the page part is accepted wherever a form ID is typed (``render/qr.py`` reads it).
A blank copy carries a downtime number (``DT-K7-00042-M``); a clerk may type it, with or
without the ``DT-``: it finds the form that carries that number. ``DT`` adds nothing to
the Damm check (2·D + T = 0 in GF(32)), so the number without ``DT-`` is always a valid
form ID too, that of the form with the same counter: when that form exists, the clerk is
asked which one is meant (naming both) rather than being given the wrong form.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperfallback.domain.errors import InputError
from paperfallback.register import IssuedForm, Register, validate_downtime_number
from paperfallback.register.ids import DOWNTIME_PREFIX
from paperfallback.render.qr import parse_qr_payload


@dataclass(frozen=True, slots=True)
class LocatedForm:
    """A form found from what a clerk typed; ``page`` when a QR payload named one."""

    issued: IssuedForm
    page: int | None = None


def normalise_typed_id(typed: str) -> tuple[str, int | None]:
    """(form ID, page) from a typed ID or a scanned QR payload; InputError if neither."""
    return parse_qr_payload(typed)


def _by_downtime_number(register: Register, number: str) -> IssuedForm | None:
    return next((i for i in register.list() if i.downtime_number == number), None)


def _as_downtime_number(typed: str) -> str | None:
    text = typed.strip()
    if not text:
        return None
    compact = text.upper().replace("-", "").replace(" ", "")
    candidate = text if compact.startswith(DOWNTIME_PREFIX) else f"{DOWNTIME_PREFIX}-{text}"
    try:
        return validate_downtime_number(candidate)
    except InputError:
        return None


def locate_form(register: Register, typed: str) -> LocatedForm:
    """The issued form a clerk typed or scanned; InputError naming what is wrong.

    The check character catches a mistyped ID before any lookup.
    """
    downtime = _as_downtime_number(typed) if "/" not in typed else None
    by_downtime = _by_downtime_number(register, downtime) if downtime else None
    try:
        normal, page = normalise_typed_id(typed)
    except InputError:
        if by_downtime is not None:
            return LocatedForm(by_downtime)
        if downtime is not None:
            raise InputError(f"no form in this PC's register carries downtime number "
                             f"{downtime}") from None
        raise
    issued = register.get(normal)
    if issued is not None and by_downtime is not None and by_downtime is not issued \
            and by_downtime.instance_id != issued.instance_id:
        raise InputError(
            f"{typed.strip()!r} is form {issued.instance_id} and also the downtime number "
            f"{downtime} of the blank form {by_downtime.instance_id}: scan the QR code or "
            f"type {issued.instance_id}/1 for the first, type {downtime} for the second")
    if issued is None and by_downtime is not None:
        return LocatedForm(by_downtime)
    if issued is None:
        raise InputError(
            f"form {normal} is not in this PC's register: was it printed on another PC?"
        )
    return LocatedForm(issued, page)
