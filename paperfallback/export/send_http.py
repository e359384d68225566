"""The HTTP side of ``export --to``: one POST of a transaction Bundle, and the bearer token.

Deliberately small and strict: http(s) only, no redirects followed (a Bundle of patient data
is never re-posted to wherever a 3xx points), a deadline on the whole exchange and a cap on
the answer's size. SMART Backend Services tokens come from ``paperfallback.fhirclient``;
this module only asks an ``Auth`` object for the headers of a URL.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from paperfallback.domain.errors import InputError

MAX_ANSWER_BYTES = 64 * 1024 * 1024


class Auth(Protocol):
    """What sending needs from an authoriser (``fhirclient.SmartBackendAuth`` has it)."""

    def headers_for(self, url: str) -> dict[str, str]: ...


class NoAuth:
    """No Authorization header (a server on a closed test network)."""

    def headers_for(self, url: str) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class BearerToken:
    """A bearer token IT issued by hand (``export_token_env``), sent only to ``base_url``'s
    own origin."""

    base_url: str
    token: str

    def headers_for(self, url: str) -> dict[str, str]:
        if origin(url) != origin(self.base_url):
            return {}
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class NetworkError(Exception):
    """No HTTP answer: connection refused or reset, DNS, timeout."""


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer: ...


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def check_base_url(url: str) -> str:
    """A FHIR base URL the user typed: http(s), a host, no query; without a trailing /."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"'{url}' is not an http(s) FHIR base URL (e.g. https://epr.example/fhir)",
                         where="--to")
    if parts.query or parts.fragment:
        raise InputError(f"'{url}': a FHIR base URL has no query or fragment", where="--to")
    return url.strip().rstrip("/")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx comes back as an HTTPError answer, never followed


class UrllibTransport:
    """POST with a deadline per exchange and a size cap on the answer."""

    def __init__(self, timeout_s: float = 120.0, max_bytes: int = MAX_ANSWER_BYTES) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._opener = urllib.request.build_opener(_NoRedirect())

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        check_base_url(url)
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return HttpAnswer(response.status, self._read(response, deadline),
                                  dict(response.headers.items()))
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, self._read(exc, deadline), dict(exc.headers.items()))
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(f"{url}: {reason}") from exc

    def _read(self, response: object, deadline: float) -> bytes:
        chunks, size = [], 0
        read = getattr(response, "read", None)
        while read is not None:
            if time.monotonic() > deadline:
                raise NetworkError(f"the answer took longer than {self.timeout_s:.0f} s")
            chunk = read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_bytes:
                raise NetworkError(f"the answer is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
