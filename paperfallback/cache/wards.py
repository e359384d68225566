"""Which ward a name stands for: the one rule for the ward setting and for ``--ward``.

A PC that opens on the wrong ward prints another ward's pack with the nurse's own
keystrokes (Ctrl+P, Ctrl+P, Enter), so the rule never guesses: a ward matches only by its
code, its full name or the label the app shows ("Name (CODE)"), in any case and ignoring
accents. Anything else is :class:`UnknownWard`, whose message names what was asked and
every ward the cache has; a ward that starts with the text is *suggested* in the message,
never used. The empty ward setting means all wards (docs/install.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from paperfallback.cache.search_keys import fold
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import Ward

SETTING_HINT = ('Ask IT to set "ward" in settings.json to a ward\'s code or full name '
                '(as listed), or to "" for all wards.')


def ward_label(ward: Ward) -> str:
    """How the app lists a ward, and an accepted spelling of it: 'Name (CODE)'."""
    return f"{ward.name} ({ward.code})"


class UnknownWard(InputError):
    """A ward name or code that matches no ward in the cache."""

    def __init__(self, wanted: str, known: Sequence[Ward], *, setting: bool = False) -> None:
        self.wanted = wanted
        self.known = tuple(known)
        self.setting = setting
        what = (f"this PC's ward setting {wanted!r} matches no ward in the patient data"
                if setting else f"no ward {wanted!r} in the patient data")
        starts = [w for w in self.known if fold(w.name).startswith(fold(wanted))
                  or fold(ward_label(w)).startswith(fold(wanted))] if wanted.strip() else []
        hint = f"; did you mean {ward_label(starts[0])!r}?" if len(starts) == 1 else "."
        listed = ", ".join(ward_label(w) for w in self.known)
        wards = f" The wards are: {listed}." if listed else " The patient data has no wards."
        super().__init__(what + hint + wards + (f" {SETTING_HINT}" if setting else ""))


def match_ward(text: str, wards: Sequence[Ward]) -> Ward:
    """The ward ``text`` names exactly (code, full name or 'Name (CODE)'); else UnknownWard."""
    wanted = fold(text)
    for ward in wards:
        if wanted in (fold(ward.code), fold(ward.name), fold(ward_label(ward))):
            return ward
    raise UnknownWard(text.strip(), wards)


def home_ward(setting: str, wards: Sequence[Ward]) -> Ward | None:
    """This PC's own ward from the ``ward`` setting; None when the setting is empty (all
    wards). A setting that matches no ward raises UnknownWard: never a silent first ward."""
    if not setting.strip():
        return None
    try:
        return match_ward(setting, wards)
    except UnknownWard:
        raise UnknownWard(setting.strip(), wards, setting=True) from None
