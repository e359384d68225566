"""A passphrase's page key derived once per process and data folder (issue #15), with
stores that the passphrase itself still opens, old and new, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from paperfallback.cache import key_derivation
from paperfallback.cache.encrypted_db import open_encrypted
from paperfallback.domain.errors import WrongKey

PASSPHRASE = "correct horse battery staple — ŵ"


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Forget what this process derived, and count the derivations done here."""
    monkeypatch.setattr(key_derivation, "_derived", {})
    calls: list[bytes] = []
    real = key_derivation._pbkdf2

    def counting(passphrase: bytes, salt: bytes) -> bytes:
        calls.append(salt)
        return real(passphrase, salt)

    monkeypatch.setattr(key_derivation, "_pbkdf2", counting)
    yield calls


def _plain_open(path: Path, passphrase: str) -> list[Any]:
    """Open as SQLCipher alone would, with the passphrase: the compatibility check."""
    conn = sqlcipher3.connect(str(path))
    try:
        conn.execute("PRAGMA key = '" + passphrase.replace("'", "''") + "'")
        return conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


def _create(path: Path, passphrase: str = PASSPHRASE) -> None:
    conn = open_encrypted(path, passphrase)
    conn.execute(f"CREATE TABLE {path.stem} (x)")
    conn.close()


def test_a_new_folders_two_stores_need_one_derivation(
        tmp_path: Path, fresh_process: list[bytes]) -> None:
    _create(tmp_path / "cache.db")
    _create(tmp_path / "work.db")
    assert key_derivation.file_salt(tmp_path / "cache.db") == key_derivation.file_salt(
        tmp_path / "work.db")
    assert len(fresh_process) == 1
    # the next command (a new process): one derivation opens both, none is left to SQLCipher
    key_derivation._derived.clear()
    fresh_process.clear()
    for name in ("cache.db", "work.db"):
        open_encrypted(tmp_path / name, PASSPHRASE).close()
    assert len(fresh_process) == 1
    # and the passphrase alone still opens each file, as before
    assert _plain_open(tmp_path / "cache.db", PASSPHRASE) == [("cache",)]
    assert _plain_open(tmp_path / "work.db", PASSPHRASE) == [("work",)]


def test_stores_made_with_the_passphrase_alone_still_open(
        tmp_path: Path, fresh_process: list[bytes]) -> None:
    """Existing data folders: each file has its own salt (made before this change)."""
    for name in ("cache.db", "work.db"):
        conn = sqlcipher3.connect(str(tmp_path / name))
        conn.execute("PRAGMA key = '" + PASSPHRASE + "'")
        conn.execute(f"CREATE TABLE {name[:-3]} (x)")
        conn.close()
    for _ in range(3):  # the app re-opens: derived once per file, then kept
        for name in ("cache.db", "work.db"):
            conn = open_encrypted(tmp_path / name, PASSPHRASE)
            assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [
                (name[:-3],)]
            conn.close()
    assert len(fresh_process) == 2  # once per file (per salt), then kept for the process


def test_a_wrong_passphrase_is_still_the_wrong_key(tmp_path: Path) -> None:
    _create(tmp_path / "cache.db")
    _create(tmp_path / "work.db")
    before = (tmp_path / "work.db").read_bytes()
    for _ in range(2):
        with pytest.raises(WrongKey, match="key is wrong"):
            open_encrypted(tmp_path / "work.db", "not the passphrase")
    assert (tmp_path / "work.db").read_bytes() == before
    with pytest.raises(sqlcipher3.DatabaseError):
        _plain_open(tmp_path / "cache.db", "not the passphrase")


def test_raw_keys_are_never_derived(tmp_path: Path, fresh_process: list[bytes]) -> None:
    raw = "ab" * 32
    _create(tmp_path / "cache.db", raw)
    _create(tmp_path / "work.db", raw)
    open_encrypted(tmp_path / "cache.db", raw).close()
    assert fresh_process == []


def test_a_key_derived_ahead_on_a_thread_opens_both_stores(
        tmp_path: Path, fresh_process: list[bytes]) -> None:
    """The print command starts the derivation before its imports (issue #15): the opens
    then take the thread's key, the same one, and derive nothing themselves."""
    _create(tmp_path / "cache.db")
    _create(tmp_path / "work.db")
    expected = dict(key_derivation._derived)
    key_derivation._derived.clear()
    fresh_process.clear()
    key_derivation.derive_ahead(tmp_path, PASSPHRASE)
    for name in ("cache.db", "work.db"):
        conn = open_encrypted(tmp_path / name, PASSPHRASE)
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [(name[:-3],)]
        conn.close()
    assert fresh_process == []  # the thread's hashlib PBKDF2, not the open's
    assert key_derivation._derived == expected
    assert key_derivation._ahead == {}


def test_nothing_is_derived_ahead_for_raw_keys_or_folders_without_stores(
        tmp_path: Path) -> None:
    key_derivation.derive_ahead(tmp_path, PASSPHRASE)  # no stores yet
    raw = "ab" * 32
    _create(tmp_path / "cache.db", raw)
    key_derivation.derive_ahead(tmp_path, raw)
    assert key_derivation._ahead == {} and key_derivation._derived == {}


def test_a_wrong_passphrase_derived_ahead_is_still_the_wrong_key(tmp_path: Path) -> None:
    _create(tmp_path / "cache.db")
    key_derivation._derived.clear()
    key_derivation.derive_ahead(tmp_path, "not the passphrase")
    with pytest.raises(WrongKey, match="key is wrong"):
        open_encrypted(tmp_path / "cache.db", "not the passphrase")
    open_encrypted(tmp_path / "cache.db", PASSPHRASE).close()


def test_the_print_command_starts_the_derivation_before_it_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperfallback.cli.context import AppContext

    _create(tmp_path / "cache.db")
    monkeypatch.setenv("PAPERFALLBACK_KEY", PASSPHRASE)
    started: list[Path] = []
    monkeypatch.setattr(key_derivation, "derive_ahead",
                        lambda folder, key: started.append(folder))
    AppContext(data_dir_option=str(tmp_path)).derive_key_ahead()
    assert started == [tmp_path]
    empty = tmp_path / "empty"
    empty.mkdir()
    AppContext(data_dir_option=str(empty)).derive_key_ahead()
    assert started == [tmp_path]  # no stores: no key is looked up or created
    assert sorted(p.name for p in empty.iterdir()) == []
