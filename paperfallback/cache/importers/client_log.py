"""The SMART ``bulk-data-client``'s ``log.ndjson``: recognised, skipped, and its time used.

The standard Bulk Data client (github.com/smart-on-fhir/bulk-data-client) writes its NDJSON
files and a ``log.ndjson`` of events beside them, and no ``manifest.json``. Each line is
``{"exportId", "timestamp", "eventId", "eventDetail"}``; ``status_complete`` (and
``manifest_complete``) carry the server's ``eventDetail.transactionTime`` — the time the
data was true, which becomes the data-as-of — and ``export_complete`` is written last,
when every file is on disk. A log without ``export_complete``, or with download or status
errors, belongs to an export that did not finish: its files may be partial, so it is refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from paperfallback.cache.importers.as_of import parse_datetime
from paperfallback.cache.importers.json_text import parse_json
from paperfallback.domain.errors import InputError

LOG_NAME = "log.ndjson"
COMPLETE_EVENT = "export_complete"
_TIME_EVENTS = ("status_complete", "manifest_complete")
_ERROR_EVENTS = ("status_error", "download_error")
_MAX_LOG_BYTES = 20_000_000


def is_client_log(path: Path) -> bool:
    """A ``log.ndjson`` whose first line is a client event (``eventId`` and ``exportId``,
    no ``resourceType``), not a FHIR NDJSON file that happens to have that name."""
    if path.name.lower() != LOG_NAME or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8-sig") as handle:
            first = handle.readline(1_000_000)
        event = parse_json(first, str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, InputError):
        return False
    return _is_event(event)


def _is_event(event: object) -> bool:
    return (isinstance(event, dict) and "resourceType" not in event
            and "eventId" in event and "exportId" in event)


def log_is_complete(path: Path) -> bool:
    """True when the client has written ``export_complete``: the drop is whole."""
    try:
        return any(event.get("eventId") == COMPLETE_EVENT for event in _events(path))
    except InputError:
        return False


def read_client_log(path: Path) -> datetime:
    """The export's transactionTime from a complete client log; InputError otherwise."""
    time: datetime | None = None
    complete = False
    for lineno, event in enumerate(_events(path), start=1):
        event_id = event.get("eventId")
        if event_id in _ERROR_EVENTS:
            raise InputError(
                f"the bulk-data-client log records a {event_id} event: the export did not "
                "complete and its files may be partial",
                where=f"{path}:{lineno}",
            )
        if event_id == COMPLETE_EVENT:
            complete = True
        detail = event.get("eventDetail")
        if event_id in _TIME_EVENTS and isinstance(detail, dict) and "transactionTime" in detail:
            moment = parse_datetime(detail["transactionTime"],
                                    field_name="eventDetail.transactionTime",
                                    where=f"{path}:{lineno}")
            time = moment if time is None else min(time, moment)
    if not complete or time is None:
        missing = f"no {COMPLETE_EVENT} event" if not complete else "no transactionTime"
        raise InputError(
            f"the bulk-data-client log has {missing}: the export did not complete (or the "
            "client is still writing it), so nothing was imported",
            where=str(path),
        )
    return time


def _events(path: Path) -> list[dict[str, object]]:
    if path.stat().st_size > _MAX_LOG_BYTES:
        raise InputError("the bulk-data-client log is implausibly large", where=str(path))
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", where=str(path)) from exc
    events: list[dict[str, object]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = parse_json(line, f"{path}:{lineno}")
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", where=f"{path}:{lineno}") from exc
        if not _is_event(event):
            raise InputError("not a bulk-data-client log event", where=f"{path}:{lineno}")
        events.append(event)
    return events
