"""Every validation rule of keying, as a clerk would trip it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.domain.errors import InputError
from paperfallback.formspec import FieldSpec, load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.model import EntryState
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import (
    KeyingContext,
    entry_state_of,
    parse_date_text,
    parse_moment,
    parse_value,
)
from paperfallback.register import IssuedForm

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PRINTED = NOW - timedelta(hours=6)
CTX = KeyingContext(printed_at=PRINTED, now=NOW, window_hours=24)
FORMS = load_catalogue()
NEWS2 = FORMS.get("news2")


def spec(field_id: str) -> FieldSpec:
    return NEWS2.field(field_id)


def test_numbers_ranges_decimals_and_units() -> None:
    assert parse_value(spec("spo2"), "96", CTX).canonical == "96"
    assert parse_value(spec("spo2"), "96%", CTX).canonical == "96"
    assert parse_value(spec("temp"), "37.50", CTX).canonical == "37.5"
    assert parse_value(spec("temp"), 38, CTX).canonical == "38"
    with pytest.raises(InputError, match="'l00' is not a number"):
        parse_value(spec("spo2"), "l00", CTX)
    with pytest.raises(InputError, match="outside 50–100"):
        parse_value(spec("spo2"), "101", CTX)
    with pytest.raises(InputError, match="whole number"):
        parse_value(spec("pulse"), "72.5", CTX)
    with pytest.raises(InputError, match="at most 1 decimals"):
        parse_value(spec("temp"), "37.55", CTX)
    with pytest.raises(InputError, match="not a number"):
        parse_value(spec("temp"), float("nan"), CTX)


def test_choices_by_printed_code_or_first_letter() -> None:
    assert parse_value(spec("acvpu"), "c", CTX).canonical == "C"
    assert parse_value(spec("oxygen"), "o", CTX).canonical == "O2"
    assert parse_value(spec("oxygen"), "Air", CTX).canonical == "A"
    assert parse_value(spec("spo2_scale"), 2, CTX).canonical == "2"
    with pytest.raises(InputError, match="not one of"):
        parse_value(spec("acvpu"), "X", CTX)


def test_tokens_for_illegible_and_not_recorded() -> None:
    assert entry_state_of("?") is EntryState.ILLEGIBLE
    assert entry_state_of(" Not recorded ") is EntryState.NOT_RECORDED
    assert entry_state_of("-") is EntryState.NOT_RECORDED
    assert entry_state_of("12") is None


def test_dates_are_sane() -> None:
    dob = FieldSpec.model_validate({"id": "birth_date", "label": "Date of birth", "type": "date"})
    assert parse_value(dob, "24/01/1950", CTX).canonical == "1950-01-24"
    assert parse_value(dob, "24-Jan-1950", CTX).canonical == "1950-01-24"
    assert parse_value(dob, date(1950, 1, 24), CTX).canonical == "1950-01-24"
    with pytest.raises(InputError, match="future"):
        parse_value(dob, "24/01/2030", CTX)
    with pytest.raises(InputError, match="before 1900"):
        parse_value(dob, "24/01/1850", CTX)
    with pytest.raises(InputError, match="not a real date"):
        parse_value(dob, "31/02/1950", CTX)
    assert parse_date_text("2018-01-24") == date(2018, 1, 24)


def test_nhs_number_check_digit() -> None:
    # The field's declared role makes it an NHS number, not its id (any id will do).
    nhs = FieldSpec.model_validate({"id": "site_nhs", "label": "NHS number",
                                    "role": "patient.nhs_number"})
    assert parse_value(nhs, "943 476 5919", CTX).canonical == "9434765919"
    with pytest.raises(InputError, match="wrong check digit"):
        parse_value(nhs, "943 476 5918", CTX)
    for form in FORMS:  # every keyed NHS number field of the bundled forms declares it
        for _section, spec in form.fields():
            if spec.keyed and "nhs" in spec.id:
                assert spec.role == "patient.nhs_number", (form.id, spec.id)


def test_a_field_named_like_an_nhs_number_is_not_one_without_the_role() -> None:
    plain = FieldSpec.model_validate({"id": "old_nhs_number", "label": "Old reference"})
    assert parse_value(plain, "943 476 5918", CTX).canonical == "943 476 5918"


def test_times_uk_iso_and_bare() -> None:
    uk = parse_moment("24/11/2026 09:05", CTX)
    assert uk == datetime(2026, 11, 24, 9, 5, tzinfo=UTC)
    assert parse_moment("2026-11-24T09:05", CTX) == uk
    assert parse_moment("2026-11-24 09:05", CTX) == uk
    assert parse_moment(datetime(2026, 11, 24, 9, 5), CTX) == uk
    assert parse_moment("0905", CTX) == uk  # after printing (06:00), on the printed day
    # 03:00 today is before printing; the first 03:00 after printing is tomorrow (future),
    # so the latest one before printing is taken.
    assert parse_moment("0300", CTX) == datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    with pytest.raises(InputError, match="not a time"):
        parse_moment("25:00", CTX)


def _session(data_dir: Path) -> KeyingSession:
    issued = IssuedForm(instance_id="T1-00001-X", form_id="news2", form_version="1.0",
                        scope="patient", page_count=1, printed_at=PRINTED, pc_id="pc",
                        patient_id="p1")
    store = EntriesStore.open(data_dir, "k")
    return KeyingSession(store, form_layout(NEWS2), issued, clerk="Ann", ctx=CTX)


def test_chart_time_rules(data_dir: Path) -> None:
    session = _session(data_dir)
    with pytest.raises(InputError, match="in the future"):
        session.enter("observations", 0, "obs_time", "24/11/2026 13:00")
    with pytest.raises(InputError, match="more than 24 h before the form was printed"):
        session.enter("observations", 0, "obs_time", "22/11/2026 13:00")
    session.enter("observations", 1, "obs_time", "24/11/2026 08:00")
    with pytest.raises(InputError, match=r"column 1.*not before the next column"):
        session.enter("observations", 0, "obs_time", "24/11/2026 09:00")
    with pytest.raises(InputError, match=r"column 3.*not after the previous column"):
        session.enter("observations", 2, "obs_time", "24/11/2026 07:00")
    outcome = session.enter("observations", 2, "obs_time", "1000")
    assert outcome.shown == "Tue 24-Nov-2026 10:00"


def test_clerk_must_be_named(data_dir: Path) -> None:
    issued = IssuedForm(instance_id="T1-00001-X", form_id="news2", form_version="1.0",
                        scope="patient", page_count=1, printed_at=PRINTED, pc_id="pc")
    with pytest.raises(InputError, match="name the clerk"):
        KeyingSession(EntriesStore.open(data_dir, "k"), form_layout(NEWS2), issued, clerk=" ")


def test_resume_point_follows_the_paper(data_dir: Path) -> None:
    session = _session(data_dir)
    assert session.resume_point() == session.address("observations", 0, "obs_time")
    session.enter("observations", 0, "obs_time", "0700")
    session.enter("observations", 0, "resp_rate", "?")
    assert session.resume_point() == session.address("observations", 0, "spo2")


def test_missing_required_fields_in_used_columns_only(data_dir: Path) -> None:
    session = _session(data_dir)
    assert session.missing_required() == []
    session.enter("observations", 1, "obs_time", "0800")
    session.enter("observations", 1, "spo2", "-")
    missing = {a.field_id for a in session.missing_required()}
    assert missing == {"resp_rate", "oxygen", "sbp", "pulse", "acvpu", "temp", "initials"}
    assert {a.index for a in session.missing_required()} == {1}
