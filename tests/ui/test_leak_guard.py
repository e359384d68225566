"""The UI fixture fails a test that leaks a top-level widget (#11.7), as napari's
``make_napari_viewer`` does, and passes one that closes what it opened."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent

LEAKY = '''
from PySide6.QtWidgets import QDialog, QWidget


def test_leaks_a_window(qtbot):
    window = QWidget()
    window.setWindowTitle("left open")
    window.show()
    test_leaks_a_window.keep = window  # still referenced: nothing else would close it


def test_leaks_a_hidden_dialog(qtbot):
    dialog = QDialog()
    dialog.setWindowTitle("closed, not deleted")
    dialog.show()
    dialog.close()
    test_leaks_a_hidden_dialog.keep = dialog


def test_closes_what_it_opened(qtbot):
    window = QWidget()
    qtbot.addWidget(window)  # pytest-qt closes and deletes it
    window.show()


def test_a_child_dialog_goes_with_its_window(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    QDialog(window).show()
'''


def test_a_leaked_top_level_widget_fails_the_test(pytester: pytest.Pytester) -> None:
    for name in ("conftest.py", "pf_ui_helpers.py"):
        shutil.copy(HERE / name, pytester.path / name)
    shutil.copy(HERE.parent / "conftest.py", pytester.path / "root_conftest.py")
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest_subprocess("-p", "root_conftest")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines([
        "*top-level widgets leaked*QWidget('left open', visible)*",
        "*top-level widgets leaked*QDialog('closed, not deleted', hidden)*",
    ])
