"""A FHIR Bulk Data export client (HL7 FHIR Bulk Data Access 2.0, "Bulk Data Export").

Kick-off with ``Prefer: respond-async`` (202 + Content-Location), poll the status URL
until 200 + the manifest, stream every output file to a folder, write a local
``manifest.json`` naming them (so the importer checks the set), then ``DELETE`` the job.

Hardening (issue 14 item 5; the HTTP rules are ``safe_http``'s):

- The token goes to the kick-off and status URLs through ``auth.headers_for`` (own origin
  only), and to output files only when the manifest says ``requiresAccessToken: true``
  (absent means no token, as the IG says) and, again, only to the server's own origin.
- Polling waits at least ``min_poll_s`` and backs off (doubling up to ``_MAX_WAIT_S``)
  whenever the server asks for less, so ``Retry-After: 0`` cannot make a request storm.
- One deadline for the whole export bounds every connect and every read.
- Each file is capped at ``max_download_bytes`` and streamed; an empty export says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperfallback.fhirclient.errors import BulkExportFailed, FhirClientError
from paperfallback.fhirclient.safe_http import (
    Deadline,
    HttpResponse,
    describe,
    download_to,
    request,
)
from paperfallback.fhirclient.smart_auth import Authorizer

log = logging.getLogger(__name__)

DEFAULT_MIN_POLL_S = 2.0
_DEFAULT_WAIT_S = 10.0  # no Retry-After at all
_MAX_WAIT_S = 120.0
_MAX_MANIFEST_BYTES = 16_000_000
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
EMPTY_EXPORT = "the server exported no files for this group"


class BulkDataClient:
    """One export at a time; ``auth`` may be None for an open test server."""

    def __init__(
        self,
        auth: Authorizer | None,
        *,
        request_timeout_s: float = 60.0,
        deadline_s: float = 600.0,
        min_poll_s: float = DEFAULT_MIN_POLL_S,
        max_download_bytes: int = 2_048_000_000,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.auth = auth
        self.request_timeout_s = request_timeout_s
        self.min_poll_s = min_poll_s
        self.max_download_bytes = max_download_bytes
        self.sleep = sleep
        self.deadline = Deadline(deadline_s, clock=clock, what="the export")

    def export(self, url: str, folder: Path) -> dict[str, Any]:
        """Run one export into ``folder``: NDJSON files plus a manifest.json naming them."""
        with self.deadline:  # stops its watchdog however the export ends
            status_url = self.kick_off(export_url(url))
            manifest = self.wait_for_manifest(status_url)
            self.download(manifest, folder, base_url=status_url)
            with contextlib.suppress(FhirClientError):  # the server cleans up on its own too
                self._call(status_url, method="DELETE", accept="application/json")
            return manifest

    def kick_off(self, url: str) -> str:
        answer = self._call(url, accept="application/fhir+json",
                            extra={"Prefer": "respond-async"})
        location = answer.headers.get("Content-Location")
        if answer.status != 202 or not location:
            raise BulkExportFailed(
                f"the server did not start an export (HTTP {answer.status}, expected 202 with "
                f"Content-Location){outcome_text(answer.body)}"
            )
        return urllib.parse.urljoin(url, str(location))

    def wait_for_manifest(self, status_url: str) -> dict[str, Any]:
        backoff = self.min_poll_s
        while True:
            answer = self._call(status_url, accept="application/json",
                                max_bytes=_MAX_MANIFEST_BYTES)
            if answer.status == 200:
                return _parse_manifest(answer.body)
            if answer.status not in (202, 429):
                raise BulkExportFailed(
                    f"the export failed on the server (HTTP {answer.status})"
                    f"{outcome_text(answer.body)}"
                )
            progress = str(answer.headers.get("X-Progress") or "")[:40]
            self.deadline.note = f"server progress: {progress}" if progress else ""
            asked = retry_after_s(answer.headers.get("Retry-After"))
            if asked is not None and asked >= self.min_poll_s:
                wait_s = min(asked, _MAX_WAIT_S)
            else:  # no usable Retry-After: back off, never below the minimum
                wait_s = backoff if asked is not None else max(backoff, _DEFAULT_WAIT_S)
                backoff = min(backoff * 2, _MAX_WAIT_S)
            if wait_s > self.deadline.remaining():
                self.deadline.at = self.deadline.clock()  # no time for another poll
                self.deadline.check()
            log.debug("export in progress (%s); next poll in %.1f s", progress, wait_s)
            self.sleep(wait_s)

    def download(self, manifest: dict[str, Any], folder: Path, base_url: str = "") -> None:
        """Stream each output file to ``folder`` and check its resource count; write a local
        manifest.json naming the downloaded files so the importer checks the set."""
        outputs = manifest.get("output")
        if not isinstance(outputs, list):
            raise BulkExportFailed("the export manifest has no 'output' list")
        if not outputs:
            raise BulkExportFailed(EMPTY_EXPORT)
        errors = manifest.get("error") or []
        if errors:
            raise BulkExportFailed(
                f"the server reported {len(errors)} error file(s) with the export, so it may "
                "be incomplete"
            )
        token = manifest.get("requiresAccessToken") is True
        local_outputs: list[dict[str, Any]] = []
        per_type: dict[str, int] = {}
        for number, item in enumerate(outputs, start=1):
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                raise BulkExportFailed(f"output {number} of the export manifest has no url")
            rtype = str(item.get("type", ""))
            if not _RESOURCE_TYPE.fullmatch(rtype):
                raise BulkExportFailed(f"output {number} of the export manifest has no valid type")
            per_type[rtype] = per_type.get(rtype, 0) + 1
            name = f"{rtype}.{per_type[rtype]:03d}.ndjson"
            found = self._download_file(urllib.parse.urljoin(base_url, item["url"]),
                                        folder / name, token=token)
            expected = item.get("count")
            if isinstance(expected, int) and expected != found:
                raise BulkExportFailed(
                    f"output {number} ({rtype}) has {found} resources but the manifest says "
                    f"{expected}: the download is incomplete"
                )
            local_outputs.append({**item, "url": name})
        # Only what was downloaded: the importer checks the folder holds exactly these files.
        local = {**manifest, "output": local_outputs, "error": []}
        local.pop("deleted", None)
        (folder / "manifest.json").write_text(json.dumps(local, indent=1), encoding="utf-8")

    def _download_file(self, url: str, target: Path, *, token: bool) -> int:
        headers = {"Accept": "application/fhir+ndjson"}
        if token and self.auth is not None:
            headers.update(self.auth.headers_for(url))
        got = download_to(url, target, deadline=self.deadline,
                          timeout_s=self.request_timeout_s, headers=headers,
                          max_bytes=self.max_download_bytes)
        if not 200 <= got.status < 300:
            raise BulkExportFailed(
                f"downloading export file {target.name} gave HTTP {got.status}"
                f"{outcome_text(got.error_body)}"
            )
        return got.lines

    def _call(
        self, url: str, *, accept: str, method: str = "GET",
        extra: dict[str, str] | None = None, max_bytes: int = 4_000_000,
    ) -> HttpResponse:
        """One request to the server itself, with the token; a 401 renews it once."""
        for attempt in (1, 2):
            headers = {"Accept": accept, **(extra or {})}
            if self.auth is not None:
                headers.update(self.auth.headers_for(url))
            answer = request(url, deadline=self.deadline, timeout_s=self.request_timeout_s,
                             method=method, headers=headers, max_bytes=max_bytes)
            if answer.status != 401 or self.auth is None or attempt == 2:
                return answer
            self.auth.invalidate()
        raise AssertionError("unreachable")


def export_url(source: str) -> str:
    """The kick-off URL: ``source`` itself if it names ``$export``, else ``source/$export``."""
    parts = urllib.parse.urlsplit(source)
    if "$export" in parts.path:
        return source
    path = parts.path.rstrip("/") + "/$export"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def fhir_base(source: str) -> str:
    """The FHIR server's base URL from a kick-off address (for SMART discovery):
    ``.../fhir/Group/7/$export`` and ``.../fhir/Patient/$export`` give ``.../fhir``."""
    parts = urllib.parse.urlsplit(source)
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[-1].startswith("$export"):
        segments.pop()
    if len(segments) >= 2 and segments[-2] == "Group":
        segments = segments[:-2]
    elif segments and segments[-1] == "Patient":
        segments.pop()
    path = "/" + "/".join(segments) if segments else ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _parse_manifest(body: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BulkExportFailed("the export manifest is not valid JSON") from exc
    if not isinstance(manifest, dict):
        raise BulkExportFailed("the export manifest is not a JSON object")
    return manifest


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0)


def outcome_text(body: bytes) -> str:
    """The diagnostics of an OperationOutcome, if the body is one (shortened)."""
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
    return f": {text[:200]}" if text else ""


__all__ = ["EMPTY_EXPORT", "BulkDataClient", "describe", "export_url", "fhir_base"]
