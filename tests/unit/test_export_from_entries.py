"""Reading the re-entry store into the export model (paperfallback.export.from_entries)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paperfallback.export.from_entries import read_forms
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress
from paperfallback.reentry.store import DowntimePatient, EntriesStore
from paperfallback.reentry.workflow import finish_pass
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

TEST_KEY = "test-key-not-secret"


@pytest.fixture
def stores(data_dir: Path) -> Iterator[tuple[Register, EntriesStore]]:
    conn = WorkStore.open(data_dir, TEST_KEY)
    try:
        yield Register(conn, pc_code="T1"), EntriesStore(conn)
    finally:
        conn.close()


def _key(store: EntriesStore, issued: IssuedForm, section: str, index: int,
         values: dict[str, str], *, finish: bool = True, clerk: str = "Siân") -> None:
    for field_id, text in values.items():
        store.save(FieldAddress(issued.instance_id, section, index, field_id), EntryPass.FIRST,
                   text, EntryState.VALUE, clerk=clerk, form_id=issued.form_id)
    if finish:
        finish_pass(store, issued.instance_id, EntryPass.FIRST, double_entry=False, by=clerk)


def _read(stores: tuple[Register, EntriesStore]) -> Any:
    register, store = stores
    return read_forms(store, register, load_catalogue(), None, site_code="DEMO")


def test_keyed_chart_comes_with_codes_labels_and_the_printed_patient(
    stores: tuple[Register, EntriesStore], record_issued: Callable[..., list[IssuedForm]],
) -> None:
    issued = record_issued("news2", patient_id="p1", patient_name="ÖZTÜRK, Emre",
                           nhs_number="9990000026", hospital_number="RX1", ward_code="W1")[0]
    when = (issued.printed_at - timedelta(hours=1)).isoformat()
    _key(stores[1], issued, "observations", 2, {"obs_time": when, "spo2": "95",
                                                "oxygen": "A", "temp": "37.0"})
    result = _read(stores)
    assert not result.problems
    (form,) = result.forms
    assert form.patient.nhs_number == "9990000026"
    assert (form.patient.family, form.patient.given) == ("ÖZTÜRK", "Emre")
    assert form.printed_at == issued.printed_at and form.pc_id == "test-pc"
    (row,) = form.rows
    assert (row.section, row.index) == ("observations", 2)
    spo2 = row.values["spo2"]
    assert spo2.unit == "%" and spo2.label == "SpO2"
    assert {c.code for c in spo2.codes} == {"59408-5", "103228002"}
    oxygen = row.values["oxygen"]
    assert oxygen.choice_label == "Air"
    assert [c.code for c in oxygen.choice_codes] == ["722742002"]
    assert spo2.keyed_by == "Siân" and spo2.keyed_at is not None


def test_forms_still_being_keyed_are_left_out(
    stores: tuple[Register, EntriesStore], record_issued: Callable[..., list[IssuedForm]],
) -> None:
    issued = record_issued("news2", patient_id="p1", nhs_number="9990000026")[0]
    _key(stores[1], issued, "observations", 0, {"spo2": "95"}, finish=False)
    assert _read(stores).forms == []


def test_blank_form_of_a_downtime_patient_uses_the_downtime_number(
    stores: tuple[Register, EntriesStore], record_issued: Callable[..., list[IssuedForm]],
) -> None:
    issued = record_issued("news2", downtime_number="DT-T1-00001-X")[0]
    store = stores[1]
    _key(store, issued, "observations", 0, {"spo2": "95"}, finish=False)
    store.record_downtime_patient(DowntimePatient(
        downtime_number="DT-T1-00001-X", instance_id=issued.instance_id, nhs_number=None,
        hospital_number=None, family="Llŷr", given="Gwenllïan", birth_date="1961-03-02",
        sex="female", recorded_by="Siân", recorded_at=datetime.now(UTC)))
    store.set_patient(issued.instance_id, "DT-T1-00001-X", "downtime:DT-T1-00001-X")
    finish_pass(store, issued.instance_id, EntryPass.FIRST, double_entry=False, by="Siân")
    (form,) = _read(stores).forms
    assert form.patient.downtime_number == "DT-T1-00001-X"
    assert form.patient.family == "Llŷr" and form.patient.key == "downtime:DT-T1-00001-X"


def test_a_form_missing_from_the_register_is_reported(
    stores: tuple[Register, EntriesStore],
) -> None:
    from paperfallback.register import format_instance_id

    register, store = stores
    missing = format_instance_id("Z9", 7)
    result = read_forms(store, register, load_catalogue(), None, site_code="DEMO",
                        instance_ids=[missing, "not-an-id"])
    assert result.forms == []
    assert len(result.problems) == 2
    assert missing in result.problems[0] and "register" in result.problems[0]


def test_bulk_read_takes_resolved_values_over_the_first_keying(
    stores: tuple[Register, EntriesStore], record_issued: Callable[..., list[IssuedForm]],
) -> None:
    from paperfallback.reentry.workflow import final_entries, final_entries_of_many

    _register, store = stores
    forms = record_issued("news2", 3, patient_id="p1", nhs_number="9990000026")
    for n, issued in enumerate(forms):
        _key(store, issued, "observations", 0, {"pulse": str(70 + n), "temp": "37.0"})
    store.save(FieldAddress(forms[1].instance_id, "observations", 0, "pulse"),
               EntryPass.RESOLVED, "99", EntryState.VALUE, clerk="Cai", form_id="news2")
    bulk = final_entries_of_many(store, [f.instance_id for f in forms])
    for issued in forms:
        assert bulk[issued.instance_id] == final_entries(store, issued.instance_id)
    result = _read(stores)
    pulses = {f.instance_id: f.rows[0].values["pulse"].text for f in result.forms}
    assert pulses == {forms[0].instance_id: "70", forms[1].instance_id: "99",
                      forms[2].instance_id: "72"}
