"""Tick boxes read off a page image (issue #16 item 4, tick/choice half): synthetic pages
with printed squares and pen ticks, read through a known page → image transform."""

from __future__ import annotations

import random
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFilter

from paperfallback.scan.choice_marks import (
    OptionReading,
    choice_fields,
    decide,
    read_field,
    read_page,
)
from paperfallback.scan.omr import BoxState, box_state
from paperfallback.scan.registration import Affine

DPI = 200
SCALE = DPI / 72
PAGE_H = 842.0
BOX = 6.2  # points: the printed tick square (render.draw.tick_options)
TRANSFORM = Affine(SCALE, 0, 0, 0, -SCALE, PAGE_H * SCALE)


def _field(codes: list[str], *, kind: str = "choice", left: float = 100.0, top: float = 700.0,
           row: int | None = None, page: int = 1) -> dict[str, Any]:
    return {"page": page, "section": "identity", "field": "dt_sex", "row": row, "kind": kind,
            "box": [left - 2, top + 10, 40 * len(codes), 24],
            "options": [{"value": code, "box": [left + 40 * i, top, BOX, BOX]}
                        for i, code in enumerate(codes)]}


def _page(fields: list[dict[str, Any]]) -> Image.Image:
    """A white A4 page at 200 dpi with every recorded square printed (0.5 pt outline)."""
    image = Image.new("L", (round(595 * SCALE), round(PAGE_H * SCALE)), 250)
    draw = ImageDraw.Draw(image)
    for recorded in fields:
        for option in recorded["options"]:
            x0, y0, x1, y1 = _pixels(option["box"])
            draw.rectangle((x0, y0, x1, y1), outline=20, width=max(1, round(0.5 * SCALE)))
    return image


def _pixels(box: list[float]) -> tuple[float, float, float, float]:
    left, top, width, height = box
    x0, y0 = TRANSFORM((left, top))
    x1, y1 = TRANSFORM((left + width, top - height))
    return x0, y0, x1, y1


def _tick(image: Image.Image, box: list[float], rng: random.Random, *, pen_mm: float = 0.4,
          cross: bool = False) -> None:
    """A hand tick (short stroke down, long stroke up and out), or a cross."""
    x0, y0, x1, y1 = _pixels(box)
    w, h = x1 - x0, y1 - y0
    width = max(2, round(pen_mm / 25.4 * DPI))
    draw = ImageDraw.Draw(image)
    jitter = [rng.uniform(-0.08, 0.08) for _ in range(6)]
    if cross:
        draw.line([(x0 + w * (0.1 + jitter[0]), y0 + h * 0.1), (x1 - w * 0.1, y1 - h * 0.1)],
                  fill=30, width=width)
        draw.line([(x1 - w * 0.1, y0 + h * (0.1 + jitter[1])), (x0 + w * 0.1, y1 - h * 0.1)],
                  fill=30, width=width)
        return
    draw.line([(x0 + w * (0.15 + jitter[0]), y0 + h * (0.5 + jitter[1])),
               (x0 + w * (0.42 + jitter[2]), y1 - h * 0.12),
               (x1 + w * (0.25 + jitter[3]), y0 - h * (0.3 + jitter[4]))],
              fill=rng.randint(15, 60), width=width, joint="curve")


def _scanned(image: Image.Image) -> Image.Image:
    noise = Image.effect_noise(image.size, 18).point(lambda v: (v - 128) // 3 + 128)
    return Image.blend(image, noise, 0.12).filter(ImageFilter.GaussianBlur(0.6))


@pytest.mark.parametrize("share, state", [
    (0.0, BoxState.EMPTY), (0.03, BoxState.EMPTY), (0.06, BoxState.FAINT),
    (0.2, BoxState.TICKED), (0.7, BoxState.TICKED), (0.95, BoxState.FILLED)])
def test_the_ink_share_inside_a_box_says_empty_faint_ticked_or_filled(
        share: float, state: BoxState) -> None:
    assert box_state(share) is state


def _r(value: str, state: BoxState) -> OptionReading:
    return OptionReading(value, 0.0, state)


def test_one_clear_tick_is_a_value_no_mark_is_nothing_anything_else_is_a_note() -> None:
    empty, tick = BoxState.EMPTY, BoxState.TICKED
    assert decide([_r("M", empty), _r("F", tick), _r("O", empty)]) == ("F", "")
    assert decide([_r("M", empty), _r("F", empty)]) == (None, "")
    assert decide([_r("M", tick), _r("F", tick)]) == (None, "ticks in M and F: check the paper")
    assert decide([_r("M", tick), _r("F", BoxState.FAINT)]) == (
        None, "a tick in M and a faint mark in F: check the paper")
    assert decide([_r("M", BoxState.FAINT), _r("F", empty)]) == (
        None, "a faint mark in M: check the paper")
    assert decide([_r("M", tick), _r("F", BoxState.FILLED)]) == (
        None, "F filled in (a correction?): check the paper")
    assert decide([_r("true", tick)], tickbox=True) == ("true", "")
    assert decide([_r("true", BoxState.FILLED)], tickbox=True) == (
        None, "the box filled in (a correction?): check the paper")


def test_a_pen_tick_in_one_printed_square_is_read_as_that_option() -> None:
    rng = random.Random(3)
    sex = _field(["M", "F", "O", "U"])
    triage = _field(["1", "2", "3", "4", "5"], top=600.0)
    triage["field"] = "dt_triage"
    image = _page([sex, triage])
    _tick(image, sex["options"][1]["box"], rng)
    _tick(image, triage["options"][3]["box"], rng, cross=True)
    image = _scanned(image)
    sex_mark, triage_mark = read_page(image, TRANSFORM, {"fields": [sex, triage]}, 1)
    assert (sex_mark.value, sex_mark.note) == ("F", "")
    assert [o.state for o in sex_mark.options] == [
        BoxState.EMPTY, BoxState.TICKED, BoxState.EMPTY, BoxState.EMPTY]
    assert (triage_mark.value, triage_mark.note) == ("4", "")
    assert sex_mark.to_json()["boxes"]["M"] < 0.04


def test_empty_printed_squares_read_as_no_mark_not_as_ticks() -> None:
    fields = [_field(["ATT", "DNA", "CAN", "REB", "TEL"], top=700.0 - 30 * i, row=i)
              for i in range(8)]
    image = _scanned(_page(fields))
    for mark in read_page(image, TRANSFORM, {"fields": fields}, 1):
        assert (mark.value, mark.note) == (None, ""), mark
        assert mark.index == mark.row


def test_two_ticks_or_a_filled_box_are_never_a_value() -> None:
    rng = random.Random(5)
    two = _field(["M", "F", "O", "U"])
    filled = _field(["M", "F", "O", "U"], top=600.0)
    image = _page([two, filled])
    _tick(image, two["options"][0]["box"], rng)
    _tick(image, two["options"][2]["box"], rng)
    x0, y0, x1, y1 = _pixels(filled["options"][1]["box"])
    ImageDraw.Draw(image).rectangle((x0, y0, x1, y1), fill=25)
    image = _scanned(image)
    first = read_field(image, TRANSFORM, two)
    second = read_field(image, TRANSFORM, filled)
    assert first.value is None and first.note == "ticks in M and O: check the paper"
    assert second.value is None and "F filled in" in second.note


def test_a_tickbox_field_reads_ticked_as_true_and_blank_as_nothing() -> None:
    rng = random.Random(8)
    ticked = _field(["true"], kind="tickbox")
    blank = _field(["true"], kind="tickbox", top=600.0)
    image = _page([ticked, blank])
    _tick(image, ticked["options"][0]["box"], rng)
    image = _scanned(image)
    assert read_field(image, TRANSFORM, ticked).value == "true"
    assert (read_field(image, TRANSFORM, blank).value,
            read_field(image, TRANSFORM, blank).note) == (None, "")


def test_a_page_knows_only_its_own_fields_with_squares() -> None:
    text_field = {"page": 1, "section": "identity", "field": "dt_family", "row": None,
                  "kind": "text", "box": [10, 800, 200, 30], "options": []}
    layout = {"fields": [text_field, _field(["M", "F"]), _field(["M", "F"], page=2)]}
    assert [f["page"] for f in choice_fields(layout)] == [1, 2]
    assert [f["page"] for f in choice_fields(layout, 2)] == [2]
    assert choice_fields({"grids": []}) == []


@pytest.mark.parametrize("dx_pt, dy_pt", [(1.5, 0.0), (0.0, -1.5), (-1.2, 1.2), (2.0, 0.0)])
def test_a_page_fit_a_point_or_two_off_still_reads_each_square_by_its_outline(
        dx_pt: float, dy_pt: float) -> None:
    """A stretched or creased sheet: the page-wide fit puts the squares up to 2 pt off.
    Without finding each square's outline its side is read as ink (an empty box looked
    ticked: 0.10–0.17 of its middle)."""
    rng = random.Random(12)
    fields = [_field(["M", "F", "O", "U"], top=700.0 - 40 * i) for i in range(3)]
    image = _page(fields)
    _tick(image, fields[1]["options"][2]["box"], rng)
    image = _scanned(image)
    off = Affine(SCALE, 0, dx_pt * SCALE, 0, -SCALE, (PAGE_H - dy_pt) * SCALE)
    marks = read_page(image, off, {"fields": fields}, 1)
    assert [(m.value, m.note) for m in marks] == [(None, ""), ("O", ""), (None, "")]
