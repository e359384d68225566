"""Hardened HTTP for talking to EPR servers on the standard library's urllib.

A misbehaving server must not be able to make this PC leak a token, hang past its
deadline, fill its memory or disk, or fetch something that is not http(s). Each rule
here answers a fault found by a probe (issue 14 item 5):

- **Schemes**: only ``http`` and ``https``, on the first request and on every redirect
  (urllib would follow a redirect to ``ftp://``).
- **Origins**: the ``Authorization`` header is dropped on a redirect to another origin
  (scheme, host and port), because urllib copies every header to a redirect's target.
  Which requests carry a token at all is the caller's decision (``headers_for``).
- **Deadlines**: every request has a :class:`Deadline`; each socket read is bounded by
  the time left (``read1``: one read from the socket, however slowly the server drips),
  and the deadline is checked between reads.
- **Size caps**: bodies read into memory are capped (``max_bytes``); downloads stream
  to disk in chunks, with a cap on the whole file and on any one NDJSON line.

Plain ``http`` is only for ``localhost``-style test servers when a token is involved:
see :func:`check_token_transport`.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperfallback.fhirclient.errors import FhirClientError

ALLOWED_SCHEMES = ("http", "https")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_MAX_BODY_BYTES = 8_000_000  # a manifest, an OperationOutcome, a token response
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024  # one NDJSON resource
_CHUNK_BYTES = 64 * 1024


class DeadlinePassed(FhirClientError):
    """The overall deadline passed while waiting for a server."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes


class Deadline:
    """A point in time by which the whole job must be done; ``clock`` is monotonic.

    With the real clock, a watchdog shuts down every socket opened under this deadline
    when it passes, so no read can outlast it: not a body dripped one byte at a time, not
    a status line or headers dripped the same way (which urllib reads in a loop of its
    own). ``close()`` stops the watchdog; a read cut off by it raises DeadlinePassed.
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 what: str = "the request") -> None:
        self.seconds = seconds
        self.clock = clock
        self.what = what
        self.at = clock() + seconds
        self.note = ""  # extra context for the timeout message (e.g. server progress)
        self.expired = False  # the watchdog shut the sockets down
        self._sockets: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.at - self.clock()

    def check(self) -> None:
        if self.expired or self.remaining() <= 0:
            raise DeadlinePassed(
                f"{self.what} did not finish within {_duration(self.seconds)}"
                + (f" ({self.note})" if self.note else "")
            )

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (real clock only)."""
        if self.clock is not time.monotonic:
            return  # a test's fake clock: real-time watchdogs would mean nothing
        with self._lock:
            self._sockets = [s for s in self._sockets if s.fileno() != -1]
            self._sockets.append(sock)
            if self._timer is None:
                self._timer = threading.Timer(max(0.0, self.remaining()), self._expire)
                self._timer.daemon = True
                self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._sockets = []

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 30 else f"{seconds:g} seconds"


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)


def describe(url: str) -> str:
    """A URL as it may be shown or logged: no credentials, no query string."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_scheme(url: str, what: str = "address") -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise FhirClientError(
            f"refusing the {what} {describe(url) if scheme else url[:80]!s}: only http and "
            f"https are allowed, not {scheme or 'no scheme'}"
        )


def check_token_transport(url: str) -> None:
    """A token travels only over https (plain http only to this PC, for tests)."""
    scheme, host, _ = origin(url)
    if scheme != "https" and host not in LOOPBACK_HOSTS:
        raise FhirClientError(
            f"refusing to send the access token over plain http to {describe(url)}; use an "
            "https address"
        )


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), and never carry the token to another origin."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        check_scheme(newurl, "redirect to")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and not same_origin(new.full_url, req.full_url):
            new.remove_header("Authorization")
        return new


class _WatchedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        self._deadline.watch(self.sock)


class _WatchedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        self._deadline.watch(self.sock)


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(functools.partial(_WatchedHTTPConnection, deadline=self._deadline),
                            req)


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline) -> None:
        self._tls = ssl.create_default_context()  # verifies certificates and host names
        super().__init__(context=self._tls)
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(functools.partial(_WatchedHTTPSConnection, deadline=self._deadline),
                            req, context=self._tls)


def _opener(deadline: Deadline) -> urllib.request.OpenerDirector:
    """http(s) only (no ftp, file or data handlers), safe redirects, watched sockets."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.UnknownHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    _SafeRedirects(), urllib.request.HTTPErrorProcessor(),
                    _WatchedHTTPHandler(deadline), _WatchedHTTPSHandler(deadline)):
        opener.add_handler(handler)
    return opener


def open_url(
    url: str, *, deadline: Deadline, timeout_s: float, method: str = "GET",
    headers: dict[str, str] | None = None, data: bytes | None = None,
) -> Any:
    """Open ``url``; an HTTP error status comes back as a response, not an exception.

    Network failures raise FhirClientError naming the server; the deadline bounds the
    connect and the first byte as well as each later read.
    """
    check_scheme(url)
    deadline.check()
    timeout = max(0.05, min(timeout_s, deadline.remaining()))
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        return _opener(deadline).open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        return exc  # has .status, .headers and .read() like a response
    except (TimeoutError, urllib.error.URLError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, FhirClientError):
            raise reason from exc
        deadline.check()  # the watchdog cut it off: say so, not "cannot reach"
        if isinstance(reason, TimeoutError):
            deadline.check()
            raise FhirClientError(
                f"the server did not answer within {timeout:g} s ({describe(url)})"
            ) from exc
        raise FhirClientError(f"cannot reach {describe(url)}: {reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        deadline.check()
        raise FhirClientError(f"cannot reach {describe(url)}: {exc}") from exc


def _bound_socket(response: Any, deadline: Deadline, timeout_s: float) -> None:
    """Bound the next socket read by the time left (urllib fixes the timeout at connect)."""
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    if sock is not None:
        sock.settimeout(max(0.05, min(timeout_s, deadline.remaining())))


def read_chunks(
    response: Any, *, deadline: Deadline, timeout_s: float, url: str
) -> Any:
    """Yield the body in chunks, one socket read each, checking the deadline every time."""
    while True:
        deadline.check()
        _bound_socket(response, deadline, timeout_s)
        try:
            reader = getattr(response, "read1", None)
            chunk = reader(_CHUNK_BYTES) if reader is not None else response.read(_CHUNK_BYTES)
        except TimeoutError as exc:
            deadline.check()
            raise FhirClientError(
                f"the server stopped sending within {timeout_s:g} s ({describe(url)})"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            deadline.check()
            raise FhirClientError(f"the download from {describe(url)} broke off: {exc}") from exc
        if not chunk:
            if deadline.expired:  # cut short by the watchdog: not the end of the file
                deadline.check()
            return
        yield chunk


def request(
    url: str, *, deadline: Deadline, timeout_s: float, method: str = "GET",
    headers: dict[str, str] | None = None, data: bytes | None = None,
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> HttpResponse:
    """One request whose whole body is read into memory, at most ``max_bytes``."""
    response = open_url(url, deadline=deadline, timeout_s=timeout_s, method=method,
                        headers=headers, data=data)
    with response:
        body = bytearray()
        for chunk in read_chunks(response, deadline=deadline, timeout_s=timeout_s, url=url):
            body += chunk
            if len(body) > max_bytes:
                raise FhirClientError(
                    f"the answer from {describe(url)} is larger than {max_bytes:,} bytes"
                )
        return HttpResponse(response.status, response.headers, bytes(body))


@dataclass(frozen=True, slots=True)
class Download:
    status: int
    headers: Any
    bytes_written: int
    lines: int  # non-blank lines (NDJSON resources)
    error_body: bytes = b""  # the body of a non-2xx answer (capped), else b""


def download_to(
    url: str, target: Path, *, deadline: Deadline, timeout_s: float,
    headers: dict[str, str] | None = None, max_bytes: int,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Download:
    """Stream ``url`` into ``target`` without holding more than a chunk in memory.

    Counts non-blank lines on the way (no second pass that would read a huge line whole)
    and refuses a file above ``max_bytes`` or a line above ``max_line_bytes``; the
    partial file is deleted on any failure.
    """
    response = open_url(url, deadline=deadline, timeout_s=timeout_s, headers=headers)
    with response:
        if not 200 <= response.status < 300:
            return Download(response.status, response.headers, 0, 0,
                            _capped(response, deadline, timeout_s, url))
        written = lines = line_bytes = 0
        blank = True
        try:
            with target.open("wb") as out:
                for chunk in read_chunks(response, deadline=deadline, timeout_s=timeout_s,
                                         url=url):
                    written += len(chunk)
                    if written > max_bytes:
                        raise FhirClientError(
                            f"{target.name} from {describe(url)} is larger than the download "
                            f"limit of {max_bytes / 1_000_000:g} MB (setting "
                            "refresh_max_download_mb)"
                        )
                    lines, line_bytes, blank = _count(chunk, lines, line_bytes, blank)
                    if line_bytes > max_line_bytes:
                        raise FhirClientError(
                            f"{target.name} from {describe(url)} has a line longer than "
                            f"{max_line_bytes / 1_000_000:g} MB: not one FHIR resource per line"
                        )
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if not blank:
            lines += 1
        return Download(response.status, response.headers, written, lines)


def _count(chunk: bytes, lines: int, line_bytes: int, blank: bool) -> tuple[int, int, bool]:
    """Running count of non-blank lines and the current line's length, chunk by chunk."""
    start = 0
    while True:
        end = chunk.find(b"\n", start)
        piece = chunk[start:] if end < 0 else chunk[start:end]
        line_bytes += len(piece)
        blank = blank and not piece.strip()
        if end < 0:
            return lines, line_bytes, blank
        if not blank:
            lines += 1
        line_bytes, blank, start = 0, True, end + 1


def _capped(response: Any, deadline: Deadline, timeout_s: float, url: str) -> bytes:
    body = bytearray()
    try:
        for chunk in read_chunks(response, deadline=deadline, timeout_s=timeout_s, url=url):
            body += chunk
            if len(body) > 100_000:
                break
    except FhirClientError:
        pass
    return bytes(body[:100_000])
