"""Scheduled cache refresh from a drop folder or a FHIR Bulk Data server.

``paperfallback cache refresh --from SOURCE`` runs every 15 minutes from Windows Task
Scheduler or cron. It must never make things worse: whatever goes wrong (nothing new,
a half-written drop, a corrupt file, a server error, a timeout) the previous snapshot
stays, the attempt is recorded for ``cache status --json`` and the command exits non-zero
so monitoring notices. The all-or-nothing replacement and the partial-extract guard are
the store's (``CacheStore.replace_snapshot``); this module only fetches and decides.

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

FHIR Bulk Data (HL7 FHIR Bulk Data Access 2.0, "Bulk Data Export"): kick-off with
``Prefer: respond-async`` (202 + Content-Location), poll the status URL honouring
Retry-After until 200 + the manifest, download every output file into a private
temporary folder inside the data folder, import it, delete it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperfallback.cache.importers.client_log import LOG_NAME, is_client_log, log_is_complete
from paperfallback.cache.staleness import format_uk, utc_now
from paperfallback.cache.store import CacheStore, ImportResult
from paperfallback.domain.errors import CacheError, PaperFallbackError
from paperfallback.domain.records import Snapshot
from paperfallback.logs import redact
from paperfallback.settings import Settings

log = logging.getLogger(__name__)

DROP_MARKERS = ("manifest.json", "READY")
TEMP_FOLDER = "refresh-tmp"
AS_OF_DROP_MARKER = "drop marker time"
TOKEN_ENV = "PAPERFALLBACK_REFRESH_TOKEN"
_DOWNLOAD_CHUNK_BYTES = 64 * 1024
_DEFAULT_RETRY_AFTER_S = 10.0
_MAX_RETRY_AFTER_S = 120.0
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")


class RefreshFailed(CacheError):
    """A refresh did not replace the snapshot; the previous one is still in use."""


@dataclass(frozen=True, slots=True)
class RefreshOptions:
    """How patient to be with a server, and who we are to it."""

    bearer_token: str | None = None
    request_timeout_s: float = 60.0
    deadline_s: float = 600.0  # the whole export; shorter than the 15-minute schedule
    force: bool = False  # accept a fall in patient count, or an extract older than the cache
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RefreshOptions:
        """Options from settings.json keys ``refresh_timeout_minutes``,
        ``refresh_token_env`` (name of the environment variable holding the bearer token,
        default PAPERFALLBACK_REFRESH_TOKEN) and ``refresh_token`` (discouraged: plaintext)."""
        env_name = settings.refresh_token_env or TOKEN_ENV
        token = os.environ.get(env_name) or settings.refresh_token or None
        minutes = settings.refresh_timeout_minutes
        if minutes <= 0:
            raise CacheError("setting 'refresh_timeout_minutes' must be a positive number")
        values: dict[str, Any] = {"bearer_token": token, "deadline_s": float(minutes) * 60}
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did, for the CLI to print (no patient data)."""

    source: str  # the source as recorded (no query string, no credentials)
    extract: str  # which drop or which export
    result: ImportResult | None  # None: nothing newer than the cache, nothing imported
    message: str


ReadExtract = Callable[[list[Path]], Snapshot]


def describe_source(source: str) -> str:
    """The source as it may be logged: a URL without credentials or query string."""
    if _is_url(source):
        parts = urllib.parse.urlsplit(source)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
    return str(Path(source))


def refresh_cache(
    store: CacheStore,
    source: str,
    *,
    data_dir: Path,
    settings: Settings,
    options: RefreshOptions | None = None,
    read_extract: ReadExtract | None = None,
) -> RefreshReport:
    """Fetch the newest extract from ``source`` and replace the snapshot with it.

    Every attempt is recorded with ``store.record_refresh``. Raises RefreshFailed (after
    recording it) when the snapshot was not replaced and the cache is now stale, or on any
    error; the previous snapshot is then untouched.
    """
    options = options or RefreshOptions.from_settings(settings)
    label = describe_source(source)
    reader = read_extract or _default_reader(settings)
    log.info("refresh started from %s", label)
    try:
        if _is_url(source):
            report = _refresh_from_server(store, source, label, data_dir, settings, options,
                                          reader)
        else:
            report = _refresh_from_folder(store, Path(source), label, settings, options, reader)
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


def _default_reader(settings: Settings) -> ReadExtract:
    def read(paths: list[Path]) -> Snapshot:
        from paperfallback.cache.importers import read_extract

        snapshot: Snapshot = read_extract(
            paths, hospital_number_systems=settings.hospital_number_systems
        )
        return snapshot

    return read


def _failure_message(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, PaperFallbackError | OSError) else (
        f"{type(exc).__name__}: {exc}"
    )
    return redact(text)[:500]


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


# ---- import, shared by both sources ------------------------------------------------------


def _import(
    store: CacheStore,
    snapshot: Snapshot,
    extract: str,
    label: str,
    settings: Settings,
    options: RefreshOptions,
) -> RefreshReport:
    """Replace the snapshot unless the extract is not newer than what the cache holds.

    Nothing newer is success while the cache is fresh (the engine drops less often than
    we look) and failure once it is stale (the feed has stopped: someone must look).
    """
    current = store.status(stale_minutes=settings.stale_minutes, verify=True)
    if (
        not options.force
        and current.data_as_of is not None
        and snapshot.data_as_of <= current.data_as_of
    ):
        newest = f"the newest extract ({extract}) is from {format_uk(snapshot.data_as_of)}"
        if current.is_stale:
            age = current.freshness.age_text if current.freshness else "unknown"
            raise RefreshFailed(
                f"no new extract: {newest}, and the cache is {age} old (stale); check that the "
                "integration engine is still sending extracts"
            )
        return RefreshReport(label, extract, None,
                             f"no new extract ({newest}); cache kept")
    result = store.replace_snapshot(
        snapshot, force=options.force, max_drop_share=settings.max_patient_drop_share
    )
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
    reader: ReadExtract,
) -> RefreshReport:
    drop = newest_drop(source)
    snapshot = reader([drop])
    if snapshot.as_of_source == "import time":
        # An extract with no time of its own (a CSV drop, say) is as old as its drop, not
        # as new as this import: otherwise a feed stuck on one drop would look fresh forever.
        snapshot = dataclasses.replace(
            snapshot, data_as_of=drop_completed_at(drop), as_of_source=AS_OF_DROP_MARKER
        )
    return _import(store, snapshot, f"drop {drop.name}", label, settings, options)


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
    reader: ReadExtract,
) -> RefreshReport:
    client = BulkDataClient(options)
    with private_temp_folder(data_dir) as folder:
        manifest = client.export(url, folder)
        snapshot = reader([folder])
        when = manifest.get("transactionTime", "unknown time")
        return _import(store, snapshot, f"Bulk Data export of {when}", label, settings, options)


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
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class _NoTokenToOtherHosts(urllib.request.HTTPRedirectHandler):
    """urllib copies every header to a redirect's target, even on another host; the bearer
    token must only go where it was meant to."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and (
            urllib.parse.urlsplit(new.full_url).netloc != urllib.parse.urlsplit(req.full_url).netloc
        ):
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_NoTokenToOtherHosts)


class BulkDataClient:
    """A minimal FHIR Bulk Data export client on the standard library's urllib.

    urllib is enough for kick-off, polling and streaming downloads; a third-party HTTP
    stack would be one more thing to bundle and patch on every ward PC.
    """

    def __init__(self, options: RefreshOptions) -> None:
        self.options = options
        self._deadline = options.clock() + options.deadline_s
        self._progress = ""  # the server's last X-Progress, for the timeout message

    def export(self, url: str, folder: Path) -> dict[str, Any]:
        """Run one export into ``folder``: NDJSON files plus a manifest.json naming them."""
        status_url = self.kick_off(export_url(url))
        manifest = self.wait_for_manifest(status_url)
        self.download(manifest, folder, base_url=status_url)
        self._request(status_url, method="DELETE", accept="application/json", quiet=True)
        return manifest

    def kick_off(self, url: str) -> str:
        status, headers, body = self._request(
            url, accept="application/fhir+json", extra_headers={"Prefer": "respond-async"}
        )
        location = headers.get("Content-Location")
        if status != 202 or not location:
            raise RefreshFailed(
                f"the server did not start an export (HTTP {status}, expected 202 with "
                f"Content-Location){_outcome_text(body)}"
            )
        return urllib.parse.urljoin(url, str(location))

    def wait_for_manifest(self, status_url: str) -> dict[str, Any]:
        while True:
            status, headers, body = self._request(status_url, accept="application/json")
            if status == 200:
                return _parse_manifest(body)
            if status not in (202, 429):
                raise RefreshFailed(
                    f"the export failed on the server (HTTP {status}){_outcome_text(body)}"
                )
            self._progress = str(headers.get("X-Progress") or "")[:40]
            wait_s = _retry_after_s(headers.get("Retry-After"))
            if self.options.clock() + wait_s > self._deadline:
                self._give_up()
            log.debug("export in progress (%s); next poll in %.0f s", self._progress, wait_s)
            self.options.sleep(wait_s)

    def download(self, manifest: dict[str, Any], folder: Path, base_url: str = "") -> None:
        """Stream each output file to ``folder`` and check its resource count; write a local
        manifest.json naming the downloaded files so the importer can check the set."""
        outputs = manifest.get("output")
        if not isinstance(outputs, list):
            raise RefreshFailed("the export manifest has no 'output' list")
        errors = manifest.get("error") or []
        if errors:
            raise RefreshFailed(
                f"the server reported {len(errors)} error file(s) with the export, so it may "
                "be incomplete"
            )
        local_outputs: list[dict[str, Any]] = []
        per_type: dict[str, int] = {}
        for number, item in enumerate(outputs, start=1):
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                raise RefreshFailed(f"output {number} of the export manifest has no url")
            rtype = str(item.get("type", ""))
            if not _RESOURCE_TYPE.fullmatch(rtype):
                raise RefreshFailed(f"output {number} of the export manifest has no valid type")
            per_type[rtype] = per_type.get(rtype, 0) + 1
            name = f"{rtype}.{per_type[rtype]:03d}.ndjson"
            target = folder / name
            self._download_file(
                urllib.parse.urljoin(base_url, item["url"]), target,
                token=bool(manifest.get("requiresAccessToken", True)),
            )
            expected = item.get("count")
            found = _count_resources(target)
            if isinstance(expected, int) and expected != found:
                raise RefreshFailed(
                    f"output {number} ({rtype}) has {found} resources but the manifest says "
                    f"{expected}: the download is incomplete"
                )
            local_outputs.append({**item, "url": name})
        # Only what was downloaded: the importer checks the folder holds exactly these files.
        local = {**manifest, "output": local_outputs, "error": []}
        local.pop("deleted", None)
        (folder / "manifest.json").write_text(json.dumps(local, indent=1), encoding="utf-8")

    def _download_file(self, url: str, target: Path, *, token: bool) -> None:
        request = self._build(url, accept="application/fhir+ndjson", token=token)
        try:
            with self._open(request) as response, target.open("wb") as out:
                while chunk := response.read(_DOWNLOAD_CHUNK_BYTES):
                    self._check_deadline()
                    out.write(chunk)
        except urllib.error.HTTPError as exc:
            raise RefreshFailed(
                f"downloading export file {target.name} gave HTTP {exc.code}"
                f"{_outcome_text(_read_error_body(exc))}"
            ) from exc
        except TimeoutError as exc:
            raise RefreshFailed(f"downloading export file {target.name} timed out") from exc

    # ---- HTTP plumbing --------------------------------------------------------------------

    def _check_deadline(self) -> None:
        if self.options.clock() > self._deadline:
            self._give_up()

    def _give_up(self) -> None:
        raise RefreshFailed(
            f"the export did not finish within {self.options.deadline_s / 60:g} minutes"
            + (f" (server progress: {self._progress})" if self._progress else "")
        )

    def _build(
        self,
        url: str,
        *,
        accept: str,
        method: str = "GET",
        token: bool = True,
        extra_headers: dict[str, str] | None = None,
    ) -> urllib.request.Request:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise RefreshFailed(f"unsupported address in the export: {parts.scheme or 'none'}")
        headers = {"Accept": accept, **(extra_headers or {})}
        if token and self.options.bearer_token:
            if parts.scheme != "https" and parts.hostname not in ("localhost", "127.0.0.1",
                                                                  "::1"):
                raise RefreshFailed(
                    "refusing to send the access token over plain http; use an https address"
                )
            headers["Authorization"] = f"Bearer {self.options.bearer_token}"
        return urllib.request.Request(url, headers=headers, method=method)

    def _open(self, request: urllib.request.Request) -> Any:
        self._check_deadline()
        timeout = max(0.1, min(self.options.request_timeout_s,
                               self._deadline - self.options.clock()))
        try:
            return _OPENER.open(request, timeout=timeout)  # http(s) only: see _build
        except urllib.error.HTTPError:
            raise
        except (TimeoutError, urllib.error.URLError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            where = describe_source(request.full_url)
            if isinstance(reason, TimeoutError):
                raise RefreshFailed(
                    f"the server did not answer within {timeout:g} s ({where})"
                ) from exc
            raise RefreshFailed(
                f"cannot reach {describe_source(request.full_url)}: {reason}"
            ) from exc

    def _request(
        self,
        url: str,
        *,
        accept: str,
        method: str = "GET",
        extra_headers: dict[str, str] | None = None,
        quiet: bool = False,
    ) -> tuple[int, Any, bytes]:
        request = self._build(url, accept=accept, method=method, extra_headers=extra_headers)
        try:
            with self._open(request) as response:
                return response.status, response.headers, response.read(4_000_000)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, _read_error_body(exc)
        except TimeoutError as exc:
            if quiet:
                return 0, {}, b""
            raise RefreshFailed(
                f"the server did not answer in time ({describe_source(url)})"
            ) from exc
        except (RefreshFailed, OSError):
            if quiet:
                return 0, {}, b""
            raise


def export_url(source: str) -> str:
    """The kick-off URL: ``source`` itself if it names ``$export``, else ``source/$export``."""
    parts = urllib.parse.urlsplit(source)
    if "$export" in parts.path:
        return source
    path = parts.path.rstrip("/") + "/$export"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _parse_manifest(body: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RefreshFailed("the export manifest is not valid JSON") from exc
    if not isinstance(manifest, dict):
        raise RefreshFailed("the export manifest is not a JSON object")
    return manifest


def _retry_after_s(value: str | None) -> float:
    """Retry-After as seconds (a number or an HTTP date), capped so a polling loop stays
    responsive to the deadline."""
    if not value:
        return _DEFAULT_RETRY_AFTER_S
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return _DEFAULT_RETRY_AFTER_S
        seconds = (when - utc_now()).total_seconds() if when.tzinfo else _DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(100_000)
    except OSError:
        return b""


def _outcome_text(body: bytes) -> str:
    """The diagnostics of an OperationOutcome, if the body is one (shortened, redacted)."""
    try:
        outcome = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return ""
    texts = [
        str(issue.get("diagnostics") or issue.get("code") or "")
        for issue in outcome.get("issue", [])
        if isinstance(issue, dict)
    ]
    text = "; ".join(t for t in texts if t)
    return f": {redact(text)[:200]}" if text else ""


def _count_resources(path: Path) -> int:
    """Non-blank lines of an NDJSON file: one resource each."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())
