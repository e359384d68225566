"""What every command needs: the data folder, the settings, the key and the stores.

The stores and the form catalogue are imported when first used, not with this module, so
a command can start deriving the key (:meth:`AppContext.derive_key_ahead`) before it pays
for its imports (issue #15).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from paperfallback.domain.errors import PaperFallbackError
from paperfallback.settings import ENCRYPTED_FILES, Settings, cache_key, data_dir

if TYPE_CHECKING:
    from paperfallback.cache.store import CacheStore
    from paperfallback.formspec import FormCatalogue
    from paperfallback.workstore import WorkStore


@dataclass
class AppContext:
    data_dir_option: str | None = None
    debug: bool = False
    _stores: list[CacheStore | WorkStore] = field(default_factory=list)

    @cached_property
    def data_dir(self) -> Path:
        return data_dir(self.data_dir_option)

    @cached_property
    def settings(self) -> Settings:
        return Settings.load(self.data_dir)

    @cached_property
    def catalogue(self) -> FormCatalogue:
        """The forms, loaded once: bundled, then the site folders of ``form_dirs``.

        Printing, keying, workbooks, reconciliation and export all use this one, so a
        site form is printed, keyed and exported alike. Site forms that do not load are
        named once on stderr (and by ``self-test``); the others still work.
        """
        from paperfallback.formspec import site_catalogue

        try:
            form_dirs = self.settings.form_dirs
        except PaperFallbackError:  # reported where the settings are used; forms still print
            form_dirs = []
        catalogue = site_catalogue(form_dirs, self.data_dir)
        for problem in catalogue.problems:
            log.warning("site form left out: %s", problem)
            print(f"paperfallback: warning: site form left out: {problem}", file=sys.stderr)
        return catalogue

    @cached_property
    def key(self) -> tuple[str, str]:
        return cache_key(self.data_dir)

    def derive_key_ahead(self) -> None:
        """Start deriving a passphrase's store key on a thread while the command imports
        and loads its forms. Only for a folder that already has stores (no key is ever
        created here); any fault is left for the store's own open to report."""
        folder = self.data_dir
        if not any((folder / name).exists() for name in ENCRYPTED_FILES):
            return
        try:
            key, _source = self.key
        except PaperFallbackError:
            return
        from paperfallback.cache.key_derivation import derive_ahead

        derive_ahead(folder, key)

    def open_cache(self, *, write: bool = False) -> CacheStore:
        """The cache, read-only unless ``write`` (imports, refresh, demo): a reader never
        writes, so it never waits for a refresh in another process."""
        from paperfallback.cache.store import CacheStore

        key, source = self.key
        store = CacheStore.open(self.data_dir, key, key_source=source, readonly=not write)
        self._stores.append(store)
        return store

    def open_work(self) -> WorkStore:
        """The work store (register, entries, export state), closed with the context."""
        from paperfallback.workstore import WorkStore

        key, source = self.key
        work = WorkStore.open(self.data_dir, key, key_source=source)
        self._stores.append(work)
        return work

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self._stores.clear()


log = logging.getLogger("paperfallback")
