"""The register in the encrypted work store: reserved IDs never repeat; records round-trip."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

from paperfallback.register import IssuedForm, Register
from paperfallback.settings import Settings

TEST_KEY = os.environ.get("PAPERFALLBACK_KEY", "test-key-not-secret")


def _issued(instance_id: str) -> IssuedForm:
    return IssuedForm(
        instance_id=instance_id, form_id="news2", form_version="1.0", scope="patient",
        page_count=2, printed_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC), pc_id="PC-1",
        data_as_of=datetime(2026, 1, 5, 8, 30, tzinfo=UTC), patient_id="p1",
        nhs_number="9990000026", patient_name="LLŶR-PRITCHARD, Gwenllïan",
        session_date=date(2026, 1, 5), prefilled_columns=3, blank_columns=13,
        prefilled_times=("2026-01-05T08:00:00+00:00",), rows=("regular:rx-1",),
    )


def test_ids_survive_reopening_and_are_never_reused(data_dir: Path) -> None:
    settings = Settings(pc_code="K7", pc_id="PC-1")
    with Register.open(data_dir, TEST_KEY, settings) as register:
        first = [register.instance_id() for _ in range(3)]
        downtime = register.downtime_number()
    with Register.open(data_dir, TEST_KEY, settings) as register:
        later = register.instance_id()
        assert register.downtime_number() != downtime
    assert len({*first, later}) == 4
    assert all(i.startswith("K7-") for i in first)


def test_record_get_list_round_trip(data_dir: Path) -> None:
    with Register.open(data_dir, TEST_KEY, Settings(pc_code="K7")) as register:
        instance_id = register.instance_id()
        issued = _issued(instance_id)
        assert register.record([issued]) == 1
        assert register.record(issued) == 0  # recording again changes nothing
        assert register.get(instance_id.lower().replace("-", "")) == issued
        assert register.list() == [issued]
        assert register.list(form_id="mar") == []


def test_derived_pc_code_when_it_left_it_empty(data_dir: Path) -> None:
    with Register.open(data_dir, TEST_KEY, Settings(pc_code="", pc_id="WARD-PC-3")) as register:
        assert len(register.pc_code) == 3
        assert register.instance_id().startswith(register.pc_code + "-")


def test_an_old_register_row_without_a_scale_reads_back(data_dir: Path) -> None:
    """A work.db written before the printed SpO2 scale was recorded: its rows have no
    such key and read back as "no scale printed" (scored on Scale 1 unless keyed)."""
    import dataclasses
    import json

    from paperfallback.register import printed_spo2_scales

    with Register.open(data_dir, TEST_KEY, Settings(pc_code="K7")) as register:
        old, new = register.instance_id(), register.instance_id()
        legacy = _issued(old).to_json()
        del legacy["spo2_scale"]
        register.work.connection.execute(
            "INSERT INTO issued_forms VALUES (?, 'news2', 'p1', ?, ?)",
            (old, legacy["printed_at"], json.dumps(legacy)))
        register.record(dataclasses.replace(_issued(new), spo2_scale=2))
        got_old, got_new = register.get(old), register.get(new)
        assert got_old is not None and got_old.spo2_scale is None
        assert got_old.patient_name == _issued(old).patient_name
        assert got_new is not None and got_new.spo2_scale == 2
        assert printed_spo2_scales(register.work) == {new: 2}
