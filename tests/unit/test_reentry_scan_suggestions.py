"""Ticks read from a returned page are offered as values to confirm (issue #16 item 4):
the rules live in the keying service, without Qt. The reading of the image is given here
(the reader has its own tests, and tests/e2e/test_scans_ticks.py reads real scans)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.choice_check import SCAN_SOURCE
from paperfallback.reentry.keying_service import KeyingService
from paperfallback.reentry.model import DiscrepancyKind, EntryPass, FieldAddress
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, Register, format_downtime_number
from paperfallback.scan.choice_marks import ChoiceMark, FormMarks, OptionReading
from paperfallback.scan.omr import BoxState
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"


def _mark(section: str, field: str, codes: list[str], ticked: list[str], *,
          value: str | None = None, note: str = "", row: int | None = None) -> ChoiceMark:
    options = tuple(OptionReading(c, 0.4 if c in ticked else 0.0,
                                  BoxState.TICKED if c in ticked else BoxState.EMPTY)
                    for c in codes)
    return ChoiceMark(1, section, field, row, "choice", options, value, note)


MARKS = FormMarks([
    _mark("identity", "dt_sex", ["M", "F", "O", "U"], ["F"], value="F"),
    _mark("arrival", "dt_mode", ["AMB", "WALK", "GP", "OTH"], ["AMB"], value="AMB"),
    _mark("arrival", "dt_triage", ["1", "2", "3", "4", "5"], ["2", "3"],
          note="ticks in 2 and 3: check the paper"),
], pages_read=[1])


@pytest.fixture
def service(data_dir: Path) -> Iterator[KeyingService]:
    conn = WorkStore.open(data_dir, KEY)
    register = Register(conn, pc_code="T1")
    read: list[str] = []

    def read_marks(issued: IssuedForm) -> FormMarks:
        read.append(issued.instance_id)
        return MARKS

    service = KeyingService(EntriesStore(conn), register, load_catalogue(),
                            double_entry_forms=("downtime-registration",),
                            read_marks=read_marks)
    service.reads = read  # type: ignore[attr-defined]
    yield service
    conn.close()


def _registration(service: KeyingService) -> IssuedForm:
    issued = IssuedForm(
        instance_id=service.register.instance_id(), form_id="downtime-registration",
        form_version="1.0", scope="blank", page_count=1, pc_id="pc",
        printed_at=datetime.now(UTC) - timedelta(hours=3), patient_id=None,
        downtime_number=format_downtime_number("T1", 1))
    service.register.record(issued)
    return issued


def _address(issued: IssuedForm, section: str, field: str) -> FieldAddress:
    return FieldAddress(issued.instance_id, section, 0, field)


def test_a_clear_tick_is_offered_and_saved_only_when_confirmed(service: KeyingService) -> None:
    issued = _registration(service)
    form = service.open(issued.instance_id, "Ann")
    offered = form.scan_suggestions()
    sex = _address(issued, "identity", "dt_sex")
    assert (offered[sex].value, offered[sex].text, offered[sex].shown) == ("F", "F",
                                                                          "F (Female)")
    assert "Enter confirms" in offered[sex].status
    triage = offered[_address(issued, "arrival", "dt_triage")]
    assert triage.value is None and triage.status.endswith("ticks in 2 and 3: check the paper")
    # Offered is not keyed: nothing is in the store until the clerk confirms.
    assert service.store.entries(issued.instance_id) == []
    outcome = form.confirm_suggestion("identity", 0, "dt_sex")
    assert outcome.shown == "F – Female"
    entry = form.entry(sex)
    assert entry is not None and (entry.value, entry.keyed_by, entry.source) == (
        "F", "Ann", SCAN_SOURCE)
    assert sex not in form.scan_suggestions()  # keyed now: no longer a suggestion
    with pytest.raises(InputError, match="no clear tick"):
        form.confirm_suggestion("arrival", 0, "dt_triage")  # unclear: never a value
    assert service.reads == [issued.instance_id]  # type: ignore[attr-defined]


def test_finishing_with_unconfirmed_suggestions_warns_once(service: KeyingService) -> None:
    issued = _registration(service)
    form = service.open(issued.instance_id, "Ann")
    form.enter("identity", 0, "dt_family", "Pryce")
    first = form.finish()
    assert not first.done and "2 value(s) read from the scan are not confirmed" in first.message
    assert "Sex" in first.message and "Mode of arrival" in first.message
    assert service.store.entry(_address(issued, "identity", "dt_sex"), EntryPass.FIRST) is None


def test_keying_another_value_than_a_clear_tick_is_a_discrepancy(
        service: KeyingService) -> None:
    issued = _registration(service)
    form = service.open(issued.instance_id, "Ann")
    outcome = form.enter("identity", 0, "dt_sex", "M")
    message = "Sex keyed M (Male) but the tick is in F (Female)"
    assert outcome.notice == f"{message}: check the paper (flagged)"
    (flag,) = service.store.discrepancies(issued.instance_id)
    assert flag.kind is DiscrepancyKind.PAPER_MARK and flag.describe() == message
    assert flag.address == _address(issued, "identity", "dt_sex")
    assert message in form.status_text()
    # Keying what the tick says settles it; an unclear reading never raises anything.
    assert form.enter("identity", 0, "dt_sex", "F").notice == ""
    assert service.store.discrepancies(issued.instance_id) == []
    assert form.enter("arrival", 0, "dt_triage", "4").notice == ""
    assert service.store.discrepancies(issued.instance_id) == []


def test_each_blind_pass_is_offered_the_image_not_the_other_keying(
        service: KeyingService) -> None:
    issued = _registration(service)
    ann = service.open(issued.instance_id, "Ann")
    ann.enter("identity", 0, "dt_sex", "M")  # against the tick: flagged for Ann
    ann.enter("arrival", 0, "dt_mode", "WALK")
    bob = service.open(issued.instance_id, "Bob", EntryPass.SECOND)
    offered = bob.scan_suggestions()
    assert offered[_address(issued, "identity", "dt_sex")].value == "F"  # the paper's
    assert offered[_address(issued, "arrival", "dt_mode")].value == "AMB"
    assert bob.shown_values() == {} and bob.visible_discrepancies() == []
    # The second pass keys blind: a disagreement with the tick is not shown to it (the
    # comparison of the two keyings and `scans check` find it).
    assert bob.enter("arrival", 0, "dt_mode", "GP").notice == ""
    assert [d.address.field_id for d in service.store.discrepancies(issued.instance_id)] == [
        "dt_mode", "dt_sex"]
    bob.confirm_suggestion("identity", 0, "dt_sex")
    second = bob.entry(_address(issued, "identity", "dt_sex"))
    assert second is not None and second.value == "F" and second.keyed_by == "Bob"
    cai = service.open(issued.instance_id, "Cai", EntryPass.RESOLVED)
    assert cai.scan_suggestions() == {}  # the resolver types what the paper says


def test_scans_check_rule_compares_the_values_that_count(service: KeyingService,
                                                         data_dir: Path) -> None:
    from paperfallback.reentry.choice_check import check_choice_marks
    from paperfallback.scan.store import ScanStore

    issued = _registration(service)
    scans = ScanStore(service.register.work)

    def check() -> list[str]:
        report = check_choice_marks(issued, service.catalogue, scans, service.store,
                                    marks=MARKS)
        assert [(place, m.note) for place, m in report.unclear] == [
            ("Triage category", "ticks in 2 and 3: check the paper")]
        assert report.fields_read == 3
        return [f.message for f in report.findings]

    assert check() == []  # nobody has keyed the form yet: nothing is 'missing'
    form = service.open(issued.instance_id, "Ann")
    form.enter("identity", 0, "dt_sex", "F")
    form.enter("arrival", 0, "dt_mode", "?")  # looked at the paper: illegible
    assert check() == []
    form.clear("arrival", 0, "dt_mode")
    form.enter("identity", 0, "dt_sex", "O")
    assert check() == [
        "Sex keyed O (Other) but the tick is in F (Female)",
        "Mode of arrival: nothing keyed but the tick is in AMB (Ambulance)"]
    assert {d.address.field_id for d in service.store.discrepancies(issued.instance_id)} == {
        "dt_sex", "dt_mode"}


def test_a_damaged_page_image_opens_the_form_without_suggestions(data_dir: Path) -> None:
    """Fault: the stored image of the returned page cannot be decoded. The form still
    opens for keying from the paper; the page is named as not read."""
    import json

    from paperfallback.scan.store import ScanStore

    conn = WorkStore.open(data_dir, KEY)
    try:
        register = Register(conn, pc_code="T1")
        service = KeyingService(EntriesStore(conn), register, load_catalogue())
        layout = {"page": [595.0, 842.0, 28.0], "grids": [], "fields": [
            {"page": 1, "section": "identity", "field": "dt_sex", "row": None,
             "kind": "choice", "box": [40, 700, 200, 30],
             "options": [{"value": c, "box": [50 + 30 * i, 690, 6, 6]}
                         for i, c in enumerate("MFOU")]}]}
        issued = IssuedForm(
            instance_id=register.instance_id(), form_id="downtime-registration",
            form_version="1.0", scope="blank", page_count=1, pc_id="pc",
            printed_at=datetime.now(UTC) - timedelta(hours=1), patient_id=None,
            extra={"scan_layout": json.dumps(layout)})
        register.record(issued)
        ScanStore(conn).add(form_id=issued.instance_id, page=1, status="identified",
                            source="scan.pdf", source_index=1,
                            payload=f"{issued.instance_id}/1", image=b"not a JPEG at all")
        form = service.open(issued.instance_id, "Ann")
        assert form.scan_suggestions() == {}
        assert form.scan_marks().pages_unregistered == [1]
        assert form.enter("identity", 0, "dt_sex", "F").notice == ""
    finally:
        conn.close()
