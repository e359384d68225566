"""The bulk-data-client's log.ndjson: recognised by content, not by name alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperfallback.cache.importers.client_log import (
    is_client_log,
    log_is_complete,
    read_client_log,
)
from paperfallback.domain.errors import InputError


def _log(path: Path, *events: tuple[str, dict[str, object]]) -> Path:
    path.write_text("".join(
        json.dumps({"exportId": "e1", "timestamp": "2026-11-24T06:00:00Z", "eventId": name,
                    "eventDetail": detail}) + "\n"
        for name, detail in events), encoding="utf-8")
    return path


def test_a_fhir_file_called_log_ndjson_is_not_a_client_log(tmp_path: Path) -> None:
    fhir = tmp_path / "log.ndjson"
    fhir.write_text('{"resourceType": "Patient", "id": "p"}\n', encoding="utf-8")
    assert not is_client_log(fhir)


def test_complete_log_gives_the_transaction_time(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.ndjson", ("kickoff", {}),
               ("status_complete", {"transactionTime": "2026-11-24T06:00:00Z"}),
               ("export_complete", {}))
    assert is_client_log(log) and log_is_complete(log)
    assert read_client_log(log) == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("events, message", [
    ((("kickoff", {}), ("status_complete", {"transactionTime": "2026-11-24T06:00:00Z"})),
     "no export_complete"),
    ((("kickoff", {}), ("export_complete", {})), "no transactionTime"),
    ((("status_complete", {"transactionTime": "2026-11-24T06:00:00Z"}),
      ("download_error", {"fileUrl": "x"}), ("export_complete", {})), "download_error"),
])
def test_an_unfinished_or_failed_export_is_refused(
    tmp_path: Path, events: tuple[tuple[str, dict[str, object]], ...], message: str
) -> None:
    log = _log(tmp_path / "log.ndjson", *events)
    with pytest.raises(InputError, match=message):
        read_client_log(log)
