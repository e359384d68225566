"""A local SMART Backend Services token endpoint, for tests (stdlib http.server, 127.0.0.1).

It plays the EPR's authorisation server strictly, as the SMART App Launch 2 "Backend
Services" profile and RFC 7523 say, so the client is tested against the rules and not
against our own reading of them:

- ``GET {base}/.well-known/smart-configuration`` names ``{origin}/auth/token``.
- ``POST /auth/token`` (form): ``grant_type=client_credentials``, the jwt-bearer
  ``client_assertion_type``, a ``client_assertion`` signed (RS384 or ES384) by the key
  registered for the client (``register``), with ``iss`` = ``sub`` = client id, ``aud`` =
  the token URL, ``exp`` no more than 5 minutes ahead, and a ``jti`` never seen before;
  a scope the client is allowed. Anything else: 400/401 with an OAuth ``error``, and the
  reason appended to ``refusals``.
- ``POST /auth/introspect`` (RFC 7662, ``token=...``): ``{"active": bool, "scope", ...}``,
  so a resource server in another process (the Node FHIR engine) can check a token.
- ``check_bearer(authorization_header)`` does the same in-process.

Reuse (helper "send", other suites)::

    from smart_token_server import SmartTokenServer, make_client_key
    key = make_client_key(tmp_path, "ES384", kid="pc-1")   # private PEM (0600) + public JWK
    with SmartTokenServer() as server:
        server.register("ward-pc", key.public_jwk)
        ...  SmartBackendAuth(server.base_url, "ward-pc", key.pem_path, "pc-1") ...

``tests/conftest.py`` offers the fixtures ``smart_token_server`` and ``smart_client_key``.
Routes other than the above can be added with ``extra_routes`` (``(method, path) ->
handler(request) -> (status, headers, body)``) so one server can also be the FHIR server.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_S = 300
CLOCK_SKEW_S = 10

# bytes, or a writer given the socket file (streaming); with status 0 the writer sends the
# status line and headers too (a server that drips even those)
Body = bytes | Callable[[Any], None]
Answer = tuple[int, dict[str, str], Body]


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Route = Callable[[Request], Answer]


@dataclass
class ClientKey:
    """A client's key pair as test files: the private PEM (mode 0600) and the public JWK."""

    pem_path: Path
    jwks_path: Path  # the private key as a JWKS file (mode 0600)
    public_jwk: dict[str, Any]
    algorithm: str
    kid: str


def make_client_key(folder: Path, algorithm: str = "ES384", kid: str = "test-key-1") -> ClientKey:
    """A fresh key pair (EC P-384 for ES384, RSA 2048 for RS384) written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
        algo: Any = jwt.algorithms.ECAlgorithm
    elif algorithm == "RS384":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        algo = jwt.algorithms.RSAAlgorithm
    else:
        raise ValueError(algorithm)
    pem = private.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pem_path = folder / f"{kid}.pem"
    pem_path.write_bytes(pem)
    pem_path.chmod(0o600)
    private_jwk = json.loads(algo.to_jwk(private))
    private_jwk.update({"kid": kid, "alg": algorithm})
    jwks_path = folder / f"{kid}.jwks.json"
    jwks_path.write_text(json.dumps({"keys": [private_jwk]}), encoding="utf-8")
    jwks_path.chmod(0o600)
    public = json.loads(algo.to_jwk(private.public_key()))
    public.update({"kid": kid, "alg": algorithm, "use": "sig"})
    return ClientKey(pem_path, jwks_path, public, algorithm, kid)


@dataclass
class _Client:
    keys: list[dict[str, Any]]
    scopes: tuple[str, ...]


@dataclass
class _Token:
    client_id: str
    scope: str
    expires_at: float


class SmartTokenServer:
    """Token endpoint (and, through ``extra_routes``, anything else) on 127.0.0.1."""

    def __init__(
        self,
        *,
        fhir_path: str = "/fhir",
        token_lifetime_s: int = 300,
        extra_routes: dict[tuple[str, str], Route] | None = None,
        prefix_routes: dict[tuple[str, str], Route] | None = None,
    ) -> None:
        self.fhir_path = fhir_path.rstrip("/")
        self.token_lifetime_s = token_lifetime_s
        self.routes = dict(extra_routes or {})
        self.prefix_routes = dict(prefix_routes or {})
        self.clients: dict[str, _Client] = {}
        self.tokens: dict[str, _Token] = {}
        self.seen_jti: set[str] = set()
        self.refusals: list[str] = []
        self.token_requests = 0
        self.requests: list[Request] = []
        self._lock = threading.RLock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    # ---- addresses ----------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The FHIR base whose .well-known/smart-configuration this server answers."""
        return self.origin + self.fhir_path

    @property
    def token_url(self) -> str:
        return self.origin + "/auth/token"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SmartTokenServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- clients and tokens -------------------------------------------------------------

    def register(self, client_id: str, public_jwk: dict[str, Any],
                 scopes: tuple[str, ...] = ("system/*.read",)) -> None:
        """Register a client's public key (as IT does with the EPR) and allowed scopes."""
        client = self.clients.setdefault(client_id, _Client([], scopes))
        client.keys.append(public_jwk)
        client.scopes = scopes

    def check_bearer(self, authorization: str | None, needed_scope: str = "") -> bool:
        """Is ``Authorization: Bearer <token>`` a live token of this server (with scope)?"""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        token = self.tokens.get(authorization.removeprefix("Bearer ").strip())
        if token is None or token.expires_at < time.time():
            return False
        return not needed_scope or _scope_covers(token.scope, needed_scope)

    def expire_all_tokens(self) -> None:
        for token in self.tokens.values():
            token.expires_at = 0

    # ---- the token endpoint -------------------------------------------------------------

    def _token(self, req: Request) -> Answer:
        with self._lock:
            self.token_requests += 1
        form = {k: v[0] for k, v in urllib.parse.parse_qs(req.body.decode("ascii")).items()}
        if form.get("grant_type") != "client_credentials":
            return self._refuse(400, "unsupported_grant_type", "grant_type must be "
                                "client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return self._refuse(400, "invalid_request", "wrong client_assertion_type")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            return self._refuse(400, "invalid_request", f"malformed assertion: {exc}")
        client_id = str(unverified.get("iss", ""))
        client = self.clients.get(client_id)
        if client is None:
            return self._refuse(401, "invalid_client", f"unknown client {client_id!r}")
        if header.get("alg") not in ("RS384", "ES384"):
            return self._refuse(401, "invalid_client", f"alg {header.get('alg')} not allowed")
        keys = [k for k in client.keys if not header.get("kid") or k.get("kid") == header["kid"]]
        claims = None
        for jwk in keys:
            try:
                claims = jwt.decode(
                    assertion, jwt.PyJWK(jwk).key, algorithms=[str(header["alg"])],
                    audience=self.token_url, options={"require": ["exp", "jti", "iss", "sub"]},
                    leeway=CLOCK_SKEW_S,
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                return self._refuse(401, "invalid_client", f"assertion refused: {exc}")
        if claims is None:
            return self._refuse(401, "invalid_client", "signature does not match a registered key")
        if claims["sub"] != client_id:
            return self._refuse(401, "invalid_client", "sub must equal iss (the client id)")
        if claims["exp"] - time.time() > MAX_ASSERTION_LIFETIME_S + CLOCK_SKEW_S:
            return self._refuse(401, "invalid_client", "exp more than 5 minutes ahead")
        with self._lock:
            if claims["jti"] in self.seen_jti:
                return self._refuse(401, "invalid_client", "jti already used (replay)")
            self.seen_jti.add(str(claims["jti"]))
        scope = form.get("scope", "")
        if not scope or not all(any(_scope_covers(allowed, s) for allowed in client.scopes)
                                for s in scope.split()):
            return self._refuse(400, "invalid_scope", f"scope {scope!r} not allowed")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = _Token(client_id, scope, time.time() + self.token_lifetime_s)
        return _json(200, {"access_token": token, "token_type": "bearer",
                           "expires_in": self.token_lifetime_s, "scope": scope})

    def _refuse(self, status: int, error: str, why: str) -> Answer:
        with self._lock:
            self.refusals.append(why)
        return _json(status, {"error": error, "error_description": why})

    def _introspect(self, req: Request) -> Answer:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(req.body.decode("ascii")).items()}
        token = self.tokens.get(form.get("token", ""))
        if token is None or token.expires_at < time.time():
            return _json(200, {"active": False})
        return _json(200, {"active": True, "scope": token.scope, "client_id": token.client_id,
                           "exp": int(token.expires_at), "token_type": "bearer"})

    def _configuration(self, req: Request) -> Answer:
        return _json(200, {
            "token_endpoint": self.token_url,
            "introspection_endpoint": self.origin + "/auth/introspect",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["system/*.read", "system/*.rs", "system/*.write"],
            "capabilities": ["client-confidential-asymmetric"],
        })

    # ---- HTTP ---------------------------------------------------------------------------

    def _route(self, req: Request) -> Answer:
        if req.method == "GET" and req.path == self.fhir_path + "/.well-known/smart-configuration":
            return self._configuration(req)
        if req.method == "POST" and req.path == "/auth/token":
            return self._token(req)
        if req.method == "POST" and req.path == "/auth/introspect":
            return self._introspect(req)
        route = self.routes.get((req.method, req.path))
        if route is None:
            for (method, prefix), handler in self.prefix_routes.items():
                if method == req.method and req.path.startswith(prefix):
                    route = handler
                    break
        if route is None:
            return 404, {}, b""
        return route(req)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urllib.parse.urlsplit(self.path)
                req = Request(self.command, parts.path, urllib.parse.parse_qs(parts.query),
                              dict(self.headers), body)
                server.requests.append(req)
                status, headers, payload = server._route(req)
                if status == 0 and not isinstance(payload, bytes):  # raw: the writer does all
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        payload(self.wfile)
                    self.close_connection = True
                    return
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers and isinstance(payload, bytes):
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    if isinstance(payload, bytes):
                        self.wfile.write(payload)
                    else:
                        payload(self.wfile)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up: that is the test

            do_GET = do_POST = do_DELETE = _serve

        return Handler


def _scope_covers(allowed: str, wanted: str) -> bool:
    """``system/*.read`` covers ``system/Patient.read``; equal scopes cover each other."""
    if allowed == wanted:
        return True
    a_ctx, _, a_rest = allowed.partition("/")
    w_ctx, _, w_rest = wanted.partition("/")
    a_type, _, a_perm = a_rest.partition(".")
    w_type, _, w_perm = w_rest.partition(".")
    return a_ctx == w_ctx and a_type in ("*", w_type) and a_perm == w_perm


def _json(status: int, data: object) -> Answer:
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, (
        json.dumps(data).encode("utf-8"))
