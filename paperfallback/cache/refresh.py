"""Scheduled cache refresh from a drop folder or a FHIR Bulk Data server.

``paperfallback cache refresh --from SOURCE`` runs every 15 minutes from Windows Task
Scheduler or cron. It must never make things worse: whatever goes wrong (nothing new,
a half-written drop, a corrupt file, a server error, a timeout) the previous snapshot
stays, the attempt is recorded for ``cache status --json`` and the command exits non-zero
so monitoring notices. The all-or-nothing replacement and the partial-extract guard are
the store's (``CacheStore.import_extract``, streamed); this module only fetches and decides.

Drop-folder convention (docs/install.md, "Scheduled refresh"): the integration engine
writes each extract into its own subfolder of SOURCE and, when every file is complete,
writes the completion marker last: ``manifest.json`` (a FHIR Bulk Data manifest, whose
file list the importer checks) or, for CSV/xlsx extracts, an empty file ``READY``. A
folder written by the SMART bulk-data-client is complete when its ``log.ndjson`` records
``export_complete`` (the client writes that event last).
Write the marker under a temporary name and rename it, so it appears whole. Subfolders
without a marker, or whose name starts with ``.`` or ``_`` or ends with ``.tmp`` or
``.partial``, are being written and are never read. The newest complete drop (by its
marker's modification time) is imported; older drops are left for the engine to prune.

FHIR Bulk Data: ``paperfallback.fhirclient.bulk_export`` runs the export (kick-off,
poll, manifest, streamed downloads, all hardened) into a private temporary folder inside
the data folder; this module imports it and deletes it. Authorisation: SMART Backend
Services when ``refresh_client_id`` is set (or ``--client-id``), else a static bearer
token from the environment (``refresh_token_env``) or settings.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paperfallback.cache.importers.client_log import LOG_NAME, is_client_log, log_is_complete
from paperfallback.cache.leftovers import in_use
from paperfallback.cache.staleness import format_uk
from paperfallback.cache.store import CacheStore, ImportResult
from paperfallback.domain.errors import CacheError, PaperFallbackError
from paperfallback.fhirclient.bulk_export import (
    DEFAULT_MIN_POLL_S,
    BulkDataClient,
    export_url,
    fhir_base,
)
from paperfallback.fhirclient.safe_http import check_scheme, describe
from paperfallback.fhirclient.smart_auth import (
    DEFAULT_SCOPE,
    Authorizer,
    SmartBackendAuth,
    StaticBearerAuth,
)
from paperfallback.logs import redact
from paperfallback.settings import Settings

log = logging.getLogger(__name__)

DROP_MARKERS = ("manifest.json", "READY")
TEMP_FOLDER = "refresh-tmp"
AS_OF_DROP_MARKER = "drop marker time"
TOKEN_ENV = "PAPERFALLBACK_REFRESH_TOKEN"
__all__ = ["RefreshFailed", "RefreshOptions", "SmartClient", "export_url", "refresh_cache"]


class RefreshFailed(CacheError):
    """A refresh did not replace the snapshot; the previous one is still in use."""


@dataclass(frozen=True, slots=True)
class SmartClient:
    """Who this PC is to the EPR under SMART Backend Services (settings ``refresh_*``)."""

    client_id: str
    private_key: str  # path of a PEM or JWKS file, private to this user
    key_id: str = ""
    scope: str = DEFAULT_SCOPE

    def authorizer(self, source: str) -> SmartBackendAuth:
        return SmartBackendAuth(fhir_base(source), self.client_id, self.private_key,
                                self.key_id, self.scope)


@dataclass(frozen=True, slots=True)
class RefreshOptions:
    """How patient to be with a server, and who we are to it."""

    bearer_token: str | None = None
    smart: SmartClient | None = None  # wins over bearer_token when set
    auth: Authorizer | None = field(default=None, repr=False)  # wins over both (tests)
    request_timeout_s: float = 60.0
    deadline_s: float = 600.0  # the whole export; shorter than the 15-minute schedule
    min_poll_s: float = DEFAULT_MIN_POLL_S
    max_download_bytes: int = 2048 * 1_000_000
    force: bool = False  # accept a fall in patient count, or an extract older than the cache
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RefreshOptions:
        """Options from settings.json: ``refresh_timeout_minutes``, ``refresh_max_download_mb``;
        SMART Backend Services from ``refresh_client_id``, ``refresh_private_key``,
        ``refresh_key_id``, ``refresh_scope``; else a bearer token from the environment
        variable named by ``refresh_token_env`` (default PAPERFALLBACK_REFRESH_TOKEN) or
        ``refresh_token`` (discouraged: plaintext). ``overrides`` (the command line) win;
        ``client_id``, ``private_key``, ``key_id`` and ``scope`` override the SMART keys."""
        names = ("client_id", "private_key", "key_id", "scope")
        smart_keys: dict[str, Any] = {k: overrides.pop(k) for k in names if k in overrides}
        env_name = settings.refresh_token_env or TOKEN_ENV
        token = os.environ.get(env_name) or settings.refresh_token or None
        minutes = settings.refresh_timeout_minutes
        if minutes <= 0:
            raise CacheError("setting 'refresh_timeout_minutes' must be a positive number")
        if settings.refresh_max_download_mb <= 0:
            raise CacheError("setting 'refresh_max_download_mb' must be a positive number")
        values: dict[str, Any] = {
            "bearer_token": token, "deadline_s": float(minutes) * 60,
            "smart": _smart_client(settings, smart_keys),
            "max_download_bytes": settings.refresh_max_download_mb * 1_000_000,
        }
        values.update(overrides)
        return cls(**values)

    def authorizer(self, source: str) -> Authorizer | None:
        """SMART Backend Services if configured, else the static token, else none."""
        if self.auth is not None:
            return self.auth
        if self.smart is not None:
            return self.smart.authorizer(source)
        if self.bearer_token:
            return StaticBearerAuth(source, self.bearer_token)
        return None


def _smart_client(settings: Settings, given: dict[str, Any]) -> SmartClient | None:
    client_id = given.get("client_id") or settings.refresh_client_id
    private_key = given.get("private_key") or settings.refresh_private_key
    if not client_id and not private_key:
        return None
    if not client_id or not private_key:
        missing = "client id (refresh_client_id, --client-id)" if not client_id else (
            "private key file (refresh_private_key, --private-key)")
        raise CacheError(f"SMART Backend Services needs a {missing} as well")
    return SmartClient(
        client_id, str(private_key), given.get("key_id") or settings.refresh_key_id,
        given.get("scope") or settings.refresh_scope or DEFAULT_SCOPE,
    )


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did, for the CLI to print (no patient data)."""

    source: str  # the source as recorded (no query string, no credentials)
    extract: str  # which drop or which export
    result: ImportResult | None  # None: nothing newer than the cache, nothing imported
    message: str




def describe_source(source: str) -> str:
    """The source as it may be logged: a URL without credentials or query string."""
    return describe(source) if _is_url(source) else str(Path(source))


def refresh_cache(
    store: CacheStore,
    source: str,
    *,
    data_dir: Path,
    settings: Settings,
    options: RefreshOptions | None = None,
) -> RefreshReport:
    """Fetch the newest extract from ``source`` and replace the snapshot with it.

    Every attempt is recorded with ``store.record_refresh``. Raises RefreshFailed (after
    recording it) when the snapshot was not replaced and the cache is now stale, or on any
    error; the previous snapshot is then untouched.
    """
    options = options or RefreshOptions.from_settings(settings)
    label = describe_source(source)
    log.info("refresh started from %s", label)
    try:
        if "://" in source and not _is_url(source):  # ftp:, file: ... are not folders either
            check_scheme(source, "refresh source")
        if _is_url(source):
            report = _refresh_from_server(store, source, label, data_dir, settings, options)
        else:
            report = _refresh_from_folder(store, Path(source), label, settings, options)
    except Exception as exc:
        message = _failure_message(exc)
        store.record_refresh(ok=False, source=label, message=message)
        log.error("refresh from %s FAILED: %s", label, message)
        if isinstance(exc, RefreshFailed):
            raise
        raise RefreshFailed(f"refresh from {label} failed: {message}") from exc
    store.record_refresh(ok=True, source=label, message=report.message)
    log.info("refresh from %s ok: %s", label, report.message)
    return report


def _failure_message(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, PaperFallbackError | OSError) else (
        f"{type(exc).__name__}: {exc}"
    )
    return redact(text)[:500]


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


# ---- import, shared by both sources ------------------------------------------------------


class _NotNewer(Exception):
    """Raised inside the import's transaction (rolled back) when the extract is not newer."""

    def __init__(self, report: RefreshReport) -> None:
        super().__init__(report.message)
        self.report = report


def _import(
    store: CacheStore,
    paths: list[Path],
    extract: str,
    label: str,
    settings: Settings,
    options: RefreshOptions,
    undated: tuple[datetime, str] | None = None,
) -> RefreshReport:
    """Replace the snapshot unless the extract is not newer than what the cache holds.

    Nothing newer is success while the cache is fresh (the engine drops less often than
    we look) and failure once it is stale (the feed has stopped: someone must look).
    The extract is streamed into the cache (``CacheStore.import_extract``); whether it is
    newer is asked as soon as its time is known, before its records are resolved.
    ``undated``: the time (and its source) of an extract that carries none of its own.
    """
    current = store.status(stale_minutes=settings.stale_minutes, verify=True)

    def accept(data_as_of: datetime) -> None:
        if (
            not options.force
            and current.data_as_of_known  # an unknown time is no reason to keep the cache
            and current.data_as_of is not None
            and data_as_of <= current.data_as_of
        ):
            newest = f"the newest extract ({extract}) is from {format_uk(data_as_of)}"
            if current.is_stale:
                age = current.freshness.age_text if current.freshness else "unknown"
                raise RefreshFailed(
                    f"no new extract: {newest}, and the cache is {age} old (stale); check "
                    "that the integration engine is still sending extracts"
                )
            raise _NotNewer(RefreshReport(label, extract, None,
                                          f"no new extract ({newest}); cache kept"))

    try:
        result = store.import_extract(
            paths, hospital_number_systems=settings.hospital_number_systems,
            force=options.force, max_drop_share=settings.max_patient_drop_share,
            accept=accept, undated=undated)
    except _NotNewer as kept:
        return kept.report
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
    message = f"imported {extract}: {counts}; data as of {result.data_as_of.isoformat()}"
    return RefreshReport(label, extract, result, message)


# ---- drop folder ---------------------------------------------------------------------------


def newest_drop(source: Path) -> Path:
    """The newest complete drop in ``source`` (see the module docstring for the convention)."""
    if not source.is_dir():
        raise RefreshFailed(f"the refresh folder {source} does not exist or is not a folder")
    complete: list[tuple[float, str, Path]] = []
    incomplete = 0
    for child in source.iterdir():
        if not child.is_dir():
            continue
        name = child.name
        if name.startswith((".", "_")) or name.endswith((".tmp", ".partial")):
            incomplete += 1
            continue
        markers = _markers(child)
        if not markers:
            incomplete += 1
            continue
        complete.append((max(m.stat().st_mtime for m in markers), name, child))
    if not complete:
        hint = f" ({incomplete} still being written)" if incomplete else ""
        if any((source / m).is_file() for m in DROP_MARKERS):
            hint += (
                "; the extract is directly in the folder, but each extract must be in its "
                "own subfolder"
            )
        raise RefreshFailed(
            f"no complete extract in {source}{hint}: each extract must be a subfolder with "
            "manifest.json or READY written last, or a bulk-data-client log.ndjson that "
            "records export_complete (see docs/install.md)"
        )
    return max(complete)[2]


def _refresh_from_folder(
    store: CacheStore,
    source: Path,
    label: str,
    settings: Settings,
    options: RefreshOptions,
) -> RefreshReport:
    drop = newest_drop(source)
    # An extract with no time of its own (a CSV drop, say) is as old as its drop, not as
    # new as this import: otherwise a feed stuck on one drop would look fresh forever.
    return _import(store, [drop], f"drop {drop.name}", label, settings, options,
                   undated=(drop_completed_at(drop), AS_OF_DROP_MARKER))


def drop_completed_at(drop: Path) -> datetime:
    """When the engine finished the drop: its newest completion marker's modification time."""
    return datetime.fromtimestamp(max(m.stat().st_mtime for m in _markers(drop)), UTC)


def _markers(drop: Path) -> list[Path]:
    """The completion markers present in a drop (a client log counts once it is complete)."""
    markers = [drop / m for m in DROP_MARKERS if (drop / m).is_file()]
    log_file = drop / LOG_NAME
    if is_client_log(log_file) and log_is_complete(log_file):
        markers.append(log_file)
    return markers


# ---- FHIR Bulk Data ------------------------------------------------------------------------


def _refresh_from_server(
    store: CacheStore,
    url: str,
    label: str,
    data_dir: Path,
    settings: Settings,
    options: RefreshOptions,
) -> RefreshReport:
    client = BulkDataClient(
        options.authorizer(url), request_timeout_s=options.request_timeout_s,
        deadline_s=options.deadline_s, min_poll_s=options.min_poll_s,
        max_download_bytes=options.max_download_bytes, sleep=options.sleep,
        clock=options.clock,
    )
    with private_temp_folder(data_dir) as folder:
        manifest = client.export(url, folder)
        when = manifest.get("transactionTime", "unknown time")
        return _import(store, [folder], f"Bulk Data export of {when}", label, settings,
                       options)


@contextmanager
def private_temp_folder(
    data_dir: Path, *, prefix: str = "export-", leftover_age_s: float = 6 * 3600
) -> Iterator[Path]:
    """A folder for downloaded patient data, readable only by this user, always deleted.

    It lives inside the data folder (already private to the PC's user, and on the same
    disk as the cache) rather than in the shared system temp folder. Leftovers of a
    killed run are removed by the next run.
    """
    parent = data_dir / TEMP_FOLDER
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - leftover_age_s
    for old in parent.iterdir():
        if old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))  # mode 0700
    try:
        with in_use(path):  # a live download: the start-up cleanup leaves it alone
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
