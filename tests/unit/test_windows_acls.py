"""Windows ACLs of the data folder (issue #12: self-test fails on a key file others can
read). Read from ``icacls`` output as a ward PC prints it; POSIX modes are tested in
tests/faults/test_private_files.py."""

from __future__ import annotations

from pathlib import Path

from paperfallback.settings import KEY_FILE, broad_read_entries, loose_permissions

PRIVATE = r"""C:\Users\nurse\AppData\Local\PaperFallback\cache.key NT AUTHORITY\SYSTEM:(F)
                                                      BUILTIN\Administrators:(F)
                                                      WARD3PC\nurse:(F)

Successfully processed 1 files; Failed processing 0 files
"""
READABLE_BY_USERS = r"""C:\Users\nurse\AppData\Local\PaperFallback\cache.key NT AUTHORITY\SYSTEM:(F)
                                                      BUILTIN\Administrators:(F)
                                                      WARD3PC\nurse:(F)
                                                      BUILTIN\Users:(RX)

Successfully processed 1 files; Failed processing 0 files
"""
FOLDER_OPEN = r"""C:\ProgramData\PaperFallback NT AUTHORITY\SYSTEM:(OI)(CI)(F)
                            Everyone:(OI)(CI)(M)
                            NT AUTHORITY\Authenticated Users:(DENY)(OI)(CI)(R)

Successfully processed 1 files; Failed processing 0 files
"""


def test_broad_read_entries_are_found_and_deny_entries_are_not() -> None:
    assert broad_read_entries(PRIVATE) == []
    assert broad_read_entries(READABLE_BY_USERS) == [r"BUILTIN\Users:(RX)"]
    assert broad_read_entries(FOLDER_OPEN) == ["Everyone:(OI)(CI)(M)"]


def test_a_key_file_other_users_can_read_is_a_fault_on_windows(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("k")
    (tmp_path / "cache.db").write_bytes(b"x")
    listings = {tmp_path / KEY_FILE: READABLE_BY_USERS, tmp_path: FOLDER_OPEN,
                tmp_path / "cache.db": PRIVATE}
    faults, warnings = loose_permissions(tmp_path, read_acl=lambda p: listings.get(p, ""))
    assert len(faults) == 1 and r"BUILTIN\Users:(RX)" in faults[0]
    assert "docs/install.md" in faults[0]
    assert warnings == [f"{tmp_path.name} readable by Everyone:(OI)(CI)(M)"]
    listings[tmp_path / KEY_FILE] = PRIVATE
    assert loose_permissions(tmp_path, read_acl=lambda p: listings.get(p, ""))[0] == []
