"""How an eval child stops and how it ended: the cooperative stop (stop file + a line to the
child), then SIGTERM and SIGKILL as the polls see the graces pass; and the eval run's status,
error and advice from what the child reported, else from how it died. A part of EvalManager
(services/eval_runs.py); every public method holds the manager's lock."""

from __future__ import annotations

import signal
import time
from typing import Optional

from workbench.core.clock import now_iso
from workbench.services.eval_ingest import Tracked
from workbench.services.jobs_wait import log_tail
from workbench.services.run_stopping import StopEscalation, locked

RESUME_ADVICE = "Resume it: the items it finished are kept and not generated again."


def ending(tracked: Tracked, rc: Optional[int], stop_grace_s: float) -> tuple[str, str, str]:
    """(status, error, advice) of an ended child: what it reported, else how it died."""
    end = tracked.terminal
    name = f"The eval process of {tracked.label}"
    if end is not None and end.kind == "failed":
        p = end.payload
        message = str(p.get("message") or f"{name} failed.")
        # The child's own details; the end of its log only when it gave none.
        details = str(p.get("details") or "").strip() or log_tail(tracked.log_path, 2000).strip()
        return "failed", (f"{message}\n\n{details[:1500]}" if details else message), str(p.get("advice") or "")
    if end is not None and end.kind == "cancelled":
        return "cancelled", "", RESUME_ADVICE
    if end is not None and end.kind == "completed":
        if rc in (0, None):
            return "completed", "", ""
        return ("interrupted", f"{name} reported that it finished, then exited with code {rc}.\n\n"
                f"{log_tail(tracked.log_path, 2000)}", RESUME_ADVICE)
    if tracked.stop_requested_at is not None:
        forced = tracked.terminated_at is not None
        return ("cancelled", f"{name} did not stop within {stop_grace_s:g} s and was ended by force."
                if forced else "", RESUME_ADVICE)
    if tracked.child is None:
        return ("interrupted", f"{name} ended without reporting why." if tracked.seen_alive
                else f"{name} ended while Workbench was closed.", RESUME_ADVICE)
    if rc is not None and rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
        error = f"{name} was killed ({sig}) before it finished."
        advice = RESUME_ADVICE + (" If nobody stopped it, the system may have ended it for lack of memory: "
                                   "lower the suite's batch size." if -rc == signal.SIGKILL else "")
    else:
        error = f"{name} exited with code {rc} before it finished, without reporting an error."
        advice = RESUME_ADVICE + " The details show the end of its log."
    tail = log_tail(tracked.log_path, 2000)
    return "interrupted", (f"{error}\n\n{tail}" if tail else error), advice


class EvalStopping(StopEscalation):
    """EvalManager's stopping methods (its _active, store, lock and graces)."""

    @locked
    def cancel(self, eval_run_id: str) -> None:
        """Stop an eval run: a waiting one leaves the queue (cancelled); a running one is asked to
        stop after its batch (SIGTERM, then SIGKILL, follow on later polls if it does not)."""
        tracked = self._active
        if tracked is None or tracked.eval_run_id != eval_run_id:
            run = self.store.get_eval_run(eval_run_id)
            if run.status in ("queued", "running"):  # running: no process this manager knows of
                self.store.update_eval_run(eval_run_id, status="cancelled", finished_at=now_iso(),
                                           error_advice=RESUME_ADVICE)
                self.changes += 1
            return
        if tracked.stop_requested_at is None:
            tracked.stop_requested_at = time.monotonic()
            with open(tracked.stop_file, "w", encoding="utf-8") as f:
                f.write(now_iso())
            if tracked.child is not None:
                tracked.child.send_line("stop")

    def _stop_overdue(self) -> bool:
        t = self._active
        limit = self.stop_grace_s + 2 * self.term_grace_s + 5.0
        return t is not None and t.stop_requested_at is not None and time.monotonic() - t.stop_requested_at > limit
