"""Start and drive the stand-in EPR (server.mjs: Medplum's FHIR router, validating).

One Node process per test session on 127.0.0.1 and a free port; ``reset()`` empties it
between tests. Access tokens are HS256 JWTs signed with a secret shared with the test's
token endpoint (``mint_token`` stands for that endpoint's last step).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 30.0


def unavailable_reason() -> str | None:
    """Why the engine cannot run here, or None."""
    if not shutil.which("node"):
        return "node is not installed (the FHIR engine tests need Node 20.19+)"
    if not (HERE / "node_modules" / "@medplum" / "fhir-router").is_dir():
        return ("tests/fhir_engine/node_modules is missing: python3 scripts/dev.py test "
                "installs it (npm ci)")
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class FhirEngine:
    process: subprocess.Popen[bytes]
    port: int
    token_secret: str
    admin_secret: str
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def mint_token(self, scope: str = "system/*.write", lifetime_s: int = 300,
                   secret: str | None = None) -> str:
        """An access token as the test token endpoint issues it."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"scope": scope, "exp": int(time.time()) + lifetime_s,
                                  "sub": "paperfallback-test"}).encode())
        signature = hmac.new((secret or self.token_secret).encode(),
                             f"{header}.{claims}".encode(), hashlib.sha256).digest()
        return f"{header}.{claims}.{_b64(signature)}"

    def admin(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/_engine/{path}",
                                         method=method,
                                         headers={"X-Engine-Admin": self.admin_secret})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self.admin("reset", "POST")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("stats")
        return result

    def resources(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.admin("resources")
        return result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_engine(*, transactions: bool = False, token_url: str = "",
                 introspect_url: str = "") -> FhirEngine:
    """Start server.mjs and wait for its "LISTENING <port>" line. With ``introspect_url``
    it takes only tokens that endpoint says are live (the test SMART token server)."""
    token_secret, admin_secret = secrets.token_hex(16), secrets.token_hex(16)
    env = dict(os.environ, ENGINE_TOKEN_SECRET=token_secret, ENGINE_ADMIN_SECRET=admin_secret,
               ENGINE_TRANSACTIONS="1" if transactions else "0", ENGINE_TOKEN_URL=token_url,
               ENGINE_INTROSPECT_URL=introspect_url, ENGINE_PORT="0")
    process = subprocess.Popen(["node", str(HERE / "server.mjs")], cwd=HERE, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    lines: list[str] = []
    ready = threading.Event()
    port: list[int] = []

    def pump() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            lines.append(line)
            if line.startswith("LISTENING ") and not port:
                port.append(int(line.split()[1]))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or not port:
        process.kill()
        raise RuntimeError("the FHIR engine did not start: " + "\n".join(lines[-20:]))
    return FhirEngine(process, port[0], token_secret, admin_secret, lines)
