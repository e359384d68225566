"""A local FHIR Bulk Data server behind the SMART token endpoint, for tests.

``SecuredBulkServer`` serves ``{base}/$export`` (and ``Group/<id>/$export``), a status URL
and the output files on the same 127.0.0.1 port as :class:`SmartTokenServer`, and checks
the bearer token on every request (files only when the manifest says
``requiresAccessToken``). ``Misbehaviour`` switches on the faults a probe found in real
deployments, one at a time: files on another origin, ``requiresAccessToken`` absent,
``Retry-After: 0`` for ever, a file dripped one byte at a time, one huge line, a redirect
to ``ftp://``, an empty export.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smart_token_server import Answer, Request, SmartTokenServer

Resources = Callable[[int, str], dict[str, list[dict[str, object]]]]


@dataclass
class Misbehaviour:
    files_host: str = ""  # e.g. "localhost": the manifest points at another origin
    requires_access_token: bool | None = True  # None: the key is absent
    polls_before_done: int = 1
    retry_after: str = "0"
    never_finishes: bool = False
    drip_s: float = 0.0  # seconds between bytes of every file
    drip_status_s: float = 0.0  # seconds between bytes of the status answer, headers and all
    huge_line_bytes: int = 0  # the Patient file is one line of this many bytes
    redirect_files_to: str = ""  # e.g. "ftp://127.0.0.1/x"
    empty_export: bool = False
    poll_times: list[float] = field(default_factory=list)


class SecuredBulkServer(SmartTokenServer):
    def __init__(self, resources: Resources, patients: int = 4,
                 transaction_time: str = "2026-11-24T06:00:00+00:00") -> None:
        super().__init__(prefix_routes={
            ("GET", "/fhir/"): self._fhir, ("DELETE", "/fhir/status/"): self._delete,
        })
        self.resources = resources
        self.patients = patients
        self.transaction_time = transaction_time
        self.bad = Misbehaviour()
        self.polls = 0
        self.unauthorised = 0  # requests that came without a valid token

    # ---- routes -------------------------------------------------------------------------

    def _authorised(self, req: Request) -> bool:
        ok = self.check_bearer(req.headers.get("Authorization"))
        if not ok:
            self.unauthorised += 1
        return ok

    def _fhir(self, req: Request) -> Answer:
        path = req.path
        if path.endswith("/$export"):
            if not self._authorised(req):
                return 401, {}, b""
            if req.headers.get("Prefer") != "respond-async":
                return 400, {}, b""
            return 202, {"Content-Location": f"{self.origin}/fhir/status/job-1"}, b""
        if path == "/fhir/status/job-1":
            if not self._authorised(req):
                return 401, {}, b""
            self.polls += 1
            self.bad.poll_times.append(time.monotonic())
            if self.bad.drip_status_s:
                return 0, {}, self._drip(b"HTTP/1.1 202 Accepted\r\nX-Progress: "
                                         + b"5" * 2000 + b"\r\n\r\n", self.bad.drip_status_s)
            if self.bad.never_finishes or self.polls <= self.bad.polls_before_done:
                return 202, {"Retry-After": self.bad.retry_after, "X-Progress": "50%"}, b""
            return 200, {"Content-Type": "application/json"}, json.dumps(
                self.manifest()).encode("utf-8")
        if path.startswith("/fhir/files/"):
            return self._file(req, path.rsplit("/", 1)[1].removesuffix(".ndjson"))
        return 404, {}, b""

    def _delete(self, req: Request) -> Answer:
        return 202, {}, b""

    def _file(self, req: Request, rtype: str) -> Answer:
        if self.bad.requires_access_token and not self._authorised(req):
            return 401, {}, b""
        if self.bad.redirect_files_to:
            return 302, {"Location": self.bad.redirect_files_to}, b""
        files = self.files()
        if rtype not in files:
            return 404, {}, b""
        body = files[rtype]
        headers = {"Content-Type": "application/fhir+ndjson", "Content-Length": str(len(body))}
        if self.bad.drip_s:
            return 200, headers, self._drip(body, self.bad.drip_s)
        return 200, headers, body

    @staticmethod
    def _drip(data: bytes, interval_s: float) -> Callable[[Any], None]:
        def drip(out: Any) -> None:
            for byte in data:
                out.write(bytes([byte]))
                out.flush()
                time.sleep(interval_s)
        return drip

    # ---- content ------------------------------------------------------------------------

    def files(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for rtype, items in self.resources(self.patients, self.transaction_time).items():
            out[rtype] = "".join(json.dumps(r) + "\n" for r in items).encode("utf-8")
        if self.bad.huge_line_bytes:
            out["Patient"] = b"{" + b" " * self.bad.huge_line_bytes + b"}\n"
        return out

    def manifest(self) -> dict[str, Any]:
        host = f"http://{self.bad.files_host}:{self.httpd.server_address[1]}" if (
            self.bad.files_host) else self.origin
        outputs = [] if self.bad.empty_export else [
            {"type": rtype, "url": f"{host}/fhir/files/{rtype}.ndjson",
             "count": body.count(b"\n")}
            for rtype, body in self.files().items()
        ]
        manifest: dict[str, Any] = {
            "transactionTime": self.transaction_time, "request": f"{self.base_url}/$export",
            "output": outputs, "error": [],
        }
        if self.bad.requires_access_token is not None:
            manifest["requiresAccessToken"] = self.bad.requires_access_token
        return manifest
