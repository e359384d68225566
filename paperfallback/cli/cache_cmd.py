"""``paperfallback cache import|refresh|status``: feed the cache and report on it.

``refresh`` is what Windows Task Scheduler or cron runs every 15 minutes; ``status
--json`` is what monitoring reads (docs/install.md). Both must make failure loud: a
refresh that did not replace the snapshot exits 1, and the status says when the last
successful refresh was and whether the last attempt failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from paperfallback.cache.encrypted_db import probe_folder
from paperfallback.cache.staleness import (
    FUTURE_AS_OF_MESSAGE,
    UNKNOWN_AS_OF_MESSAGE,
    as_of_is_known,
    format_uk,
    utc_now,
)
from paperfallback.cache.store import CacheStatus, CacheStore
from paperfallback.cli.context import AppContext
from paperfallback.domain.errors import CacheError, ImportRefused, InputError
from paperfallback.logs import redact

log = logging.getLogger(__name__)
DEFAULT_REFRESH_ALERT_MINUTES = 120  # sites raise a ticket when no data arrived for 2 hours


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

    refresh = cache_sub.add_parser(
        "refresh",
        help="import the newest extract from a drop folder or a FHIR Bulk Data server",
        description="Import the newest complete extract from SOURCE, keeping the current "
        "snapshot if it is missing, partial or corrupt. Exit 1 when the snapshot was not "
        "replaced and the cache is stale, or on any error (for Task Scheduler / cron).",
    )
    refresh.add_argument(
        "--from", dest="source", metavar="SOURCE",
        help="a drop folder or an http(s) FHIR Bulk Data endpoint "
        "(default: refresh_source in settings.json)",
    )
    refresh.add_argument(
        "--force", action="store_true",
        help="accept an extract with far fewer patients, or older than the cache",
    )
    refresh.add_argument(
        "--timeout-minutes", type=float, metavar="N",
        help="give up on a Bulk Data export after N minutes (default 10)",
    )
    smart = refresh.add_argument_group(
        "SMART Backend Services (override the refresh_* settings)")
    smart.add_argument("--client-id", metavar="ID",
                       help="client id the EPR registered for this PC (refresh_client_id)")
    smart.add_argument("--private-key", metavar="FILE",
                       help="this PC's private key, PEM or JWKS, private to this user "
                       "(refresh_private_key)")
    smart.add_argument("--key-id", metavar="KID",
                       help="the key id (kid) registered with the EPR (refresh_key_id)")
    smart.add_argument("--scope", metavar="SCOPE",
                       help="scope to ask for (refresh_scope, default system/*.read)")
    refresh.set_defaults(func=_refresh)

    jwks = cache_sub.add_parser(
        "jwks", help="print the public JWKS of the refresh private key, for the EPR to register",
        description="Print the public half of this PC's SMART Backend Services key as a JWKS "
        "(never the private key), for IT to register with the EPR.",
    )
    jwks.add_argument("--private-key", metavar="FILE",
                      help="PEM or JWKS private key (default: refresh_private_key)")
    jwks.add_argument("--key-id", metavar="KID", help="key id (default: refresh_key_id)")
    jwks.set_defaults(func=_jwks)

    status = cache_sub.add_parser("status", help="data-as-of time, age, staleness, counts")
    status.add_argument("--json", action="store_true", help="print JSON for monitoring")
    status.add_argument(
        "--check", action="store_true",
        help="exit 1 when anything needs attention (stale, refresh failed or overdue)",
    )
    status.add_argument(
        "--refresh-alert-minutes", type=int, default=DEFAULT_REFRESH_ALERT_MINUTES,
        metavar="N",
        help="a refresh is overdue when the last success is older than N minutes "
        f"(default {DEFAULT_REFRESH_ALERT_MINUTES})",
    )
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
    from paperfallback.cache.importers.as_of import AS_OF_OPTION, check_not_future

    try:  # the core's rule; the flag's name is the CLI's to add
        check_not_future(moment, AS_OF_OPTION)
    except InputError as exc:
        raise InputError(str(exc), where="--as-of") from exc
    return moment


def _import(ctx: AppContext, args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)
    store = ctx.open_cache(write=True)
    source = ", ".join(args.paths)
    try:  # streamed into the cache a batch at a time (memory does not grow with it)
        result = store.import_extract(
            [Path(p) for p in args.paths], as_of=as_of,
            hospital_number_systems=ctx.settings.hospital_number_systems,
            force=args.force, max_drop_share=ctx.settings.max_patient_drop_share,
        )
    except Exception as exc:
        store.record_refresh(ok=False, source=source, message=redact(str(exc))[:500])
        log.error("import from %s FAILED: %s", source, exc)
        if isinstance(exc, ImportRefused):  # the core names no flag; the CLI's is --force
            raise ImportRefused(f"{exc} Use --force to import it anyway.") from exc
        raise
    store.record_refresh(ok=True, source=source)
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
    log.info("import from %s ok: %s; data as of %s", source, counts,
             result.data_as_of.isoformat())
    if as_of_is_known(result.as_of_source):
        print(f"Imported: {counts}. Data as of {format_uk(result.data_as_of)} "
              f"(from {result.as_of_source}).")
    else:
        print(f"Imported: {counts}. Data as of: not known — the extract carries no time of "
              "its own, so the cache shows as STALE. Give the time the EPR produced it with "
              "--as-of.")
    for what, count in sorted(result.skipped.items()):
        print(f"Skipped {count} {what}")
    return 0


def _refresh(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.cache.refresh import RefreshOptions, refresh_cache

    source = args.source or ctx.settings.refresh_source
    if not source:
        raise InputError(
            "no source: give --from FOLDER or --from https://.../$export, or set "
            "refresh_source in settings.json", where="--from",
        )
    overrides: dict[str, Any] = {}
    if args.timeout_minutes is not None:
        if args.timeout_minutes <= 0:
            raise InputError("must be a positive number of minutes", where="--timeout-minutes")
        overrides["deadline_s"] = args.timeout_minutes * 60
    for name in ("client_id", "private_key", "key_id", "scope"):
        if getattr(args, name, None):
            overrides[name] = getattr(args, name)
    options = RefreshOptions.from_settings(ctx.settings, force=args.force, **overrides)
    store = ctx.open_cache(write=True)
    report = refresh_cache(
        store, source, data_dir=ctx.data_dir, settings=ctx.settings, options=options
    )
    if report.result is None:
        print(f"Nothing new: {report.message}.")
        return 0
    result = report.result
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
    print(f"Refreshed from {report.source} ({report.extract}): {counts}. "
          f"Data as of {format_uk(result.data_as_of)}.")
    return 0


def _jwks(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.fhirclient.private_key import load_private_key, public_jwks

    path = args.private_key or ctx.settings.refresh_private_key
    if not path:
        raise InputError("no key file: give --private-key or set refresh_private_key",
                         where="--private-key")
    key = load_private_key(Path(path), args.key_id or ctx.settings.refresh_key_id)
    print(json.dumps(public_jwks(key), indent=2))
    return 0


def health_problems(
    status: CacheStatus, *, refresh_alert_minutes: int = DEFAULT_REFRESH_ALERT_MINUTES,
    now: datetime | None = None,
) -> list[str]:
    """Plain-English reasons monitoring should raise a ticket; empty when all is well."""
    now = now or utc_now()
    problems: list[str] = []
    if status.is_damaged:
        problems.append(status.damage)
    elif not status.has_snapshot:
        problems.append("no cache has been imported")
    elif status.freshness is not None and not status.freshness.known:
        problems.append(UNKNOWN_AS_OF_MESSAGE)
    elif status.freshness is not None and status.freshness.is_future:
        problems.append(FUTURE_AS_OF_MESSAGE)
    elif status.is_stale and status.freshness is not None:
        problems.append(
            f"the data is {status.freshness.age_text} old "
            f"(stale after {status.freshness.stale_minutes} minutes)"
        )
    if status.last_refresh_failed:
        problems.append("the last refresh attempt failed")
    last_ok = status.last_refresh_ok_at
    if last_ok is None:
        problems.append("no refresh has ever succeeded")
    elif now - last_ok > timedelta(minutes=refresh_alert_minutes):
        problems.append(f"no successful refresh for more than {refresh_alert_minutes} minutes")
    return problems


def ward_problems(store: CacheStore, setting: str) -> list[str]:
    """This PC's ward setting names no ward of the data: the app opens on no ward (and the
    nurse must choose), so monitoring should know before an outage (paperfallback.cache.wards)."""
    from paperfallback.cache.wards import UnknownWard, home_ward

    try:
        home_ward(setting, store.wards())
    except UnknownWard as exc:
        return [str(exc)]
    except CacheError:
        return []  # a damaged cache is reported by its own problem line
    return []


def _status(ctx: AppContext, args: argparse.Namespace) -> int:
    now = utc_now()
    try:
        store = ctx.open_cache()
    except CacheError as exc:
        if not args.json:
            raise
        # Monitoring parses stdout: a wrong key or unreadable file is still a JSON object.
        kind = getattr(exc, "fault", "unreadable")
        print(json.dumps({
            "error": str(exc), "needs_attention": True, "problems": [str(exc)],
            "has_snapshot": False, "checked_at": now.isoformat(),
            "site_code": ctx.settings.site_code, "ward": ctx.settings.ward or None,
            "pc_id": ctx.settings.pc_id, "damaged": kind == "damaged",
            "damage": str(exc) if kind == "damaged" else None,
            "fault": kind, "fault_message": str(exc),
        }, indent=2))
        return 1
    status = store.status(stale_minutes=ctx.settings.stale_minutes, now=now, verify=True)
    folder_fault = None if status.fault else probe_folder(ctx.data_dir)
    if folder_fault is not None:  # readable, but nothing can be saved here: say so
        status = dataclasses.replace(status, fault=folder_fault.fault,
                                     fault_message=str(folder_fault))
    problems = health_problems(status, refresh_alert_minutes=args.refresh_alert_minutes, now=now)
    if folder_fault is not None:
        problems.append(str(folder_fault))
    problems += ward_problems(store, ctx.settings.ward) if status.has_snapshot else []
    exit_code = 1 if (args.check and problems) or status.is_damaged else 0
    if args.json:
        data = status.to_json()
        last_ok = status.last_refresh_ok_at
        data.update({
            "checked_at": now.isoformat(),
            "minutes_since_last_successful_refresh": (
                round((now - last_ok).total_seconds() / 60, 1) if last_ok else None
            ),
            "refresh_alert_minutes": args.refresh_alert_minutes,
            "needs_attention": bool(problems),
            "problems": problems,
            "site_code": ctx.settings.site_code,
            "ward": ctx.settings.ward or None,
            "pc_id": ctx.settings.pc_id,
        })
        print(json.dumps(data, indent=2))
        return exit_code
    if status.is_damaged:
        print(f"CACHE FILE DAMAGED: {status.damage}")
        return exit_code
    if not status.has_snapshot or status.data_as_of is None or status.freshness is None:
        print("No cache yet: run 'paperfallback demo' or 'paperfallback cache import PATH'.")
        return exit_code
    state = "STALE" if status.is_stale else "fresh"
    if status.data_as_of_known:
        print(f"Data as of:  {format_uk(status.data_as_of)} ({status.as_of_source})")
    else:
        print("Data as of:  NOT KNOWN (the extract carried no time of its own)")
    if status.imported_at:
        print(f"Imported at: {format_uk(status.imported_at)}")
    print(f"Age:         {status.freshness.age_text} ({state}; "
          f"threshold {status.freshness.stale_minutes} minutes)")
    if status.last_refresh_ok_at:
        print(f"Last successful refresh: {format_uk(status.last_refresh_ok_at)}")
    if status.last_refresh_failed:
        when = format_uk(status.last_refresh_attempt_at) if status.last_refresh_attempt_at else ""
        print(f"Last refresh FAILED {when}: {status.last_refresh_message}")
    for problem in problems:
        print(f"Needs attention: {problem}")
    for kind, count in status.counts.items():
        print(f"  {kind:<14} {count}")
    return exit_code
