import gc, sys
from typing import Any
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from test_keying_screen import _printed, _start

def m(label, fn):
    gc.collect(); a = sys.getrefcount(True)
    fn()
    gc.collect(); b = sys.getrefcount(True)
    print(f"STEP {label}: {b-a:+d}", file=sys.stderr)

def test_dbg(qtbot, open_window, record_issued):
    issued = _printed(record_issued, "mar", rows=("regular:rx-1@08:00",))
    window = open_window()
    _start(qtbot, window, "Bob", issued.instance_id)
    w = window.form_widget
    e0 = QApplication.focusWidget(); e1 = w.order[1]; e2 = w.order[2]
    m("nothing", lambda: None)
    m("processEvents", lambda: QApplication.processEvents())
    m("setFocus e1", lambda: e1.setFocus())
    m("setFocus e2", lambda: e2.setFocus())
    m("keyClick a", lambda: qtbot.keyClick(e2, "a"))
    m("keyClick Return", lambda: qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return))
    m("emit entered", lambda: e1.entered.emit(e1))
    m("field_entered", lambda: w.field_entered.emit(e1))
    m("follow_scan", lambda: window._follow_scan(e1))
    m("ensureVisible", lambda: window.scroll.ensureWidgetVisible(e1, 60, 40))
    m("commit", lambda: w.commit(e1))
    m("setText", lambda: e1.setText("x"))
    m("textEdited", lambda: e1.textEdited.emit("x"))
    m("check_as_typed", lambda: w._check_as_typed(e1))
    m("update_status", lambda: window._update_status())
    m("changed", lambda: w.changed.emit())
