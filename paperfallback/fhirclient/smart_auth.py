"""SMART Backend Services authorisation: a bearer token for a FHIR server, as a system.

SMART App Launch 2.x, "Backend Services" (client credentials with an RFC 7523 JWT client
assertion), the way EPR Bulk Data and FHIR APIs expect unattended clients to log in:

1. Discover the token endpoint from ``{base}/.well-known/smart-configuration``.
2. Sign a short-lived JWT with this PC's private key (RS384 for RSA, ES384 for EC P-384;
   PyJWT over ``cryptography``, no hand-written crypto): ``iss`` = ``sub`` = client id,
   ``aud`` = the token endpoint, ``exp`` 5 minutes ahead, a fresh ``jti``, header ``kid``.
3. POST ``grant_type=client_credentials``, the scope and the assertion; keep the access
   token until shortly before ``expires_in`` runs out.

API (stable: ``export --to`` reuses it with its own ``export_*`` settings)::

    auth = SmartBackendAuth(base_url, client_id, private_key_path, key_id, scope)
    headers = auth.headers_for(url)   # {"Authorization": "Bearer ..."} or {}
    auth.invalidate()                 # after a 401: the next call fetches a new token

``headers_for`` returns the Authorization header **only** for the FHIR server's own
origin (scheme, host and port of ``base_url``) and only over https (plain http to this PC
for tests); for any other URL (an output file on a storage host, say) it returns ``{}``.
:class:`StaticBearerAuth` offers the same interface for a token obtained elsewhere.
Errors are :class:`~paperfallback.fhirclient.errors.AuthorisationFailed` with a message
naming what to fix.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from paperfallback.fhirclient.errors import AuthorisationFailed, FhirClientError
from paperfallback.fhirclient.private_key import PrivateKey, load_private_key
from paperfallback.fhirclient.safe_http import (
    Deadline,
    check_scheme,
    check_token_transport,
    describe,
    request,
    same_origin,
)

DEFAULT_SCOPE = "system/*.read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300  # the SMART profile's maximum: 5 minutes
EXPIRY_MARGIN_S = 60  # fetch a new token this long before the old one runs out
DEFAULT_TOKEN_LIFETIME_S = 300  # when the server omits expires_in


class Authorizer(Protocol):
    """What a FHIR client asks of an authoriser: headers for one URL, and a way to drop
    a token the server refused."""

    def headers_for(self, url: str) -> dict[str, str]: ...

    def invalidate(self) -> None: ...


class StaticBearerAuth:
    """A bearer token obtained elsewhere (environment variable or settings), sent by the
    same rules as a SMART token: own origin only, https only."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self._token = token

    def headers_for(self, url: str) -> dict[str, str]:
        if not same_origin(url, self.base_url):
            return {}
        check_token_transport(url)
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        """Nothing to renew: a static token is what it is."""


class SmartBackendAuth:
    """Tokens for one FHIR server by SMART Backend Services (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        private_key_path: str | Path,
        key_id: str = "",
        scope: str = DEFAULT_SCOPE,
        *,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_scheme(base_url, "FHIR server address")
        if not client_id:
            raise AuthorisationFailed("no client id for SMART Backend Services")
        if not str(private_key_path):
            raise AuthorisationFailed("no private key file for SMART Backend Services")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.private_key_path = Path(private_key_path)
        self.key_id = key_id
        self.scope = scope or DEFAULT_SCOPE
        self.timeout_s = timeout_s
        self.clock = clock
        self._key: PrivateKey | None = None
        self._token_endpoint: str | None = None
        self._token: str | None = None
        self._expires_at = 0.0

    # ---- the interface ------------------------------------------------------------------

    def headers_for(self, url: str) -> dict[str, str]:
        """The Authorization header for ``url`` if it is on the FHIR server's origin."""
        if not same_origin(url, self.base_url):
            return {}
        check_token_transport(url)
        return {"Authorization": f"Bearer {self.access_token()}"}

    def invalidate(self) -> None:
        self._token = None
        self._expires_at = 0.0

    def access_token(self) -> str:
        """A valid access token, fetched when none is cached or it is about to expire."""
        if self._token is None or self.clock() >= self._expires_at - EXPIRY_MARGIN_S:
            self._fetch_token()
        assert self._token is not None
        return self._token

    # ---- the steps ----------------------------------------------------------------------

    @property
    def token_endpoint(self) -> str:
        if self._token_endpoint is None:
            self._token_endpoint = self._discover()
        return self._token_endpoint

    def _discover(self) -> str:
        url = f"{self.base_url}/.well-known/smart-configuration"
        with self._deadline("discovery") as deadline:
            answer = request(url, deadline=deadline, timeout_s=self.timeout_s,
                             headers={"Accept": "application/json"})
        config = self._json(answer, url, "the SMART configuration")
        endpoint = config.get("token_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise AuthorisationFailed(
                f"the SMART configuration at {describe(url)} names no token_endpoint"
            )
        endpoint = urllib.parse.urljoin(url, endpoint)
        check_scheme(endpoint, "token endpoint")
        check_token_transport(endpoint)  # the assertion is a credential too
        methods = config.get("token_endpoint_auth_methods_supported")
        if isinstance(methods, list) and methods and "private_key_jwt" not in methods:
            raise AuthorisationFailed(
                f"the server at {describe(self.base_url)} does not offer private_key_jwt "
                "(SMART Backend Services) client authentication"
            )
        return endpoint

    def _private_key(self) -> PrivateKey:
        if self._key is None:
            self._key = load_private_key(self.private_key_path, self.key_id)
        return self._key

    def client_assertion(self, audience: str) -> str:
        """The signed JWT (RFC 7523) that proves this PC holds the registered key."""
        import jwt

        key = self._private_key()
        now = int(self.clock())
        claims = {
            "iss": self.client_id, "sub": self.client_id, "aud": audience,
            "iat": now, "exp": now + ASSERTION_LIFETIME_S, "jti": str(uuid.uuid4()),
        }
        headers = {"typ": "JWT", **({"kid": key.key_id} if key.key_id else {})}
        return jwt.encode(claims, key.key, algorithm=key.algorithm, headers=headers)

    def _fetch_token(self) -> None:
        endpoint = self.token_endpoint
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(endpoint),
        }).encode("ascii")
        with self._deadline("the token request") as deadline:
            response = request(
                endpoint, deadline=deadline, timeout_s=self.timeout_s, method="POST", data=form,
                headers={"Accept": "application/json",
                         "Content-Type": "application/x-www-form-urlencoded"},
            )
        if response.status != 200:
            raise AuthorisationFailed(
                f"the token endpoint {describe(endpoint)} refused this PC (HTTP "
                f"{response.status}{_oauth_error(response.body)}): check that the client id "
                f"{self.client_id!r} is registered with this key and scope {self.scope!r}"
            )
        answer = self._json(response, endpoint, "the token response")
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthorisationFailed(f"the token endpoint {describe(endpoint)} gave no token")
        token_type = str(answer.get("token_type", "bearer"))
        if token_type.lower() != "bearer":
            raise AuthorisationFailed(
                f"the token endpoint {describe(endpoint)} gave a {token_type!r} token, not bearer"
            )
        lifetime = answer.get("expires_in", DEFAULT_TOKEN_LIFETIME_S)
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME_S
        self._token = token
        self._expires_at = self.clock() + float(lifetime)

    def _deadline(self, what: str) -> Deadline:
        return Deadline(self.timeout_s, what=what)

    @staticmethod
    def _json(response: Any, url: str, what: str) -> dict[str, Any]:
        if response.status != 200:
            raise AuthorisationFailed(
                f"{what} at {describe(url)} could not be read (HTTP {response.status})"
            )
        try:
            data = json.loads(response.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AuthorisationFailed(f"{what} at {describe(url)} is not JSON") from exc
        if not isinstance(data, dict):
            raise AuthorisationFailed(f"{what} at {describe(url)} is not a JSON object")
        return data


def _oauth_error(body: bytes) -> str:
    """``: invalid_client (description)`` from an OAuth error answer, shortened."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    if not isinstance(data, dict) or not data.get("error"):
        return ""
    text = str(data["error"])
    if data.get("error_description"):
        text += f" ({str(data['error_description'])[:160]})"
    return f": {text}"


__all__ = [
    "DEFAULT_SCOPE", "Authorizer", "FhirClientError", "SmartBackendAuth", "StaticBearerAuth",
]
