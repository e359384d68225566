"""``export --to`` in bounded memory (issue 15, goal 3): the plan is queued in the send log
form by form as it is built, the send reads the log back a unit at a time in the order the
in-memory ``chunked`` gives, a dry run queues into a scratch copy and changes nothing, and
a send cut off half-way leaves exactly the unanswered entries pending."""

from __future__ import annotations

import itertools
import random
import tempfile
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from paperfallback.export.fhir_common import SiteSystems
from paperfallback.export.model import ExportedForm, PatientRef
from paperfallback.export.samples import keyed_form, keyed_row, random_form
from paperfallback.export.send import (
    REJECTED_KEPT,
    SendOptions,
    chunked,
    pack,
)
from paperfallback.export.send_http import HttpAnswer, NetworkError, NoAuth
from paperfallback.export.send_run import send_forms
from paperfallback.export.send_state import _HEADS, SUPERSEDE, Answer, SendLog
from paperfallback.export.state import ExportState
from paperfallback.workstore import WorkStore

SYSTEMS = SiteSystems.for_site("DEMO")
KEY = "test-key-not-secret"
TARGET = "https://epr.example.nhs.uk/fhir"
WHEN = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Epr:
    """Accepts every entry; ``fail_from``: the n-th POST on (0-based) gets no answer."""

    def __init__(self, fail_from: int | None = None, reject: bool = False) -> None:
        self.fail_from, self.reject = fail_from, reject
        self.bundles: list[list[str]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        entries = orjson.loads(body)["entry"]
        if self.fail_from is not None and len(self.bundles) >= self.fail_from:
            raise NetworkError("the ward's network went down")
        self.bundles.append([e["fullUrl"] for e in entries])
        status = {"status": "422"} if self.reject else {"status": "201 Created"}
        return HttpAnswer(200, orjson.dumps({"resourceType": "Bundle", "type":
                                             "transaction-response",
                                             "entry": [{"response": status} for _ in entries]}))


def _registration(n: int) -> ExportedForm:
    return keyed_form("downtime-registration", f"DT{n:02d}-0001", [
        keyed_row("identity", 0, {"dt_family": "Llŷr", "dt_given": "Gwenllïan",
                                  "dt_birth_date": "1961-03-02", "dt_sex": "F"}),
        keyed_row("arrival", 0, {"dt_arrived": "2026-11-20T10:15", "dt_triage": "2"}),
    ], patient=PatientRef(downtime_number=f"DT-7Q2K-{n:04d}"))


def _forms(count: int, seed: int = 3) -> Iterator[ExportedForm]:
    """A ward's forms made as read, with a downtime registration in the middle (its
    Patient must still go first)."""
    rng = random.Random(seed)
    for n in range(count):
        yield _registration(n) if n == count // 2 else random_form(n, rng)


@pytest.fixture
def work(data_dir: Path) -> Iterator[WorkStore]:
    opened = WorkStore.open(data_dir, KEY)
    yield opened
    opened.close()


def _send(work: WorkStore, forms: Any, epr: Epr, **kw: Any) -> Any:
    return send_forms(work, forms, TARGET, systems=SYSTEMS, pc_id="PC1", auth=NoAuth,
                      transport=epr, options=SendOptions(chunk_size=kw.pop("chunk_size", 40),
                                                         sleep=lambda _s: None, tries=2),
                      now=WHEN, **kw)


def test_each_form_is_queued_before_the_next_is_read(work: WorkStore) -> None:
    """The plan is not built whole first: by the time a form is read, the forms before it
    are already in the send log (in the export's one transaction)."""
    log = SendLog(work)
    seen: list[int] = []

    def watched() -> Iterator[ExportedForm]:
        for form in _forms(6):
            seen.append(log.pending_count(TARGET))
            yield form

    summary = _send(work, watched(), Epr())
    assert seen[0] == 0 and all(b > a for a, b in itertools.pairwise(seen))
    assert summary.queued == summary.result.accepted > seen[-1]
    assert log.pending_count(TARGET) == 0


def test_the_send_holds_a_chunk_not_the_export() -> None:
    """Peak traced memory of plan + queue + send for 60 and for 240 forms (4x the
    entries): the same within a margin (before: 4x, the plan and the queue were lists)."""

    def peak(count: int, folder: Path) -> int:
        opened = WorkStore.open(folder, KEY)
        try:
            tracemalloc.start()
            summary = _send(opened, _forms(count), Epr(), chunk_size=100)
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert summary.result.accepted > count * 15
            return top
        finally:
            opened.close()

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        small, large = peak(60, Path(a)), peak(240, Path(b))
    assert large < small * 1.5, (small, large)


def test_units_read_from_the_log_come_in_the_order_chunked_gives(
    work: WorkStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Several runs, a correction superseding a pending version, rejected entries retried
    and a registration queued late: a page of 3 unit heads at a time gives exactly the
    chunks the in-memory rule gives for the whole queue."""
    log = SendLog(work)
    _send(work, _forms(5, seed=1), Epr(fail_from=0))  # everything stays pending
    _send(work, _forms(9, seed=1), Epr(fail_from=0))  # 4 new forms, 5 known
    first = log.pending(TARGET)[:7]
    log.record([Answer(q.seq, "rejected", "422", "", "no") for q in first])
    log.retry_rejected(TARGET)
    pending = log.pending(TARGET)
    assert any(q.resource_type == "Patient" for q in pending)
    for size in (1, 17, 100):
        streamed = [[[q.seq for q in unit] for unit in chunk]
                    for chunk in pack(log.units(TARGET, page=3), size)]
        in_memory = [[[q.seq for q in unit] for unit in chunk]
                     for chunk in chunked(pending, size)]
        assert streamed == in_memory
    first_unit = next(log.units(TARGET))
    assert first_unit[0].resource_type == "Patient"


def test_a_send_cut_off_half_way_leaves_exactly_the_unanswered_entries_pending(
    work: WorkStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("paperfallback.export.send_state.HEADS_PAGE", 2)
    log = SendLog(work)
    epr = Epr(fail_from=5)
    summary = _send(work, _forms(12), epr)
    assert "did not take a Bundle" in summary.stopped
    answered = {url for bundle in epr.bundles for url in bundle}
    rows = log.entries(TARGET)
    assert {q.full_url for q in rows if q.state == "accepted"} == answered
    assert {q.state for q in rows if q.full_url not in answered} == {"pending"}
    assert summary.pending_after == len(rows) - len(answered)
    by_unit: dict[str, set[str]] = {}
    for q in rows:
        by_unit.setdefault(q.unit_key, set()).add(q.state)
    assert all(len(states) == 1 for states in by_unit.values())  # no unit split
    again = Epr()
    resumed = _send(work, _forms(12), again)
    assert resumed.queued == 0  # planned and queued before: only the pending go
    assert not answered & {url for bundle in again.bundles for url in bundle}
    assert {q.state for q in log.entries(TARGET)} == {"accepted"}


def test_a_send_the_epr_refuses_whole_keeps_the_first_rejections_and_counts_all(
    work: WorkStore,
) -> None:
    summary = _send(work, _forms(14), Epr(reject=True), chunk_size=100)
    assert summary.result.rejected > REJECTED_KEPT
    assert len(summary.result.rejected_entries) == REJECTED_KEPT
    lines = summary.lines()
    assert f"{summary.result.rejected} rejected by the EPR" in "\n".join(lines)


def test_a_dry_run_changes_nothing_and_shows_what_would_go(work: WorkStore) -> None:
    log = SendLog(work)
    _send(work, _forms(4, seed=2), Epr(fail_from=0))  # queued, nothing answered
    rows = log.entries(TARGET)
    log.record([Answer(rows[0].seq, "rejected", "422", "", "Unknown patient")])
    before = work.connection.execute("SELECT * FROM send_entries ORDER BY seq").fetchall()
    runs = ExportState(work).runs()
    epr = Epr()
    dry = _send(work, _forms(6, seed=2), epr, dry_run=True, retry_rejected=True)
    assert epr.bundles == []
    assert work.connection.execute("SELECT * FROM send_entries ORDER BY seq").fetchall() == before
    assert ExportState(work).runs() == runs
    # what would go: everything pending, the rejected entry again, and two new forms
    real = _send(work, _forms(6, seed=2), Epr(), retry_rejected=True)
    assert dry.known == real.known and dry.would_send == real.result.accepted
    assert dry.bundles == real.result.bundles
    assert dry.invalid == []
    text = "\n".join(dry.lines())
    assert f"Would send {dry.would_send} entries in {dry.bundles} transaction Bundles" in text
    assert "  Bundle 1: " in text


def test_the_log_is_read_by_index_not_scanned() -> None:
    """Superseding looks up one URL; the unit heads walk the pending rows in seq order
    (a scan per entry queued made 300 forms take 16.6 s instead of 0.7 s)."""
    with tempfile.TemporaryDirectory() as folder:
        opened = WorkStore.open(Path(folder), KEY)
        try:
            plan = opened.connection.execute(
                "EXPLAIN QUERY PLAN " + SUPERSEDE, (TARGET, "x")).fetchall()
            assert "send_entries_by_url" in str(plan)
            heads = str(opened.connection.execute(
                "EXPLAIN QUERY PLAN " + _HEADS, (TARGET, 5, 0, 5, 5, 10)).fetchall())
            assert "send_entries_by_state" in heads and "TEMP B-TREE" not in heads
        finally:
            opened.close()


def test_a_unit_too_big_for_a_chunk_goes_alone() -> None:
    from paperfallback.export.send_state import QueuedEntry

    def unit(first: int, n: int) -> list[QueuedEntry]:
        return [QueuedEntry(first + i, TARGET, f"u{first + i}", f"F/{first}", "F", "f",
                            "Observation", {}, "pending") for i in range(n)]

    chunks = list(pack([unit(1, 3), unit(10, 9), unit(20, 2), unit(30, 2)], 4))
    assert [[len(u) for u in c] for c in chunks] == [[3], [9], [2, 2]]


def test_the_streamed_queue_posts_the_same_bundles_as_the_plan_built_whole(
    tmp_path: Path,
) -> None:
    """The plan used to be built whole, sorted by type, queued, then chunked; now each unit
    is queued as built. The Bundles (which entries, in which order) must be the same."""
    from paperfallback.export.fhir_bundle import plan_fhir_export
    from paperfallback.export.send import entries_to_send

    forms = list(_forms(9, seed=4))
    whole = plan_fhir_export(forms, SYSTEMS, {}, all_entries=False, pc_id="PC1",
                             exported_at=WHEN)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    old, new = WorkStore.open(tmp_path / "a", KEY), WorkStore.open(tmp_path / "b", KEY)
    try:
        SendLog(old).queue(TARGET, entries_to_send(whole, {f.instance_id: f.form_id
                                                           for f in forms}), now=WHEN)
        _send(new, iter(forms), Epr(fail_from=0))  # queued, nothing answered
        for size in (7, 40, 100):
            before = [[q.full_url for u in c for q in u]
                      for c in chunked(SendLog(old).pending(TARGET), size)]
            after = [[q.full_url for u in c for q in u]
                     for c in pack(SendLog(new).units(TARGET), size)]
            assert after == before
        assert [q.entry for q in SendLog(new).entries(TARGET)] != []
        assert sorted(orjson.dumps(q.entry) for q in SendLog(new).entries(TARGET)) == sorted(
            orjson.dumps(q.entry) for q in SendLog(old).entries(TARGET))
    finally:
        old.close()
        new.close()
