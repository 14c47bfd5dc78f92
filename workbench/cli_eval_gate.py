"""`workbench eval gate RUN --suite S --rule "rouge_l>=base-0.02" [--every-checkpoint] [--wait]`
attaches a regression gate to a training run (a queued one, e.g. from `train --queue`, or one
that already ended); `workbench eval gate RUN` alone shows its state. With --wait it trains the
queue and scores the gate's evals until the gate is decided, then exits 0 passed / 1 failed.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from workbench.cli_eval import VerbParts, _open, _plain
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import GateRule

_RULE = re.compile(r"^\s*(?P<metric>[\w.-]+)\s*(?P<op>>=|<=)\s*(?P<base>base|[-+]?[\d.]+(?:e[-+]?\d+)?)"
                   r"\s*(?:(?P<sign>[-+])\s*(?P<margin>[\d.]+(?:e[-+]?\d+)?))?\s*$", re.IGNORECASE)


def parse_rule(text: str) -> GateRule:
    """"exact_match>=base", "rouge_l>=base-0.02", "perplexity<=12.5+0.5" -> GateRule."""
    m = _RULE.match(text)
    if not m:
        raise WorkbenchError(f"--rule {text!r} is not METRIC>=base[-MARGIN] or METRIC<=NUMBER[+MARGIN].",
                             advice='For example --rule "exact_match>=base-0.02" or --rule "perplexity<=20".')
    base = m["base"].lower()
    margin = float(m["margin"]) if m["margin"] else 0.0
    if m["sign"] and (m["sign"] == "-") != (m["op"] == ">="):
        raise WorkbenchError(f"--rule {text!r}: the margin is how much worse still passes.",
                             advice="Use '>= base - M' for a metric where higher is better, '<= X + M' for one "
                                    "where lower is better.")
    return GateRule(m["metric"], m["op"], "base" if base == "base" else float(base), margin)


def add_gate_parser(verbs: Any, project: Any) -> None:
    g = verbs.add_parser("gate", help="attach a regression gate to a training run, or show its state")
    project(g)
    g.add_argument("run", metavar="RUN", help="the training run (name or id)")
    g.add_argument("--suite", help="the eval suite to score it on (name, 'NAME vN' or id)")
    g.add_argument("--rule", action="append", default=[], metavar="RULE",
                   help='e.g. "exact_match>=base-0.02" (base: the base model\'s score) or "perplexity<=20"; repeatable')
    g.add_argument("--every-checkpoint", action="store_true", help="score every kept checkpoint too, not only the final adapter")
    g.add_argument("--wait", action="store_true", help="train the queue and score until the gate is decided")


def gate(args: argparse.Namespace) -> dict[str, Any]:
    from workbench.services import eval_gate, lookup

    store = _open(args)
    try:
        run = lookup.find_run(store, args.run)
        if args.suite:
            suite = lookup.find_suite(store, args.suite)
            eval_gate.attach_gate(store, run.id, suite.id, [parse_rule(r) for r in args.rule],
                                  every_checkpoint=args.every_checkpoint)
        elif args.rule or args.every_checkpoint:
            raise WorkbenchError("--rule and --every-checkpoint need --suite.", advice="Name the suite to attach.")
        if args.wait:
            _wait(store, run.id)
        status = eval_gate.gate_status(store, run.id)
        return {"run": run.name, "run_id": run.id, "state": status.state, "message": status.message,
                "rules": [_plain(r) for r in status.rules], "per_step": [_plain(s) for s in status.per_step],
                "series": eval_gate.gate_series(store, run.id)}
    finally:
        store.close()


def _wait(store: Any, run_id: str) -> None:
    """Train the queue and run the gate's evals (queued by the eval manager's reconcile) until
    the gate is decided; Ctrl+C stops both cooperatively."""
    from workbench.services import eval_gate
    from workbench.services.eval_runs import EvalManager
    from workbench.services.runs import RunManager

    runs, evals = RunManager(store, run_queue=True), EvalManager(store)
    try:
        while eval_gate.gate_status(store, run_id).state in ("pending",):
            runs.poll()
            evals.poll()
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("stopping (saving checkpoints)...", file=sys.stderr, flush=True)
        runs.shutdown(kill=True)
        evals.shutdown()
    finally:
        runs.shutdown()
        evals.shutdown()


def show_gate(result: dict[str, Any]) -> None:
    print(f"{result['run']}: gate {result['state']} — {result['message']}")
    for metric, points in result["series"].items():
        print(f"  {metric:<14} " + "  ".join(f"step {s}: {v:.4g}" for s, v in points))


def gate_outcome(result: dict[str, Any]) -> tuple[int, str]:
    """0 when passed (or still pending without --wait, or no gate); 1 when failed."""
    return (1, result["message"]) if result["state"] == "failed" else (0, "")


VERBS: dict[str, VerbParts] = {"gate": (gate, show_gate, gate_outcome)}
