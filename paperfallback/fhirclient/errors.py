"""Errors of the FHIR client: one line a user or IT can act on, naming the server."""

from __future__ import annotations

from paperfallback.domain.errors import PaperFallbackError


class FhirClientError(PaperFallbackError):
    """Talking to a FHIR server (or its token endpoint) failed; the message says how."""


class AuthorisationFailed(FhirClientError):
    """No access token: discovery, the private key, or the token endpoint failed."""


class BulkExportFailed(FhirClientError):
    """A FHIR Bulk Data export did not produce a complete set of files."""
