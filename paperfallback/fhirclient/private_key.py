"""The PC's private key for SMART Backend Services: a PEM file or a JWKS file.

The file must be private to the user who runs PaperFallback, like the cache key file
(``settings.cache_key``): on POSIX no group or other permission bits; on Windows the
file must sit in the user's profile or data folder, whose ACL does the same job (mode
bits mean nothing there, so it is not checked). A key anyone can read lets anyone
download the trust's patient data as this PC.

Algorithms (SMART App Launch 2, Backend Services): an RSA key signs with RS384, an EC
P-384 key with ES384. A JWKS may hold several keys: the one whose ``kid`` is the
configured key id, else the only private key in it.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from paperfallback.fhirclient.errors import AuthorisationFailed

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class PrivateKey:
    key: SigningKey
    algorithm: str  # "RS384" or "ES384"
    key_id: str  # "" when neither the settings nor the JWKS name one


def require_private_file(path: Path, what: str) -> None:
    """Refuse a key file others can read or write (POSIX); name the file and the fix."""
    if not path.is_file():
        raise AuthorisationFailed(f"{what} {path} does not exist or is not a file")
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthorisationFailed(
            f"{what} {path} can be read by other users (mode {stat.S_IMODE(mode):o}); make it "
            f"private: chmod 600 {path}"
        )


def load_private_key(path: Path, key_id: str = "") -> PrivateKey:
    """Read a PEM (PKCS#8 or traditional, unencrypted) or JWKS private key file."""
    require_private_file(path, "the private key file")
    data = path.read_bytes()
    if data.lstrip().startswith(b"{"):
        return _from_jwks(path, data, key_id)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuthorisationFailed(
            f"the private key file {path} is not an unencrypted PEM private key or a JWKS "
            f"({exc})"
        ) from exc
    return PrivateKey(_signing_key(key, path), _algorithm(key, path), key_id)


def _from_jwks(path: Path, data: bytes, key_id: str) -> PrivateKey:
    import jwt

    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuthorisationFailed(f"the JWKS file {path} is not valid JSON") from exc
    keys = document.get("keys") if isinstance(document, dict) else None
    if isinstance(document, dict) and "kty" in document:
        keys = [document]  # a single JWK
    private = [k for k in keys or [] if isinstance(k, dict) and "d" in k]
    chosen = [k for k in private if key_id and k.get("kid") == key_id] or (
        private if len(private) == 1 else [])
    if not chosen:
        raise AuthorisationFailed(
            f"the JWKS file {path} has no private key"
            + (f" with kid {key_id!r}" if key_id else " (or several: set the key id)")
        )
    jwk: dict[str, Any] = chosen[0]
    try:
        key = jwt.PyJWK(jwk).key
    except (jwt.PyJWKError, ValueError, TypeError) as exc:
        raise AuthorisationFailed(f"the JWKS file {path} holds an unusable key ({exc})") from exc
    algorithm = _algorithm(key, path)
    if jwk.get("alg") and jwk["alg"] != algorithm:
        raise AuthorisationFailed(
            f"the key in {path} is for {jwk['alg']}; SMART Backend Services needs {algorithm}"
        )
    return PrivateKey(_signing_key(key, path), algorithm, key_id or str(jwk.get("kid") or ""))


def _signing_key(key: object, path: Path) -> SigningKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    raise AuthorisationFailed(f"the key in {path} is not an RSA or EC private key")


def _algorithm(key: object, path: Path) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise AuthorisationFailed(f"the RSA key in {path} is shorter than 2048 bits")
        return "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        return "ES384"
    raise AuthorisationFailed(
        f"the key in {path} is neither RSA nor EC P-384 (SMART Backend Services signs with "
        "RS384 or ES384)"
    )


def public_jwks(private: PrivateKey) -> dict[str, Any]:
    """The public half as a JWKS document, for IT to register with the EPR."""
    import jwt

    key = private.key
    text = (jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())
            if isinstance(key, rsa.RSAPrivateKey)
            else jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk: dict[str, Any] = json.loads(text)
    jwk.update({"alg": private.algorithm, "use": "sig", "key_ops": ["verify"]})
    if private.key_id:
        jwk["kid"] = private.key_id
    return {"keys": [jwk]}
