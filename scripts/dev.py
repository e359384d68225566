#!/usr/bin/env python3
"""One-command set-up for a fresh machine with only Python 3.11+.

    python3 scripts/dev.py app    # create .venv, install, build the demo if needed, run the app
    python3 scripts/dev.py test   # create .venv, install with test extras, run every check and test

The virtual environment is rebuilt when pyproject.toml changes (a hash stamp in .venv).
``test`` also installs the stand-in EPR the FHIR send tests run against (``npm ci`` in
tests/fhir_engine, again whenever package-lock.json changes); without node and npm those
tests skip and say why.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must explain, not crash
        sys.exit("PaperFallback needs Python 3.11 or newer")
    stamp = VENV / f".installed-{extras or 'app'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f".[{extras}]" if extras else "."
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", spec], cwd=ROOT, check=True)
    stamp.write_text(digest)


def ensure_fhir_engine() -> bool:
    """``npm ci`` the test FHIR engine when node_modules is missing or older than the lock.
    False only when the install failed on CI (there a skipped engine test would hide it)."""
    engine = ROOT / "tests" / "fhir_engine"
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        print("note: node/npm not found: the FHIR engine tests will be skipped", flush=True)
        return True
    digest = hashlib.sha256((engine / "package-lock.json").read_bytes()).hexdigest()
    stamp = engine / "node_modules" / ".paperfallback-lock"
    if stamp.exists() and stamp.read_text() == digest:
        return True
    print("Installing the test FHIR engine (npm ci in tests/fhir_engine) ...", flush=True)
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=engine).returncode == 0
    if done:
        stamp.write_text(digest)
        return True
    print("warning: npm ci failed: the FHIR engine tests will be skipped", flush=True)
    return not os.environ.get("CI")


def run(cmd: list[str], env: dict[str, str] | None = None) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def app(args: list[str]) -> int:
    ensure_venv("")
    pf = [str(PY), "-m", "paperfallback"]
    status = subprocess.run([*pf, "cache", "status", "--json"], capture_output=True, text=True)
    if status.returncode != 0 or '"has_snapshot": false' in status.stdout:
        code = run([*pf, "demo"])
        if code:
            return code
    return run([*pf, *args, "gui"])


def test(args: list[str]) -> int:
    ensure_venv("test")
    if not ensure_fhir_engine():
        return 1
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env.setdefault("PAPERFALLBACK_KEY", "test-key-not-secret")
    checks = [
        [str(PY), "-m", "ruff", "check", "paperfallback", "tests", "benchmarks", "scripts"],
        [str(PY), "-m", "mypy"],
        [str(BIN / "lint-imports")],
    ]
    for check in checks:
        if run(check, env):
            return 1
    return run([str(PY), "-m", "pytest", "-q", *args], env)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("app", "test"):
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    return app(rest) if command == "app" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
