"""Blind double entry: differences found field by field, resolved from the paper by a
third person (not by picking one), status draft -> keyed -> verified, and rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.layout import form_layout
from paperfallback.reentry.model import DiscrepancyKind, EntryPass, EntryState, InstanceStatus
from paperfallback.reentry.session import KeyingSession
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.validation import KeyingContext
from paperfallback.reentry.workflow import (
    compare,
    discrepancy_rates,
    final_entries,
    finish_pass,
    open_differences,
    ready_for_export,
    resolve,
)
from paperfallback.register import IssuedForm

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NEWS2 = load_catalogue().get("news2")
ISSUED = IssuedForm(instance_id="T1-00001-X", form_id="news2", form_version="1.0",
                    scope="patient", page_count=1, printed_at=NOW - timedelta(hours=6),
                    pc_id="pc", patient_id="p1")


def _key(store: EntriesStore, clerk: str, entry_pass: EntryPass, values: dict[str, str]) -> None:
    session = KeyingSession(store, form_layout(NEWS2), ISSUED, clerk=clerk, entry_pass=entry_pass,
                            ctx=KeyingContext(printed_at=ISSUED.printed_at, now=NOW))
    for field_id, value in values.items():
        session.enter("observations", 0, field_id, value)


def test_double_entry_flow(data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, "k")
    _key(store, "Ann", EntryPass.FIRST, {"obs_time": "0700", "pulse": "88", "temp": "37.1"})
    assert finish_pass(store, ISSUED.instance_id, EntryPass.FIRST, double_entry=True,
                       by="Ann") is InstanceStatus.DRAFT
    with pytest.raises(InputError, match="second clerk"):
        finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True, by="Ann")
    _key(store, "Bob", EntryPass.SECOND, {"obs_time": "0700", "pulse": "83", "temp": "37.1"})
    status = finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True, by="Bob")
    assert status is InstanceStatus.KEYED
    (difference,) = compare(store, ISSUED.instance_id)
    assert difference.address.field_id == "pulse"
    (open_one,) = store.discrepancies()
    assert open_one.kind is DiscrepancyKind.DOUBLE_ENTRY
    assert open_one.detail == {"first": "88", "second": "83"}
    assert ready_for_export(store, ["news2"]) == []
    with pytest.raises(InputError, match="third person"):
        resolve(store, difference.address, "88", EntryState.VALUE, by="Ann", form_id="news2")
    # The paper says 86: the resolver types it; neither keying is picked.
    status = resolve(store, difference.address, "86", EntryState.VALUE, by="Cai",
                     form_id="news2")
    assert status is InstanceStatus.VERIFIED
    assert store.discrepancies() == []
    final = {e.address.field_id: e.value for e in final_entries(store, ISSUED.instance_id)}
    assert final == {"obs_time": "2026-11-24T07:00:00+00:00", "pulse": "86", "temp": "37.1"}
    assert ready_for_export(store, ["news2"]) == [ISSUED.instance_id]
    rates = discrepancy_rates(store).to_json()
    assert rates["by_field"]["pulse"] == {"fields": 1, "differences": 1, "errors": 1,
                                          "errors_per_10000": 10000.0}
    assert rates["by_clerk"]["Ann"]["errors"] == 1 and rates["by_clerk"]["Bob"]["errors"] == 1
    assert rates["by_clerk"]["Ann"]["fields"] == 3


def test_agreeing_double_entry_is_verified_at_once(data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, "k")
    values = {"obs_time": "0700", "pulse": "88"}
    _key(store, "Ann", EntryPass.FIRST, values)
    finish_pass(store, ISSUED.instance_id, EntryPass.FIRST, double_entry=True, by="Ann")
    _key(store, "Bob", EntryPass.SECOND, values)
    assert finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True,
                       by="Bob") is InstanceStatus.VERIFIED


def test_single_entry_is_keyed_and_exportable(data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, "k")
    _key(store, "Ann", EntryPass.FIRST, {"obs_time": "0700", "pulse": "88"})
    assert finish_pass(store, ISSUED.instance_id, EntryPass.FIRST, double_entry=False,
                       by="Ann") is InstanceStatus.KEYED
    assert ready_for_export(store, []) == [ISSUED.instance_id]
    assert store.mark_exported([ISSUED.instance_id]) == 1
    record = store.instance(ISSUED.instance_id)
    assert record is not None and record.status is InstanceStatus.EXPORTED
    assert record.exported_at is not None


# R-ENT-6: a recorded difference keeps the form from verifying until a third person keys
# the value from the paper; re-keying the second pass to agree does not clear it.


def _differ_then_agree(store: EntriesStore) -> None:
    _key(store, "Ann", EntryPass.FIRST, {"obs_time": "0700", "pulse": "88"})
    finish_pass(store, ISSUED.instance_id, EntryPass.FIRST, double_entry=True, by="Ann")
    _key(store, "Bob", EntryPass.SECOND, {"obs_time": "0700", "pulse": "83"})
    assert finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True,
                       by="Bob") is InstanceStatus.KEYED
    # Bob re-keys his pass with Ann's value: the two now agree with each other, not the paper.
    _key(store, "Bob", EntryPass.SECOND, {"pulse": "88"})


def test_rekeying_second_pass_to_agree_does_not_verify(data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, "k")
    _differ_then_agree(store)
    status = finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True,
                         by="Bob")
    assert status is InstanceStatus.KEYED
    assert ready_for_export(store, ["news2"]) == []
    (still_open,) = store.discrepancies(ISSUED.instance_id)
    assert still_open.kind is DiscrepancyKind.DOUBLE_ENTRY
    assert [a.field_id for a in open_differences(store, ISSUED.instance_id)] == ["pulse"]


def test_closing_without_paper_value_does_not_verify(data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, "k")
    _differ_then_agree(store)
    (open_one,) = store.discrepancies(ISSUED.instance_id)
    store.acknowledge(open_one.id, by="Bob", note="they agree now")
    assert finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True,
                       by="Bob") is InstanceStatus.KEYED
    assert ready_for_export(store, ["news2"]) == []


def test_third_person_resolution_verifies(data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, "k")
    _differ_then_agree(store)
    finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True, by="Bob")
    (open_one,) = store.discrepancies(ISSUED.instance_id)
    status = resolve(store, open_one.address, "86", EntryState.VALUE, by="Cai",
                     form_id="news2")
    assert status is InstanceStatus.VERIFIED
    assert open_differences(store, ISSUED.instance_id) == []
    assert ready_for_export(store, ["news2"]) == [ISSUED.instance_id]


def test_rekeying_after_verification_reopens_the_check(data_dir: Path) -> None:
    """A keying changed after the form was verified is checked again, not exported as is."""
    store = EntriesStore.open(data_dir, "k")
    values = {"obs_time": "0700", "pulse": "88"}
    _key(store, "Ann", EntryPass.FIRST, values)
    finish_pass(store, ISSUED.instance_id, EntryPass.FIRST, double_entry=True, by="Ann")
    _key(store, "Bob", EntryPass.SECOND, values)
    assert finish_pass(store, ISSUED.instance_id, EntryPass.SECOND, double_entry=True,
                       by="Bob") is InstanceStatus.VERIFIED
    _key(store, "Ann", EntryPass.FIRST, {"pulse": "98"})
    assert finish_pass(store, ISSUED.instance_id, EntryPass.FIRST, double_entry=True,
                       by="Ann") is InstanceStatus.KEYED
    assert ready_for_export(store, ["news2"]) == []
    assert [a.field_id for a in open_differences(store, ISSUED.instance_id)] == ["pulse"]


def test_a_double_entry_difference_never_describes_either_value() -> None:
    """Every screen and report shows describe(): it must stay blind (R-ENT-6)."""
    from datetime import UTC, datetime

    from paperfallback.reentry.model import Discrepancy, DiscrepancyKind, FieldAddress

    d = Discrepancy(
        id=1, kind=DiscrepancyKind.DOUBLE_ENTRY,
        address=FieldAddress("K7-00001-F", "hours", 0, "in_oral"),
        detail={"first": "200", "second": "300"}, is_open=True,
        raised_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    text = d.describe()
    assert "200" not in text and "300" not in text
    assert "third person" in text
