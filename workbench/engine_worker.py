"""The packaged build's worker switch: ``EXECUTABLE --engine-worker VERB SPEC.json``.

A frozen (packaged) build has no ``python -m workbench.engine``: it starts its own executable
with this switch (workbench.jobs.launch.engine_argv), and each entry point (workbench.cli.main,
workbench.ui.app.main) hands such an argv to the engine before doing anything else, so the
child becomes an engine process instead of opening a second window or parsing a CLI verb.

The GUI and the CLI import this module; the engine's verbs (torch) are imported only once a
process has been asked to be a worker.
"""

from __future__ import annotations

from typing import Optional, Sequence

from workbench.engine import WORKER_SWITCH as SWITCH  # the engine package imports nothing


def worker_args(argv: Sequence[str]) -> Optional[list[str]]:
    """``[VERB, SPEC]`` when `argv` (without the program name) asks for an engine worker."""
    if not argv or argv[0] != SWITCH:
        return None
    return list(argv[1:])


def dispatch(argv: Sequence[str]) -> Optional[int]:
    """Run the engine verb `argv` asks for and return its exit code; None if not a worker argv."""
    args = worker_args(argv)
    if args is None:
        return None
    # The one sanctioned edge from an entry point to the engine (see pyproject's contracts):
    # this process is an engine child from here on and never starts the GUI or a CLI verb.
    from workbench.engine.__main__ import main as engine_main

    return engine_main(args)
