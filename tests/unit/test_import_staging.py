"""The import's staging (issue 15: the streamed import's CPU cost): first places found
whether written yet or still pending, hash collisions told apart, the filter sparing the
scratch file a look-up for keys never seen, and rows kept as columns coming back exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from paperfallback.cache.importers import staging as staging_module
from paperfallback.cache.importers.fhir_files import Where
from paperfallback.cache.importers.staging import Staging


class SameHash(str):
    """A key whose hash collides with every other SameHash key."""

    __slots__ = ()

    def __hash__(self) -> int:
        return 12345


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Staging]:
    staging = Staging.scratch(tmp_path, sole=True)
    yield staging
    staging.close()


def _lookups(staging: Staging) -> list[str]:
    asked: list[str] = []
    staging.conn.set_trace_callback(
        lambda sql: asked.append(sql) if "FROM stage_seen" in sql else None)
    return asked


def test_first_places_found_pending_and_written(
        scratch: Staging, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging_module, "SEEN_BATCH", 50)  # some written, some pending
    keys = [f"Observation/o{i}" for i in range(120)]
    for start in range(0, 120, 40):  # as batches of resources are read
        chunk = keys[start:start + 40]
        scratch.first_places(chunk)
        scratch.seen([(k, Where("/x/Observation.ndjson", start + i + 1))
                      for i, k in enumerate(chunk)])
    assert len(scratch._seen_rows) == 40  # the last batch still waits to be written
    again = ["Observation/o3", "Observation/o119", "Observation/new"]
    found = scratch.first_places(again)
    assert {k: (w.file, w.line) for k, w in found.items()} == {
        "Observation/o3": ("/x/Observation.ndjson", 4),
        "Observation/o119": ("/x/Observation.ndjson", 120)}
    bundle = Where("/x/bundle.json", entry=7)
    scratch.first_places(["Patient/b"])
    scratch.seen([("Patient/b", bundle)])
    assert scratch.first_places(["Patient/b"])["Patient/b"].entry == 7


def test_keys_with_one_hash_are_told_apart(scratch: Staging) -> None:
    first, second = SameHash("Patient/a"), SameHash("Patient/b")
    scratch.first_places([first])
    scratch.seen([(first, Where("f.ndjson", 1))])
    assert scratch.first_places([second]) == {}  # same hash, another key: not seen
    scratch.seen([(second, Where("f.ndjson", 2))])
    assert scratch.first_places([first])[first].line == 1
    assert scratch.first_places([second])[second].line == 2


def test_keys_never_seen_are_not_looked_up(scratch: Staging) -> None:
    seen = [f"Patient/p{i}" for i in range(2000)]
    scratch.first_places(seen)
    scratch.seen([(k, Where("Patient.ndjson", i + 1)) for i, k in enumerate(seen)])
    asked = _lookups(scratch)
    assert scratch.first_places([f"Patient/q{i}" for i in range(2000)]) == {}
    assert asked == []  # the filter answered "never seen" for every one
    assert scratch.first_places(["Patient/p5"])["Patient/p5"].line == 6
    assert asked  # a key seen before is looked up


def test_rows_come_back_exactly_in_order(scratch: Staging) -> None:
    plus_one = timezone(timedelta(hours=1))
    rows = [
        ("o1", "p1", "heart_rate", datetime(2026, 1, 14, 9, 30, tzinfo=UTC).isoformat(),
         72, "", "/min", None),
        ("o2", "p1", "temperature", datetime(2026, 1, 14, 9, 31, 5, 250,
                                             tzinfo=plus_one).isoformat(),
         37.25, "", "Cel", datetime(2026, 1, 14, 9, 40, tzinfo=UTC).isoformat()),
        ("o3", "p2", "acvpu", "2026-01-14T09:32:00+00:00", None, "Alert", "", None),
    ]
    for row in rows:
        scratch.put_row("observation", row[0], row)
    scratch.put_row("observation", "o1", rows[0])  # a repeat keeps its first place
    back = [r for batch in scratch.row_batches("observation") for r in batch]
    assert back == rows
    assert [type(r[4]) for r in back] == [int, float, type(None)]
    assert datetime.fromisoformat(back[1][3]).utcoffset() == timedelta(hours=1)
