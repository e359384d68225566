"""Start and drive the stand-in EPR (server.mjs: Medplum's FHIR router, validating).

One Node process per test session on 127.0.0.1 and a free port; ``reset()`` empties it
between tests. It takes only access tokens that the test SMART token endpoint
(tests/servers/smart_token_server.py) says are live, by RFC 7662 introspection, and names
that endpoint in its ``/.well-known/smart-configuration``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from smart_token_server import ClientKey, SmartTokenServer

from paperfallback.fhirclient import SmartBackendAuth

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


@dataclass
class FhirEngine:
    process: subprocess.Popen[bytes]
    port: int
    admin_secret: str
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

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


def start_engine(*, token_url: str, introspect_url: str,
                 transactions: bool = False) -> FhirEngine:
    """Start server.mjs and wait for its "LISTENING <port>" line."""
    admin_secret = secrets.token_hex(16)
    env = dict(os.environ, ENGINE_ADMIN_SECRET=admin_secret,
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
    return FhirEngine(process, port[0], admin_secret, lines)


WRITER, READER = "paperfallback-send", "paperfallback-read-only"


@dataclass
class Smart:
    """The EPR's authorisation server with two registered clients (as IT registers them)."""

    server: SmartTokenServer
    writer: ClientKey
    reader: ClientKey
    unregistered: ClientKey

    def auth(self, base_url: str, *, client: str = WRITER,
             scope: str = "system/*.write") -> SmartBackendAuth:
        key = {WRITER: self.writer, READER: self.reader}.get(client, self.unregistered)
        return SmartBackendAuth(base_url, client, key.pem_path, key.kid, scope)


def engine_for(smart: Smart, *, transactions: bool = False) -> FhirEngine:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    return start_engine(token_url=smart.server.token_url,
                        introspect_url=smart.server.origin + "/auth/introspect",
                        transactions=transactions)
