"""A scanned ``ID/page`` opens the form at that page's part (issue #13 item 10): on a MAR,
registration or any other form printed over several pages, the cursor goes to the first
keyable field or table row printed on that page, found from the boxes the renderer
recorded (``scan_layout``), and the row it lands on is the row printed on that page."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pymupdf
import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.keying_service import KeyingService
from paperfallback.reentry.printed_rows import printed_rows
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, Register
from paperfallback.render import PackRequest, render_pack
from paperfallback.scan.omr import scan_layout
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"


@pytest.fixture
def service(sample_data_dir: Path) -> Iterator[KeyingService]:
    conn = WorkStore.open(sample_data_dir, KEY)
    register = Register(conn, pc_code="T1")
    yield KeyingService(EntriesStore(conn), register, load_catalogue())
    conn.close()


def _print(service: KeyingService, data_dir: Path, now: datetime,
           form: str) -> tuple[IssuedForm, pymupdf.Document]:
    buffer = io.BytesIO()
    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        result = render_pack(PackRequest(patient_ids=("RM100001",), forms=(form,)), store,
                             load_catalogue(), Settings(pc_code="T1"), out=buffer,
                             allocate_ids=service.register, now=now)
    service.register.record(result.issued)
    return result.issued[0], pymupdf.open(stream=buffer.getvalue(), filetype="pdf")


def test_page_two_of_a_mar_opens_at_the_first_row_printed_on_it(
        service: KeyingService, sample_data_dir: Path, sample_as_of: datetime) -> None:
    issued, doc = _print(service, sample_data_dir, sample_as_of + timedelta(minutes=5), "mar")
    assert issued.page_count == 2
    fields = (scan_layout(issued.extra) or {})["fields"]
    on_2 = [e for e in fields if e["page"] == 2 and e["row"] is not None]
    assert on_2, "nothing keyable recorded on page 2"
    opened = service.open(f"{issued.instance_id}/2", "Ann")
    point = opened.start_point()
    assert point is not None and point.section != "allergy_box"
    # it is the earliest keyed field (paper order) of all those printed on page 2 ...
    order = [(a.section, a.index, a.field_id) for a in opened.session.addresses()]
    wanted = min(order.index((e["section"], e["row"], e["field"])) for e in on_2
                  if (e["section"], e["row"], e["field"]) in order)
    assert (point.section, point.index, point.field_id) == order[wanted]
    # ... and the paper agrees: what that row was printed for is on page 2, not on page 1
    printed = printed_rows(opened.form, issued, None)
    text = printed.get((point.section, point.index))
    label = opened.layout.section(point.section).index_label(point.index)
    assert label.startswith(f"row {point.index + 1}")
    box = next(e for e in fields if (e["section"], e["row"], e["field"]) ==
               (point.section, point.index, point.field_id))
    assert box["page"] == 2
    page_2 = doc[1].get_text()
    if text is not None and text.text:
        assert text.text.split(" at ")[0].split()[0] in page_2
    # page 1 still opens where keying stopped (the start of the form)
    first = service.open(f"{issued.instance_id}/1", "Ann").start_point()
    assert first is not None and first.section == "allergy_box"


def test_without_recorded_boxes_a_chart_still_jumps_and_others_resume(
        service: KeyingService) -> None:
    """Forms printed before the boxes were recorded: the chart rule still works, and a
    MAR opens where keying stopped (never at a guessed row)."""
    from datetime import UTC

    issued = IssuedForm(instance_id=service.register.instance_id(), form_id="mar",
                        form_version="1.1", scope="patient", page_count=2,
                        printed_at=datetime.now(UTC) - timedelta(hours=3), pc_id="pc",
                        patient_id="p1", patient_name="WYN, Ann")
    service.register.record(issued)
    opened = service.open(f"{issued.instance_id}/2", "Ann")
    assert opened.start_point() == opened.session.resume_point()


@pytest.mark.parametrize("form_id", ["mar", "clinic-list"])
def test_every_row_printed_on_a_blank_copy_can_be_keyed(
        service: KeyingService, form_id: str, sample_as_of: datetime) -> None:
    """A blank copy's tables fill their pages with rows to write in (a blank MAR prints 20
    dose-time rows of regular medicines): keying must offer every one, or what a nurse
    wrote in the lower rows could never be keyed. The rows printed are what the renderer
    recorded; keying offered only the form's minimum (8)."""
    buffer = io.BytesIO()
    result = render_pack(PackRequest(blank_form=form_id), None, load_catalogue(),
                         Settings(pc_code="T1"), out=buffer, allocate_ids=service.register,
                         now=sample_as_of)
    service.register.record(result.issued)
    issued = result.issued[0]
    recorded = (scan_layout(issued.extra) or {})["fields"]
    opened = service.open(issued.instance_id, "Ann")
    tables = [s for s in opened.layout.sections if s.kind == "table"]
    assert tables
    for section in tables:
        rows = {e["row"] for e in recorded if e["section"] == section.id}
        assert rows == set(range(section.count)), (section.id, section.count, len(rows))
    first = tables[0]
    addresses = set(opened.session.addresses())
    assert opened.session.address(first.id, first.count - 1, first.fields[-1].id) in addresses


def test_scanning_a_page_again_carries_on_where_that_page_was_left(
        service: KeyingService, sample_data_dir: Path, sample_as_of: datetime) -> None:
    """The clerk keyed part of page 2, then picks up page 1: scanning page 1 goes to page
    1 (not after the values keyed on page 2); scanning page 2 again carries on after the
    last value keyed on page 2."""
    issued, _doc = _print(service, sample_data_dir, sample_as_of + timedelta(minutes=5),
                          "mar")
    opened = service.open(f"{issued.instance_id}/2", "Ann")
    start = opened.start_point()
    assert start is not None
    opened.enter(start.section, start.index, start.field_id, "-")  # not recorded: any field
    again = service.open(f"{issued.instance_id}/2", "Ann")
    after = again.start_point()
    assert after is not None and after != start
    order = again.session.addresses()
    assert order.index(after) > order.index(start)
    first = service.open(f"{issued.instance_id}/1", "Ann").start_point()
    assert first is not None and first.section == "allergy_box"
    plain = service.open(issued.instance_id, "Ann").start_point()  # no page: resume
    assert plain == again.session.resume_point()
