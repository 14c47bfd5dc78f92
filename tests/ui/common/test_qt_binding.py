"""PySide6 6.12.0 on Python 3.11 over-releases True on every Signal.emit()/processEvents(); the
GUI then aborts (bool_dealloc) after a few thousand events. pyproject excludes that release;
this test catches the binding in use if such a bug comes back."""

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal()
    valued = Signal(float, str)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason=(
    "True and False are immortal from Python 3.12: their reference counts never change, so an "
    "over-release can neither crash the GUI nor be seen here"))
def test_emit_and_process_events_keep_bool_refcounts(qapp):
    emitter = _Emitter()
    seen = []
    emitter.valued.connect(lambda f, m: seen.append(f))
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(300):
        emitter.fired.emit()
        emitter.valued.emit(0.5, "x")
        qapp.processEvents()
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert len(seen) == 300
    # 300 emits of a binding that over-releases True would drop its count by 300 or more.
    assert after[0] >= before[0] - 5 and after[1] >= before[1] - 5, (before, after)
