"""Find the bundled ``resources/`` and ``forms/`` folders, from source or a PyInstaller build.

From source they sit beside the ``paperfallback`` package; a PyInstaller one-folder build
unpacks them under ``sys._MEIPASS`` (build_installer.spec adds both as data folders).
"""

from __future__ import annotations

import sys
from pathlib import Path


def app_root() -> Path:
    """The folder holding ``resources/`` and ``forms/``."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return app_root() / "resources"


def forms_dir() -> Path:
    return app_root() / "forms"


def resource(*parts: str) -> Path:
    """A file under ``resources/``, e.g. ``resource("fonts", "DejaVuSans.ttf")``."""
    return resources_dir().joinpath(*parts)
