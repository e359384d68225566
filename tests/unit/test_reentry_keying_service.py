"""The keying service without Qt: a whole form keyed, finished with the required-field
policy and identified; the blind double-entry rules (issue #13 item 6); the form ID as
typed, scanned or given as a downtime number (items 10 and 13)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.keying_service import KeyingService, OpenForm
from paperfallback.reentry.model import (
    DiscrepancyKind,
    EntryPass,
    EntryState,
    FieldAddress,
    InstanceStatus,
)
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, Register, format_downtime_number
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"


@pytest.fixture
def service(data_dir: Path) -> Iterator[KeyingService]:
    conn = WorkStore.open(data_dir, KEY)
    register = Register(conn, pc_code="T1")
    yield KeyingService(EntriesStore(conn), register, load_catalogue(),
                        double_entry_forms=("news2",))
    conn.close()


def _hhmm(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).astimezone(UK).strftime(
        "%d/%m/%Y %H:%M")


def _issue(service: KeyingService, form_id: str = "news2", **extra: object) -> IssuedForm:
    fields: dict[str, object] = {
        "form_version": "1.0", "scope": "patient", "page_count": 2, "pc_id": "pc",
        "printed_at": datetime.now(UTC) - timedelta(hours=3), "patient_id": "p1",
        "patient_name": "WYN, Ann",
    }
    fields.update(extra)
    issued = IssuedForm(instance_id=service.register.instance_id(), form_id=form_id,
                        **fields)  # type: ignore[arg-type]
    service.register.record(issued)
    return issued


COLUMN = {"resp_rate": "22", "spo2": "95", "spo2_scale": "1", "oxygen": "A", "sbp": "120",
          "pulse": "95", "acvpu": "C", "temp": "38.2", "news2_total": "5", "initials": "AW"}


def _key_column(form: OpenForm, values: dict[str, str], pulse: str = "95") -> None:
    form.enter("observations", 0, "obs_time", _hhmm(2))
    for field_id, value in {**values, "pulse": pulse}.items():
        form.enter("observations", 0, field_id, value)


def test_a_whole_form_is_keyed_through_the_service_without_qt(
        service: KeyingService) -> None:
    issued = _issue(service)
    service.double_entry_forms = set()
    form = service.open(issued.instance_id, "Ann Wyn")
    assert form.entry_pass is EntryPass.FIRST and "WYN, Ann" in form.title()
    form.enter("observations", 0, "obs_time", _hhmm(2))
    form.enter("observations", 0, "resp_rate", "22")
    assert form.enter("observations", 0, "spo2", "?").state is EntryState.ILLEGIBLE
    assert form.enter("observations", 0, "sbp", "-").state is EntryState.NOT_RECORDED
    with pytest.raises(InputError, match="column 1"):
        form.enter("observations", 0, "pulse", "l00")
    first = form.finish()
    # Required fields are named as printed, with the paper's column number.
    assert not first.done and "Air or oxygen (column 1)" in first.message
    assert "oxygen (" not in first.message.replace("Air or oxygen (", "")
    finished = form.finish()  # the clerk confirms: the paper has nothing there
    assert finished.done and finished.status is InstanceStatus.KEYED
    values = {a.field_id: e for a, e in form.shown_values().items()}
    assert values["resp_rate"].value == "22" and values["resp_rate"].keyed_by == "Ann Wyn"
    assert values["spo2"].state is EntryState.ILLEGIBLE


def test_a_blank_copy_is_identified_when_finished(service: KeyingService) -> None:
    number = format_downtime_number("T1", 1)
    issued = _issue(service, patient_id=None, patient_name="", downtime_number=number)
    service.double_entry_forms = set()
    form = service.open(issued.instance_id, "Ann")
    form.enter("observations", 0, "resp_rate", "18")
    with pytest.raises(InputError, match="blank copy: key the patient"):
        form.finish(confirmed=True)
    for field_id, value in (("family", "Pryce"), ("given", "Non"), ("birth_date", "01/02/1950")):
        form.enter("_patient", 0, field_id, value)
    finished = form.finish(confirmed=True)
    assert finished.done and finished.patient == f"downtime:{number}"
    (patient,) = service.store.downtime_patients()
    assert (patient.family, patient.instance_id) == ("Pryce", issued.instance_id)


def test_blind_double_entry_rules_are_in_the_service(service: KeyingService) -> None:
    issued = _issue(service)
    ann = service.open(issued.instance_id, "Ann")
    _key_column(ann, COLUMN, pulse="95")
    assert "NEWS2 written as 5" in ann.status_text() or ann.visible_discrepancies()
    assert ann.finish(confirmed=True).done
    # A clerk who did not key pass 1 cannot open it ...
    with pytest.raises(InputError, match="Ann keyed the first pass"):
        service.open(issued.instance_id, "Bob", EntryPass.FIRST)
    # ... and the first clerk cannot key the second.
    with pytest.raises(InputError, match="blind"):
        service.open(issued.instance_id, "ann", EntryPass.SECOND)
    bob = service.open(issued.instance_id, "Bob", EntryPass.SECOND)
    # Nothing of the first keying is shown: no value, no total, no discrepancy.
    assert bob.shown_values() == {}
    assert service.store.discrepancies(issued.instance_id)  # Ann's NEWS2 flag exists
    assert bob.visible_discrepancies() == [] and "NEWS2" not in bob.status_text()
    assert "discrepanc" not in bob.status_text()
    _key_column(bob, COLUMN, pulse="83")
    assert bob.enter("observations", 0, "news2_total", "5").notice == ""
    done = bob.finish(confirmed=True)
    assert done.done and done.status is None and "differ" not in done.message
    # The pass owner is fixed: nobody else keys the second pass now.
    with pytest.raises(InputError, match="Bob is keying the second pass"):
        service.open(issued.instance_id, "Cai", EntryPass.SECOND)
    # The first clerk, reopening, is not told how the second keying compared.
    again = service.open(issued.instance_id, "Ann")
    assert all(d.kind is DiscrepancyKind.NEWS2_TOTAL for d in again.visible_discrepancies())
    assert "keyings differ" not in again.status_text()
    # Neither keying clerk resolves; a third person sees both keyings of the difference.
    for clerk in ("Ann", "BOB"):
        with pytest.raises(InputError, match="third person"):
            service.open(issued.instance_id, clerk, EntryPass.RESOLVED)
    cai = service.open(issued.instance_id, "Cai", EntryPass.RESOLVED)
    pulse = FieldAddress(issued.instance_id, "observations", 0, "pulse")
    assert cai.differing() == [pulse]
    assert "'95' / '83'" in cai.hints()[pulse]
    assert not cai.editable(FieldAddress(issued.instance_id, "observations", 0, "spo2"))
    with pytest.raises(InputError, match="agree"):
        cai.enter("observations", 0, "spo2", "90")
    outcome = cai.enter("observations", 0, "pulse", "86")
    assert "verified" in outcome.notice
    record = service.store.instance(issued.instance_id)
    assert record is not None and record.status is InstanceStatus.VERIFIED


def test_second_clerk_cannot_change_the_first_keying(service: KeyingService) -> None:
    """The defect: the second clerk chose 'First keying' and edited every value."""
    issued = _issue(service)
    ann = service.open(issued.instance_id, "Ann")
    ann.enter("observations", 0, "resp_rate", "22")
    with pytest.raises(InputError):
        service.open(issued.instance_id, "Bob", EntryPass.FIRST)
    entries = service.store.entries(issued.instance_id, EntryPass.FIRST)
    assert {e.keyed_by for e in entries} == {"Ann"}


def test_a_scanned_qr_payload_opens_the_form_at_its_page(service: KeyingService) -> None:
    issued = _issue(service)
    form = service.open(f"{issued.instance_id}/2", "Ann")
    assert form.instance_id == issued.instance_id and form.page == 2
    assert "page 2 of 2" in form.title()
    lower = service.open(f"{issued.instance_id.replace('-', '').lower()}/1", "Ann")
    assert lower.instance_id == issued.instance_id


def test_a_downtime_number_without_dt_finds_its_form(service: KeyingService) -> None:
    """'DT' adds nothing to the check character, so the body of DT-T1-00005-? is also a
    valid form ID: before, typing it opened whichever form had that ID (or none)."""
    number = format_downtime_number("T1", 5)
    body = number.removeprefix("DT-")
    blank = _issue(service, patient_id=None, patient_name="", downtime_number=number)
    assert blank.instance_id != body
    for text in (number, number.replace("-", " ").lower(), body):
        assert service.locate(text).issued.instance_id == blank.instance_id, text
    assert service.open(body, "Ann").instance_id == blank.instance_id


def test_a_typed_id_that_is_also_a_downtime_number_is_not_guessed(
        service: KeyingService) -> None:
    other = _issue(service)  # counter 1: T1-00001-?
    number = format_downtime_number("T1", 1)
    assert number == "DT-" + other.instance_id  # the collision the clerk can type
    blank = _issue(service, patient_id=None, downtime_number=number)
    with pytest.raises(InputError, match="also the downtime number") as refused:
        service.locate(other.instance_id)
    assert blank.instance_id in str(refused.value) and f"{other.instance_id}/1" in str(
        refused.value)
    assert service.locate(f"{other.instance_id}/1").issued == other  # scanned: the form
    assert service.locate(number).issued == blank


def test_a_name_only_match_waits_for_the_clerk(service: KeyingService, data_dir: Path) -> None:
    """Issue #13 item 8: matched by name and birth date, the form is linked only when a
    clerk confirms; 'not this patient' records a new downtime patient instead."""
    from datetime import date

    from paperfallback.cache.store import CacheStore
    from paperfallback.domain.records import Patient, Snapshot
    from paperfallback.reentry.observations import keyed_observations

    cache = CacheStore.open(data_dir, KEY)
    cache.replace_snapshot(Snapshot(
        data_as_of=datetime.now(UTC), as_of_source="option",
        patients=(Patient("p9", "9999791220", "RM9", "Lewis", "Priya", date(1950, 2, 1)),)),
        force=True)
    service._cache, service._cache_tried = cache, True
    forms = []
    for n in (1, 2):
        issued = _issue(service, patient_id=None, patient_name="",
                        downtime_number=format_downtime_number("T1", n))
        form = service.open(issued.instance_id, "Ann")
        for field_id, value in (("family", "LEWIS"), ("given", "Priya"),
                                ("birth_date", "01/02/1950")):
            form.enter("_patient", 0, field_id, value)
        form.enter("observations", 0, "obs_time", _hhmm(2))
        form.enter("observations", 0, "resp_rate", "18")
        finished = form.finish(confirmed=True)
        assert finished.to_confirm == "LEWIS, Priya, born 01-Feb-1950, NHS 999 979 1220"
        record = service.store.instance(issued.instance_id)
        assert record is not None and record.patient_match.startswith("unconfirmed:")
        forms.append(form)
    # Not this patient's yet: nothing keyed prints on their next chart before confirming.
    assert keyed_observations(service.store.work, "p9") == []
    assert "confirmed by Ann" in forms[0].confirm_patient(True)
    assert keyed_observations(service.store.work, "p9")
    assert "new patient" in forms[1].confirm_patient(False)
    first = service.store.instance(forms[0].instance_id)
    second = service.store.instance(forms[1].instance_id)
    assert first is not None and first.patient_id == "p9"
    assert second is not None and second.patient_match.startswith("downtime:")
    cache.close()


def test_a_scanned_page_two_jumps_to_its_columns_numbered_as_printed(
        service: KeyingService) -> None:
    """Issue #13 items 10 and 13: a NEWS2 chart over 2 pages of 8 columns, 7 of page 1
    pre-filled from the EPR: page 1's blank column is 'column 8', page 2 starts at its
    own 'column 1', and scanning page 2's QR puts the cursor there."""
    issued = _issue(service, page_count=2, blank_columns=9, prefilled_columns=7)
    form = service.open(f"{issued.instance_id}/2", "Ann")
    chart = form.layout.section("observations")
    assert chart.index_label(0) == "column 8"
    assert chart.index_label(1) == "column 1 on page 2"
    point = form.start_point()
    assert point == FieldAddress(issued.instance_id, "observations", 1, "obs_time")
    first_page = service.open(f"{issued.instance_id}/1", "Ann")
    assert first_page.start_point() == FieldAddress(issued.instance_id, "observations", 0,
                                                    "obs_time")
