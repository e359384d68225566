"""Form-instance IDs: typeable, unique across PCs, and the check character catches typos."""

from __future__ import annotations

import random

import pytest

from paperfallback.domain.errors import InputError
from paperfallback.register import (
    format_downtime_number,
    format_instance_id,
    validate_downtime_number,
    validate_instance_id,
)
from paperfallback.register.ids import ALPHABET, derived_pc_code, is_consistent, split_instance_id


def _sample() -> list[str]:
    rng = random.Random(4)
    ids = [format_instance_id(pc, n) for pc in ("K7", "A", "ZZZZ") for n in (1, 42, 32**5 - 1)]
    ids += [format_instance_id("K7", rng.randrange(1, 32**5)) for _ in range(60)]
    return ids


def test_shape_and_round_trip() -> None:
    instance_id = format_instance_id("k7", 42)
    assert instance_id == validate_instance_id(instance_id)
    pc, counter, check = instance_id.split("-")
    assert (pc, counter, len(check)) == ("K7", "0001A", 1)
    assert split_instance_id(instance_id) == ("K7", 42)


def test_typing_variants_normalise() -> None:
    instance_id = format_instance_id("K7", 1000)  # K7-00Z8-?
    compact = instance_id.replace("-", "")
    assert validate_instance_id(compact.lower()) == instance_id
    assert validate_instance_id(" ".join(compact)) == instance_id
    with_zero = format_instance_id("K7", 0o1)
    assert validate_instance_id(with_zero.replace("0", "o")) == with_zero
    one = format_instance_id("K1", 33)  # contains 1s
    assert validate_instance_id(one.replace("1", "l")) == one
    assert validate_instance_id(one.replace("1", "I")) == one


def test_every_single_substitution_is_caught() -> None:
    for instance_id in _sample():
        compact = instance_id.replace("-", "")
        for i, original in enumerate(compact):
            for replacement in ALPHABET:
                if replacement == original:
                    continue
                typo = compact[:i] + replacement + compact[i + 1:]
                assert not is_consistent(typo), (instance_id, typo)
                with pytest.raises(InputError):
                    validate_instance_id(typo)


def test_every_adjacent_transposition_is_caught() -> None:
    caught = 0
    for instance_id in _sample():
        compact = instance_id.replace("-", "")
        for i in range(len(compact) - 1):
            if compact[i] == compact[i + 1]:
                continue
            swapped = compact[:i] + compact[i + 1] + compact[i] + compact[i + 2:]
            assert not is_consistent(swapped), (instance_id, swapped)
            caught += 1
    assert caught > 300


def test_wrong_check_message_is_actionable() -> None:
    instance_id = format_instance_id("K7", 42)
    bad = instance_id[:-1] + ("0" if instance_id[-1] != "0" else "1")
    with pytest.raises(InputError, match="check character is wrong"):
        validate_instance_id(bad)
    with pytest.raises(InputError, match="should look like K7-0042Q-X"):
        validate_instance_id("K7-12")
    with pytest.raises(InputError, match="'U'"):
        validate_instance_id("KU-0001A-0")


def test_ids_from_two_pc_codes_never_collide() -> None:
    first = {format_instance_id("K7", n) for n in range(1, 3000)}
    second = {format_instance_id("K8", n) for n in range(1, 3000)}
    assert len(first) == len(second) == 2999
    assert not first & second


def test_downtime_numbers_are_distinct_from_form_ids() -> None:
    number = format_downtime_number("K7", 5)
    assert number.startswith("DT-K7-")
    assert validate_downtime_number(number.lower().replace("-", " ")) == number
    with pytest.raises(InputError, match="downtime registration number, not a form ID"):
        validate_instance_id(number)
    with pytest.raises(InputError, match="check character is wrong"):
        validate_downtime_number(number[:-1] + ("0" if number[-1] != "0" else "1"))


def test_derived_pc_code_is_stable_and_valid() -> None:
    code = derived_pc_code("WARD-PC-17")
    assert code == derived_pc_code("ward-pc-17")
    assert len(code) == 3 and all(c in ALPHABET for c in code)
    assert validate_instance_id(format_instance_id(code, 9))
