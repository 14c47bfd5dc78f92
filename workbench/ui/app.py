"""Entry point of the desktop app: `workbench-gui [PROJECT.wbproj] [--demo]` or `workbench gui`.

The window is shown before anything heavy is imported; the project then opens in a worker
(migration, backup, journal catch-up) while the window paints and answers, and is attached in
the GUI thread (the demo project, when it has to be built, first in a worker with a progress
dialog).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Optional, Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from workbench import __version__, engine_worker
from workbench.ui.common import settings, theme
from workbench.ui.common.errors import install_excepthook
from workbench.ui.shell.main_window import MainWindow


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="workbench-gui", description="Workbench desktop app")
    parser.add_argument("project", nargs="?", help="a NAME.wbproj folder to open")
    parser.add_argument("--demo", action="store_true", help="open (and first create) the demo project")
    parser.add_argument("--theme", choices=theme.THEMES, help="override the saved theme")
    parser.add_argument("--version", action="version", version=f"Workbench {__version__}")
    # Qt's own options (-platform, -style, ...) pass through to QApplication.
    args, _qt_args = parser.parse_known_args(argv)
    return args


def create_application(argv: Sequence[str]) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(list(argv))
    app.setApplicationName("Workbench")
    app.setOrganizationName("Workbench")
    app.setApplicationDisplayName("Workbench")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("workbench")
    app.setWindowIcon(theme.app_icon())
    return app


def open_initial_project(window: MainWindow, args: argparse.Namespace) -> None:
    """Argv project, else --demo, else the last project (the demo project if it fails to open),
    else the demo project. Each opens in a worker, as any project does."""
    if args.project:
        window.open_project(os.path.abspath(args.project))
    elif args.demo:
        window.open_demo_project()
    else:
        last = settings.last_project()
        if last is None or not window.open_project(last, if_failed=window.open_demo_project):
            window.open_demo_project()


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    worker_rc = engine_worker.dispatch(argv)  # a packaged build's engine child, not a second GUI
    if worker_rc is not None:
        return worker_rc
    args = parse_args(argv)
    app = create_application([sys.argv[0] if sys.argv else "workbench-gui", *argv])
    theme.apply_theme(app, args.theme or settings.theme())
    install_excepthook()
    window = MainWindow()
    if os.environ.get("WORKBENCH_EXIT_WHEN_SHOWN"):
        # Start-up benchmark (tests/benchmarks/bench_startup.py): report the window painted and
        # answering (then the argv project attached) and quit; its bare baseline uses the same
        # probe.
        from workbench.ui.shell.startup_probe import StartupProbe

        window._startup_probe = StartupProbe(window, window.project_changed if args.project else None)
    window.show()
    # Ctrl+C in the launching terminal closes the window properly (runs asked about, joined).
    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)  # lets Python run its signal handlers
    wake.start(300)
    QTimer.singleShot(0, lambda: open_initial_project(window, args))
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
