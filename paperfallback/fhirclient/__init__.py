"""Talking to an EPR's FHIR server as a client: authorisation, hardened HTTP, Bulk Data.

- ``smart_auth``: SMART Backend Services tokens (``SmartBackendAuth``) and a static bearer
  token (``StaticBearerAuth``), one interface: ``headers_for(url)`` and ``invalidate()``.
- ``private_key``: the PC's PEM or JWKS private key, which must be private to the user.
- ``safe_http``: urllib with only http(s), no token to another origin, a deadline on every
  read, and size caps.
- ``bulk_export``: the FHIR Bulk Data export client (kick-off, poll, manifest, download).

Layering: under ``cache`` (which refreshes through it) and ``export`` (which sends through
it), above ``settings`` and ``domain``; it knows nothing of the cache or the forms.
"""

from paperfallback.fhirclient.errors import AuthorisationFailed, FhirClientError
from paperfallback.fhirclient.smart_auth import (
    DEFAULT_SCOPE,
    Authorizer,
    SmartBackendAuth,
    StaticBearerAuth,
)

__all__ = [
    "DEFAULT_SCOPE", "AuthorisationFailed", "Authorizer", "FhirClientError",
    "SmartBackendAuth", "StaticBearerAuth",
]
