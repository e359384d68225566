"""SMART Backend Services against a strict local token endpoint (tests/servers/).

The endpoint verifies what the SMART profile and RFC 7523 require (signature with the
registered public key, iss = sub = client id, aud = token URL, exp at most 5 minutes
ahead, a jti never seen before); these tests show our client passes it, that it refuses
each kind of bad assertion, and that the token only ever goes to the FHIR server's origin.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from smart_token_server import ClientKey, SmartTokenServer, make_client_key

from paperfallback.fhirclient.errors import AuthorisationFailed, FhirClientError
from paperfallback.fhirclient.private_key import load_private_key, public_jwks
from paperfallback.fhirclient.safe_http import check_token_transport
from paperfallback.fhirclient.smart_auth import SmartBackendAuth, StaticBearerAuth

CLIENT = "ward-pc-7"


def _auth(server: SmartTokenServer, key: ClientKey, path: Path | None = None,
          **kwargs: Any) -> SmartBackendAuth:
    return SmartBackendAuth(server.base_url, CLIENT, path or key.pem_path, key.kid,
                            "system/*.read", **kwargs)


@pytest.mark.parametrize("algorithm, use_jwks", [("ES384", False), ("RS384", True)])
def test_a_registered_client_gets_a_token_and_keeps_it_until_it_expires(
    smart_token_server: SmartTokenServer, tmp_path: Path, algorithm: str, use_jwks: bool
) -> None:
    key = make_client_key(tmp_path, algorithm, kid="k1")
    smart_token_server.register(CLIENT, key.public_jwk)
    smart_token_server.token_lifetime_s = 61  # renewed 60 s before expiry: cached for 1 s
    auth = _auth(smart_token_server, key, key.jwks_path if use_jwks else None)

    headers = auth.headers_for(smart_token_server.base_url + "/Patient")
    assert smart_token_server.check_bearer(headers["Authorization"])
    assert auth.headers_for(smart_token_server.base_url + "/$export") == headers
    assert smart_token_server.token_requests == 1  # cached
    time.sleep(1.1)  # now within a minute of expiry: renewed before it runs out
    assert auth.headers_for(smart_token_server.base_url + "/x") != headers
    assert smart_token_server.token_requests == 2
    assert smart_token_server.refusals == []


def test_the_assertion_carries_what_the_profile_requires(
    smart_token_server: SmartTokenServer, smart_client_key: ClientKey
) -> None:
    auth = _auth(smart_token_server, smart_client_key)
    token_url = auth.token_endpoint
    assert token_url == smart_token_server.token_url
    first, second = auth.client_assertion(token_url), auth.client_assertion(token_url)
    header = jwt.get_unverified_header(first)
    claims = jwt.decode(first, jwt.PyJWK(smart_client_key.public_jwk).key,
                        algorithms=["ES384"], audience=token_url)
    assert header["alg"] == "ES384" and header["kid"] == smart_client_key.kid
    assert claims["iss"] == claims["sub"] == CLIENT
    assert 0 < claims["exp"] - time.time() <= 300
    assert claims["jti"] != jwt.decode(second, options={"verify_signature": False})["jti"]


def _post_assertion(server: SmartTokenServer, assertion: str,
                    scope: str = "system/*.read") -> tuple[int, dict[str, Any]]:
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials", "scope": scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }).encode()
    try:
        with urllib.request.urlopen(server.token_url, data=form, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("change, reason", [
    ({"aud": "https://elsewhere.example/token"}, "audience"),
    ({"sub": "someone-else"}, "sub must equal iss"),
    ({"exp_in": 3600}, "exp more than 5 minutes"),
    ({"exp_in": -120}, "expired"),
    ({"other_key": True}, "signature"),
    ({"iss": "unknown-pc"}, "unknown client"),
])
def test_the_token_endpoint_refuses_a_bad_assertion(
    smart_token_server: SmartTokenServer, smart_client_key: ClientKey, tmp_path: Path,
    change: dict[str, Any], reason: str,
) -> None:
    smart_token_server.register(CLIENT, smart_client_key.public_jwk)
    signer = make_client_key(tmp_path / "other", "ES384", kid=smart_client_key.kid) if (
        change.get("other_key")) else smart_client_key
    now = int(time.time())
    claims = {"iss": change.get("iss", CLIENT), "sub": change.get("sub", CLIENT),
              "aud": change.get("aud", smart_token_server.token_url),
              "exp": now + change.get("exp_in", 240), "jti": str(uuid.uuid4())}
    key = load_private_key(signer.pem_path)
    assertion = jwt.encode(claims, key.key, algorithm="ES384",
                           headers={"kid": smart_client_key.kid})

    status, answer = _post_assertion(smart_token_server, assertion)

    assert status in (400, 401) and answer["error"] == "invalid_client"
    assert reason in smart_token_server.refusals[-1].lower() or reason in (
        smart_token_server.refusals[-1])
    assert not smart_token_server.tokens


def test_a_replayed_assertion_and_an_unregistered_scope_are_refused(
    smart_token_server: SmartTokenServer, smart_client_key: ClientKey
) -> None:
    smart_token_server.register(CLIENT, smart_client_key.public_jwk)
    auth = _auth(smart_token_server, smart_client_key)
    assertion = auth.client_assertion(smart_token_server.token_url)
    assert _post_assertion(smart_token_server, assertion)[0] == 200
    status, answer = _post_assertion(smart_token_server, assertion)
    assert status == 401 and "jti" in answer["error_description"]
    fresh = auth.client_assertion(smart_token_server.token_url)
    status, answer = _post_assertion(smart_token_server, fresh, scope="system/*.write")
    assert status == 400 and answer["error"] == "invalid_scope"


def test_a_refused_client_gets_a_message_it_can_act_on(
    smart_token_server: SmartTokenServer, smart_client_key: ClientKey
) -> None:
    auth = _auth(smart_token_server, smart_client_key)  # never registered
    with pytest.raises(AuthorisationFailed,
                       match=r"refused this PC \(HTTP 401: invalid_client.*ward-pc-7"):
        auth.headers_for(smart_token_server.base_url + "/$export")


def test_the_token_goes_only_to_the_fhir_servers_own_origin(
    smart_token_server: SmartTokenServer, smart_client_key: ClientKey
) -> None:
    smart_token_server.register(CLIENT, smart_client_key.public_jwk)
    auth = _auth(smart_token_server, smart_client_key)
    port = smart_token_server.httpd.server_address[1]
    assert auth.headers_for(f"http://127.0.0.1:{port}/storage/Patient.ndjson")  # same origin
    for elsewhere in (f"http://localhost:{port}/fhir/x", f"http://127.0.0.1:{port + 1}/fhir",
                      f"https://127.0.0.1:{port}/fhir", "https://storage.example/x"):
        assert auth.headers_for(elsewhere) == {}, elsewhere
    static = StaticBearerAuth("https://epr.example.nhs.uk/fhir/$export", "t")
    assert static.headers_for("https://epr.example.nhs.uk/fhir/status/1")
    assert static.headers_for("https://files.example.nhs.uk/1.ndjson") == {}
    with pytest.raises(FhirClientError, match="plain http"):
        check_token_transport("http://epr.example.nhs.uk/fhir")


def test_a_private_key_others_can_read_is_refused(smart_client_key: ClientKey) -> None:
    smart_client_key.pem_path.chmod(0o644)
    with pytest.raises(AuthorisationFailed, match=r"can be read by other users.*chmod 600"):
        load_private_key(smart_client_key.pem_path)


def test_the_public_jwks_for_it_matches_the_private_key(smart_client_key: ClientKey) -> None:
    key = load_private_key(smart_client_key.pem_path, smart_client_key.kid)
    jwks = public_jwks(key)
    assert "d" not in jwks["keys"][0]
    assert jwks["keys"][0]["kid"] == smart_client_key.kid
    assert jwks["keys"][0]["x"] == smart_client_key.public_jwk["x"]


def test_cli_prints_the_public_jwks_to_register_and_it_works_with_the_endpoint(
    smart_token_server: SmartTokenServer, smart_client_key: ClientKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from paperfallback.cli.main import main

    capsys.readouterr()
    assert main(["cache", "jwks", "--private-key", str(smart_client_key.pem_path),
                 "--key-id", "registered-kid"]) == 0
    jwks = json.loads(capsys.readouterr().out)
    assert "d" not in jwks["keys"][0] and jwks["keys"][0]["alg"] == "ES384"
    smart_token_server.register(CLIENT, jwks["keys"][0])  # as IT does with the EPR
    auth = SmartBackendAuth(smart_token_server.base_url, CLIENT, smart_client_key.pem_path,
                            "registered-kid")
    assert auth.headers_for(smart_token_server.base_url + "/Patient")
