"""The HTTP side of ``export --to``: one POST of a transaction Bundle.

Through ``paperfallback.fhirclient``'s hardened HTTP (http(s) only, no token to another
origin, a deadline on every read, a size cap on the answer) and its authorisers
(``SmartBackendAuth``, ``StaticBearerAuth``: ``headers_for(url)``, ``invalidate()``). What
this module adds is the shape sending needs: an answer of any status as a value, and "no
answer at all" as one exception to retry on.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Protocol

from paperfallback.domain.errors import InputError
from paperfallback.fhirclient import Authorizer
from paperfallback.fhirclient.errors import FhirClientError
from paperfallback.fhirclient.safe_http import Deadline, describe, request

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a transaction-response echoes what was sent

Auth = Authorizer


class NoAuth:
    """No Authorization header (a server on a closed test network)."""

    def headers_for(self, url: str) -> dict[str, str]:
        return {}

    def invalidate(self) -> None:
        """Nothing to renew."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class NetworkError(Exception):
    """No HTTP answer: connection refused or reset, DNS, timeout, an answer too large."""


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer: ...


def check_base_url(url: str) -> str:
    """A FHIR base URL the user typed: http(s), a host, no query; without a trailing /."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # No flag name: the app's export screen shows this too (the URL names the input).
        raise InputError(f"'{url}' is not an http(s) FHIR base URL (e.g. https://epr.example/fhir)")
    if parts.query or parts.fragment:
        raise InputError(f"'{url}': a FHIR base URL has no query or fragment")
    return url.strip().rstrip("/")


class SafeTransport:
    """POST through fhirclient.safe_http with a deadline per exchange."""

    def __init__(self, timeout_s: float = 120.0, max_bytes: int = MAX_ANSWER_BYTES) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        deadline = Deadline(self.timeout_s, what=f"sending a Bundle to {describe(url)}")
        try:
            answer = request(url, deadline=deadline, timeout_s=self.timeout_s, method="POST",
                             headers=headers, data=body, max_bytes=self.max_bytes)
        except FhirClientError as exc:
            raise NetworkError(str(exc)) from exc
        return HttpAnswer(answer.status, answer.body, dict(answer.headers.items()))
