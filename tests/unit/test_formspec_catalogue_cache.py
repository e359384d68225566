"""The validated catalogue kept in the data folder (issue #15): used only while every form
file is byte-for-byte the same, rebuilt when one changes, and never trusted when damaged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paperfallback.formspec import catalogue as catalogue_module
from paperfallback.formspec import load_catalogue, site_catalogue
from paperfallback.formspec.catalogue_cache import CACHE_DIR, CACHE_FILE
from paperfallback.resources import forms_dir

SITE_FORM = """\
id: site-check
version: "1.0"
title: Site check
scope: patient
sections:
  - id: checks
    kind: chart
    time_field: ck_time
    export: observation
    fields:
      - {id: ck_time, label: Time, type: datetime, role: observation_time}
      - {id: ck_score, label: Score, type: number, min: 0, max: 40}
"""


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times the forms are read from YAML and validated."""
    calls: list[int] = []
    real = catalogue_module._load_site

    def counting(folders: list[Path]) -> catalogue_module.FormCatalogue:
        calls.append(1)
        return real(folders)

    monkeypatch.setattr(catalogue_module, "_load_site", counting)
    return calls


def _site(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "pf-data"
    data.mkdir()
    site = tmp_path / "site-forms"
    site.mkdir()
    (site / "site-check.yaml").write_text(SITE_FORM, encoding="utf-8")
    return data, site


def _same(a: catalogue_module.FormCatalogue, b: catalogue_module.FormCatalogue) -> None:
    assert a.ids() == b.ids()
    assert [f.model_dump() for f in a] == [f.model_dump() for f in b]
    assert a.problems == b.problems
    assert [f.id for f in a.in_load_order()] == [f.id for f in b.in_load_order()]


def test_the_second_load_comes_from_the_cache_and_equals_a_fresh_load(
        tmp_path: Path, loads: list[int]) -> None:
    data, site = _site(tmp_path)
    first = site_catalogue([str(site)], data)
    second = site_catalogue([str(site)], data)
    assert len(loads) == 1
    _same(first, second)
    assert "site-check" in second and "news2" in second
    fresh = catalogue_module._load_site([forms_dir(), site])
    _same(second, fresh)
    assert second.get("news2") == load_catalogue().get("news2")


def test_the_cache_is_in_the_data_folder_never_beside_the_forms(tmp_path: Path) -> None:
    data, site = _site(tmp_path)
    site_catalogue([str(site)], data)
    assert (data / CACHE_DIR / CACHE_FILE).is_file()
    assert sorted(p.name for p in site.iterdir()) == ["site-check.yaml"]
    assert not any(p.suffix != ".yaml" for p in forms_dir().iterdir() if p.is_file()
                   and p.name != "README.md")
    if os.name != "nt":
        assert (data / CACHE_DIR / CACHE_FILE).stat().st_mode & 0o077 == 0


def test_an_edited_site_form_is_never_served_from_the_cache(
        tmp_path: Path, loads: list[int]) -> None:
    data, site = _site(tmp_path)
    assert site_catalogue([str(site)], data).get("site-check").title == "Site check"
    path = site / "site-check.yaml"
    stat = path.stat()
    path.write_text(SITE_FORM.replace("title: Site check", "title: Site chock"),
                    encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and time: bytes
    assert site_catalogue([str(site)], data).get("site-check").title == "Site chock"
    assert len(loads) == 2


def test_added_removed_and_renamed_forms_and_folders_rebuild_it(
        tmp_path: Path, loads: list[int]) -> None:
    data, site = _site(tmp_path)
    site_catalogue([str(site)], data)
    (site / "site-two.yaml").write_text(SITE_FORM.replace("id: site-check", "id: site-two"),
                                        encoding="utf-8")
    assert "site-two" in site_catalogue([str(site)], data)
    (site / "site-two.yaml").unlink()
    assert "site-two" not in site_catalogue([str(site)], data)
    missing = tmp_path / "later"
    assert site_catalogue([str(site), str(missing)], data).problems  # named, not there
    missing.mkdir()
    assert site_catalogue([str(site), str(missing)], data).problems == []
    (site / "site-check.yaml").rename(site / "site-check.yml")
    assert "site-check" not in site_catalogue([str(site)], data)
    assert len(loads) == 6


def test_a_broken_site_form_stays_named_when_cached(tmp_path: Path,
                                                    loads: list[int]) -> None:
    data, site = _site(tmp_path)
    (site / "site-check.yaml").write_text(SITE_FORM.replace("type: number", "type: numbr"),
                                          encoding="utf-8")
    first = site_catalogue([str(site)], data)
    second = site_catalogue([str(site)], data)
    assert len(loads) == 1
    assert "site-check" not in second and second.problems == first.problems
    assert "numbr" in second.problems[0] or "type" in second.problems[0]


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty", "not-a-catalogue"])
def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path: Path, loads: list[int],
                                                damage: str) -> None:
    data, site = _site(tmp_path)
    good = site_catalogue([str(site)], data)
    path = data / CACHE_DIR / CACHE_FILE
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-10] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "garbage":
        raw = bytearray(b"\x80\x05garbage" * 20)
    elif damage == "empty":
        raw = bytearray()
    else:  # a well-formed file whose payload is something else, digest and all
        import hashlib
        import pickle

        from paperfallback import derived_cache

        payload = pickle.dumps({"not": "a catalogue"})
        head = len(derived_cache._MAGIC) + derived_cache._DIGEST
        raw = bytearray(bytes(raw[:head]) + hashlib.sha256(payload).digest() + payload)
    path.write_bytes(bytes(raw))
    again = site_catalogue([str(site)], data)
    _same(good, again)
    assert len(loads) == 2
    site_catalogue([str(site)], data)  # rewritten whole: served from it again
    assert len(loads) == 2


def test_an_unwritable_data_folder_still_loads_the_forms(tmp_path: Path,
                                                         loads: list[int]) -> None:
    data, site = _site(tmp_path)
    (data / CACHE_DIR).write_text("a file where the folder should be", encoding="utf-8")
    for _ in range(2):
        assert "site-check" in site_catalogue([str(site)], data)
    assert len(loads) == 2
    absent = tmp_path / "no-such-data-folder"
    assert "news2" in site_catalogue([], absent)
    assert not absent.exists()  # loading forms never creates the data folder


def test_forms_dir_extra_folders_are_read_from_their_files(tmp_path: Path) -> None:
    data, site = _site(tmp_path)
    site_catalogue([], data)
    catalogue = site_catalogue([], data, site)
    assert "site-check" in catalogue
    (site / "site-check.yaml").write_text(SITE_FORM.replace("Site check", "Changed"),
                                          encoding="utf-8")
    assert site_catalogue([], data, site).get("site-check").title == "Changed"
    # the bundled forms keep their load order ahead of the extra folder's
    assert catalogue.in_load_order()[-1].id == "site-check"


def test_a_print_with_the_cache_parses_and_validates_nothing(tmp_path: Path) -> None:
    """The point of the cache: no YAML parser, no pydantic validator built."""
    data, site = _site(tmp_path)
    (data / "settings.json").write_text(json.dumps({"form_dirs": [str(site)]}),
                                        encoding="utf-8")
    code = (
        "import sys, json\n"
        "from paperfallback.cli.context import AppContext\n"
        "ctx = AppContext(data_dir_option=sys.argv[1])\n"
        "assert 'site-check' in ctx.catalogue\n"
        "from paperfallback.render.pack import _cover_spec\n"
        "_cover_spec()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('yaml', "
        "'pydantic.plugin._loader')))))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True,
                           text=True, check=True) for _ in range(2)]
    assert "yaml" in json.loads(runs[0].stdout)  # the first run loads the YAML
    assert json.loads(runs[1].stdout) == []


class _Planted:
    """A payload that runs a command when unpickled by plain ``pickle.loads``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_cache_file_runs_no_code(tmp_path: Path, loads: list[int]) -> None:
    """Someone who can write the data folder plants a kept catalogue with correct digests
    whose payload would run a command: it is refused as damaged, nothing runs, the forms
    are loaded from their files."""
    import hashlib
    import pickle

    from paperfallback import derived_cache

    data, site = _site(tmp_path)
    good = site_catalogue([str(site)], data)
    path = data / CACHE_DIR / CACHE_FILE
    raw = path.read_bytes()
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Planted(marker))
    head = len(derived_cache._MAGIC) + derived_cache._DIGEST
    path.write_bytes(raw[:head] + hashlib.sha256(payload).digest() + payload)
    again = site_catalogue([str(site)], data)
    assert not marker.exists()
    _same(good, again)
    assert len(loads) == 2
