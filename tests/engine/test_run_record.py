"""What a training child records as its peak memory is its own, not its parent's: Linux carries
ru_maxrss over exec from the forked parent (the GUI, or a big test process)."""

from __future__ import annotations

import subprocess
import sys

from tests.engine.engine_helpers import REPO, child_env


def test_a_small_child_of_a_big_parent_reports_its_own_peak():
    ballast = bytearray(600 * 2**20)
    for i in range(0, len(ballast), 4096):  # touch every page: it is resident
        ballast[i] = 1
    code = "from workbench.engine.run_record import peak_memory; print(peak_memory('cpu')[0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=child_env(),
                         start_new_session=True, close_fds=True, check=True).stdout
    assert int(out) < 300 * 2**20, f"the child reported {int(out) / 2**20:.0f} MiB with a 600 MiB parent"
    del ballast
