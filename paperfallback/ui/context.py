"""What the app needs from its caller: the CLI's AppContext satisfies this.

A Protocol rather than an import of paperfallback.cli, because the UI and the CLI are
sibling layers that must not depend on each other (see [tool.importlinter]).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the window is built before the forms are needed (start-up, issue #15)
    from paperfallback.cache.store import CacheStore
    from paperfallback.formspec import FormCatalogue


class AppContextLike(Protocol):
    @property
    def data_dir(self) -> Path: ...

    @property
    def catalogue(self) -> FormCatalogue: ...

    @property
    def key(self) -> tuple[str, str]: ...

    def open_cache(self) -> CacheStore: ...
