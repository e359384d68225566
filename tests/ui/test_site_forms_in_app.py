"""Site forms in the app: listed in form_dirs they are offered for printing; one that
cannot be loaded is named in the banner (and not offered) while the rest still print."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from paperfallback.settings import Settings

SITE_FORM = """\
id: site-check
version: "1.0"
title: Site check chart
scope: patient
sections:
  - id: checks
    kind: chart
    time_field: ck_time
    fields:
      - {id: ck_time, label: Time, type: datetime, role: observation_time}
      - {id: ck_score, label: Score, type: number}
"""


def test_a_site_form_is_offered_and_a_broken_one_is_named(
    tiny_cache: Path, tmp_path: Path, make_window: Callable[..., Any],
) -> None:
    from paperfallback.ui.print_dialog import form_choices

    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / "site-check.yaml").write_text(SITE_FORM, encoding="utf-8")
    (bad / "site-broken.yaml").write_text(SITE_FORM.replace("site-check", "site-broken")
                                          .replace("kind: chart", "kind: chrt"),
                                          encoding="utf-8")
    window = make_window(tiny_cache, settings=Settings(form_dirs=[str(good), str(bad)]))
    offered = {form_id for form_id, _title, _scope in form_choices("ward", window.ctx.catalogue)}
    assert "site-check" in offered and "news2" in offered and "site-broken" not in offered
    assert "1 of this trust's own forms could not be loaded" in \
        window.cache_banner.detail.text()
