"""Fault 7: a refresh killed with kill -9 mid-download leaves plaintext NDJSON (names in
Encounter) in ``refresh-tmp/export-*``. The next run of any command removes it; a
download still in progress in another process is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pf_fault_helpers import Run

DOWNLOADER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from paperfallback.cache.refresh import private_temp_folder
    with private_temp_folder(Path(sys.argv[1])) as folder:
        (folder / "Encounter.ndjson").write_text('{"name": "TEST, Synthetic"}\\n')
        print(folder, flush=True)
        time.sleep(60)
""")


def test_a_killed_refresh_leaves_nothing_after_the_next_command(
        data_dir: Path, run: Run, blank_prints: object) -> None:
    child = subprocess.Popen([sys.executable, "-c", DOWNLOADER, str(data_dir)],
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert child.stdout is not None
        download = Path(child.stdout.readline().strip())
        assert (download / "Encounter.ndjson").exists()
        run("cache", "status", "--json")
        assert download.exists(), "a live download is not touched"
    finally:
        child.kill()  # SIGKILL: the refresh cannot clean up after itself
        child.wait()
    assert (download / "Encounter.ndjson").exists()
    blank_prints()  # type: ignore[operator]  # any command: here a blank print
    assert not download.exists()
    assert not list((data_dir / "refresh-tmp").glob("export-*"))
