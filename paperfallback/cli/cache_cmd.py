"""``paperfallback cache import|status``: feed the cache and report on it."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from paperfallback.cache.staleness import format_uk
from paperfallback.cli.context import AppContext
from paperfallback.domain.errors import InputError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("cache", help="import an EPR extract or show the cache status")
    cache_sub = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)

    imp = cache_sub.add_parser("import", help="import an EPR extract (all or nothing)")
    imp.add_argument("paths", nargs="+", metavar="PATH", help="extract files or folders")
    imp.add_argument("--as-of", metavar="ISO-8601", help="the extract's 'data as of' time")
    imp.add_argument(
        "--force", action="store_true", help="accept an extract with far fewer patients"
    )
    imp.set_defaults(func=_import)

    status = cache_sub.add_parser("status", help="data-as-of time, age, staleness, counts")
    status.add_argument("--json", action="store_true", help="print JSON for monitoring")
    status.set_defaults(func=_status)


def parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{text!r} is not an ISO 8601 date-time", where="--as-of") from exc
    if moment.tzinfo is None:
        from paperfallback.cache.staleness import UK

        moment = moment.replace(tzinfo=UK)
    return moment


def _import(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.cache.importers import read_extract

    as_of = parse_as_of(args.as_of)
    store = ctx.open_cache()
    source = ", ".join(args.paths)
    try:
        snapshot = read_extract(
            [Path(p) for p in args.paths],
            as_of=as_of,
            hospital_number_systems=ctx.settings.hospital_number_systems,
        )
        result = store.replace_snapshot(
            snapshot, force=args.force, max_drop_share=ctx.settings.max_patient_drop_share
        )
    except Exception as exc:
        store.record_refresh(ok=False, source=source, message=str(exc)[:500])
        raise
    store.record_refresh(ok=True, source=source)
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
    print(f"Imported: {counts}. Data as of {format_uk(result.data_as_of)} "
          f"(from {result.as_of_source}).")
    if result.as_of_source == "import time":
        print("Warning: the extract carries no time of its own; 'data as of' is the import time.")
    for what, count in sorted(result.skipped.items()):
        print(f"Skipped {count} {what}")
    return 0


def _status(ctx: AppContext, args: argparse.Namespace) -> int:
    store = ctx.open_cache()
    status = store.status(stale_minutes=ctx.settings.stale_minutes)
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
        return 0
    if not status.has_snapshot or status.data_as_of is None or status.freshness is None:
        print("No cache yet: run 'paperfallback demo' or 'paperfallback cache import PATH'.")
        return 0
    state = "STALE" if status.is_stale else "fresh"
    print(f"Data as of:  {format_uk(status.data_as_of)} ({status.as_of_source})")
    if status.imported_at:
        print(f"Imported at: {format_uk(status.imported_at)}")
    print(f"Age:         {status.freshness.age_text} ({state}; "
          f"threshold {status.freshness.stale_minutes} minutes)")
    if status.last_refresh_failed:
        print(f"Last refresh FAILED: {status.last_refresh_message}")
    for kind, count in status.counts.items():
        print(f"  {kind:<14} {count}")
    return 0
