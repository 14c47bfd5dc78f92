"""Headless commands: the same services as the GUI, without Qt.

    workbench demo --project PATH --model tiny|smollm2 --json
    workbench import FILE --project PATH
    workbench train --project PATH [--dataset NAME|ID] [--model KIND|NAME|ID] [--method sft|dpo]
                    [--beta B] [--from-run RUN] [options]
        (exits non-zero, with the reason on stderr, when the run does not complete; so does demo)
    workbench runs --project PATH [--json]
    workbench runs export RUN --merged OUT [--checkpoint best|final|N] --project PATH [--json]
    workbench runs queue|status RUN|resume RUN|cancel RUN --project PATH [--json]  (see cli_runs.py)
    workbench chat --project PATH [--model ...] [--run NAME|ID] [--system S] [--temperature T] [--top-p P]
        [--top-k K] [--repetition-penalty R] [--max-new-tokens N] [--stop S]... [--seed N] PROMPT
    workbench data import|list|show|clean|split|leakage|render|export ... (see cli_data.py)
    workbench estimate --config FILE [--model M] [--project P] [--json]  (see cli_estimate.py)
    workbench eval suites|suite create|suite show|run|compare|cv ... --project PATH [--json]  (see cli_eval.py)
        (eval run waits and exits non-zero when an eval run does not complete)
    workbench eval gate RUN --suite S --rule "exact_match>=base" [--every-checkpoint] [--wait] --project PATH
    workbench eval score PREDICTIONS.jsonl --references REFS.jsonl --metrics bleu,chrf,rouge_l,... [--json]
    workbench feedback list [--kind sft|preference] | export --kind K OUT | make-version --kind K --name N
        --project PATH [--json]  (see cli_feedback.py)
    workbench gui [PROJECT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Any, Callable, Optional

from workbench import (cli_data, cli_estimate, cli_eval, cli_eval_runs, cli_feedback, cli_runs, cli_runs_export,
                       engine_worker)
from workbench.core.errors import WorkbenchError
from workbench.core.progress import Cancelled
from workbench.core.records import TrainConfig
from workbench.core.train_config import TRAINABLE_METHODS


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def _open(path: str, create: bool = False):
    from workbench.services.projects import create_project, open_project

    if create and not os.path.exists(os.path.join(path, "project.sqlite")):
        return create_project(path)
    return open_project(path)


def _model(store, query: str):
    from workbench.services import lookup, models

    if query in models.BUILTIN_MODELS:
        return models.ensure_builtin_model(store, query, progress=_progress)
    return lookup.find_model(store, query)


DEMO_CONFIGS = {
    # Tiny model: few steps, a high learning rate so the curve visibly falls within a minute.
    "tiny": TrainConfig(r=16, alpha=32, learning_rate=5e-3, max_steps=60, batch_size=8, max_length=192,
                        target_modules=["c_attn", "c_proj", "c_fc"]),
    "smollm2": TrainConfig(r=8, alpha=16, learning_rate=3e-4, max_steps=12, batch_size=2, max_length=256),
}


def chat_once(store, model_id: str, run_id: Optional[str], prompt: str, max_new_tokens: int = 96,
              temperature: float = 0.7, stream=None, timeout: float = 600.0, *, settings=None,
              system_prompt: str = "") -> str:
    """One prompt, one reply. `settings` (SamplingSettings) wins over max_new_tokens/temperature."""
    from workbench.core.chat_records import SamplingSettings
    from workbench.services.chat import ChatClient

    if settings is None:
        settings = SamplingSettings(temperature=temperature, max_new_tokens=max_new_tokens)
    problems = settings.problems()
    if problems:
        raise WorkbenchError("These generation settings cannot be used.", details="\n".join(problems),
                             advice=problems[0])
    client = ChatClient(store, model_id, run_id, system_prompt=system_prompt, settings=settings)
    client.start()
    deadline = time.monotonic() + timeout
    reply = None
    try:
        while reply is None and time.monotonic() < deadline:
            for ev in client.poll():
                if ev.kind == "ready":
                    client.send(prompt, settings=settings)
                elif ev.kind == "token" and stream is not None:
                    stream.write(ev.payload.get("text", ""))
                    stream.flush()
                elif ev.kind == "done":
                    reply = ev.payload.get("text", "")
            if client.state == "failed":
                raise client.error or WorkbenchError("Chat failed.")
            time.sleep(0.02)
    finally:
        client.close()
    if reply is None:
        raise WorkbenchError("The model did not answer in time.")
    return reply


def cmd_demo(args) -> dict[str, Any]:
    from workbench.services import datasets, paths

    store = _open(args.project, create=True)
    try:
        _progress(0.0, "importing the demo dataset")
        version = datasets.import_dataset(store, paths.demo_dataset_path(), name="Shop support chats",
                                          progress=_progress)
        model = _model(store, args.model)
        run = cli_runs.train_and_wait(store, version.id, model.id, DEMO_CONFIGS[args.model])
        reply = ""
        if run.status == "completed":
            _progress(0.95, "chatting with the trained adapter")
            reply = chat_once(store, model.id, run.id, "Hi! How long does standard shipping take?",
                              temperature=0.0)
        return {
            "project": store.path, "dataset_id": version.dataset_id, "dataset_version_id": version.id,
            "base_model": model.name, "run_id": run.id, "status": run.status,
            "first_loss": run.first_loss, "last_loss": run.last_loss,
            "adapter_path": store.abspath(run.adapter_path) if run.adapter_path else None,
            "reply": reply, "error": run.error_message or None, "error_advice": run.error_advice or None,
        }
    finally:
        store.close()


def cmd_import(args) -> dict[str, Any]:
    from workbench.services import datasets

    store = _open(args.project, create=True)
    try:
        v = datasets.import_dataset(store, args.file, name=args.name, format=args.format,
                                    on_invalid="skip" if args.skip_invalid else "abort", progress=_progress)
        return {"dataset_id": v.dataset_id, "version_id": v.id, "rows": v.row_count, "format": v.format,
                "content_hash": v.content_hash, "skipped_rows": v.derivation.skipped_rows,
                "not_kept": [u.message() for u in datasets.unused_fields(v)]}
    finally:
        store.close()


def _run_dict(store, run, titles: Optional[dict[str, str]] = None) -> dict[str, Any]:
    from workbench.services import dataset_ops

    d = dataclasses.asdict(run)
    d["adapter_path"] = store.abspath(run.adapter_path) if run.adapter_path else None
    d["error"] = run.error_message or None
    titles = titles if titles is not None else dataset_ops.version_titles(store)
    d["dataset"] = titles.get(run.dataset_version_id, run.dataset_version_id)
    return d


def cmd_runs(args) -> Any:
    from workbench.services import dataset_ops
    from workbench.services.runs import RunManager

    store = _open(args.project)
    try:
        RunManager(store).shutdown()  # re-attach: ingest journals of runs that ran without us
        titles = dataset_ops.version_titles(store)
        return [_run_dict(store, r, titles) for r in store.list_runs()]
    finally:
        store.close()


def cmd_chat(args) -> dict[str, Any]:
    from workbench.services import lookup

    store = _open(args.project)
    try:
        run = lookup.find_run(store, args.run) if args.run else None
        model = store.get_base_model(run.base_model_id) if run else _model(store, args.model)
        from workbench.core.chat_records import SamplingSettings

        settings = SamplingSettings(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                                    repetition_penalty=args.repetition_penalty,
                                    max_new_tokens=args.max_new_tokens, stop=tuple(args.stop or ()),
                                    seed=args.seed)
        reply = chat_once(store, model.id, run.id if run else None, args.prompt, settings=settings,
                          system_prompt=args.system or "", stream=None if args.json else sys.stdout)
        if not args.json:
            print()
        return {"model": model.name, "run_id": run.id if run else None, "reply": reply}
    finally:
        store.close()


# `workbench train` options: (flag, TrainConfig field, type).
TRAIN_FLAGS = (("--r", "r", int), ("--alpha", "alpha", int), ("--lr", "learning_rate", float),
               ("--epochs", "epochs", float), ("--max-steps", "max_steps", int),
               ("--batch-size", "batch_size", int), ("--max-length", "max_length", int),
               ("--seed", "seed", int), ("--save-steps", "save_steps", int))
# Only `workbench train`'s: how it trains (eval cv trains SFT folds).
METHOD_FLAGS = (("--method", "method", str), ("--beta", "beta", float))


def _processes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes, 1 or more, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="Workbench: fine-tune language models locally.")
    sub = p.add_subparsers(dest="verb", required=True)

    def project(sp, required=True, **default):
        sp.add_argument("--project", required=required, help="the NAME.wbproj folder", **default)
        sp.add_argument("--json", action="store_true", help="print the result as JSON", **default)

    d = sub.add_parser("demo", help="import the demo data, train a few steps, chat one prompt")
    project(d)
    d.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    i = sub.add_parser("import", help="import a dataset file")
    project(i)
    i.add_argument("file")
    i.add_argument("--name")
    i.add_argument("--format", help="override detection: openai_messages, sharegpt, alpaca, prompt_completion, text")
    i.add_argument("--skip-invalid", action="store_true", help="import valid rows, list the others")
    t = sub.add_parser("train", help="LoRA-train a base model on a dataset (waits; Ctrl+C stops cleanly)")
    project(t)
    t.add_argument("--dataset", help="dataset name or version id (default: newest)")
    t.add_argument("--model", help="built-in kind (tiny, smollm2), name or id (default: the config file's, else tiny)")
    t.add_argument("--name")
    t.add_argument("--config", metavar="FILE", help="a YAML or JSON run setup (Train page: Save settings); "
                                                     "flags given here override its values")
    t.add_argument("--queue", action="store_true", help="put the run in the queue instead of starting it now "
                                                        "(workbench runs queue --run trains the queue)")
    t.add_argument("--nproc", type=_processes, default=1, metavar="N",
                   help="train in N processes through torchrun (one per GPU; gloo on a CPU)")
    t.add_argument("--from-run", metavar="RUN", help="start from this run's adapter (name or id; e.g. an SFT "
                                                     "run before DPO) instead of a new one")
    defaults = TrainConfig()
    for flag, attr, typ in TRAIN_FLAGS + METHOD_FLAGS:
        t.add_argument(flag, type=typ, dest=attr, default=None, help=f"default {getattr(defaults, attr)}",
                       **({"choices": TRAINABLE_METHODS} if attr == "method" else {}))
    r = sub.add_parser("runs", help="list runs; runs export: a run as a merged model")
    project(r, required=False)  # its sub-verbs take --project after them too (checked in _run_verb)
    cli_runs_export.add_runs_subparsers(r, project)
    c = sub.add_parser("chat", help="send one prompt to a base model or a run's adapter")
    project(c)
    c.add_argument("prompt")
    c.add_argument("--model", default="tiny")
    c.add_argument("--run")
    c.add_argument("--system", help="a system prompt")
    c.add_argument("--max-new-tokens", type=int, default=128)
    c.add_argument("--temperature", type=float, default=0.7, help="0: always the most likely token")
    c.add_argument("--top-p", type=float, default=1.0, help="1: off")
    c.add_argument("--top-k", type=int, default=0, help="0: off")
    c.add_argument("--repetition-penalty", type=float, default=1.0, help="1: off")
    c.add_argument("--stop", action="append", help="a stop string (the reply ends before it); repeatable")
    c.add_argument("--seed", type=int, help="the same seed gives the same reply")
    cli_data.add_data_parser(sub, project)
    cli_estimate.add_estimate_parser(sub)
    cli_eval.add_eval_parser(sub, project)
    cli_feedback.add_feedback_parser(sub, project)
    g = sub.add_parser("gui", help="open the desktop app")
    g.add_argument("project_path", nargs="?")
    return p


# -- output: each verb formats its own result ----------------------------------------------------
def _show_fields(result: dict[str, Any]) -> None:
    for k, v in result.items():
        if k == "not_kept":  # import: one line per field the rows do not keep
            print("".join(f"not kept: {line}\n" for line in v), end="")
        else:
            print(f"{k}: {v}")


def _show_runs(result: list[dict[str, Any]]) -> None:
    for r in result:
        loss = f"{r['first_loss']:.3f} -> {r['last_loss']:.3f}" if r.get("last_loss") is not None else "-"
        print(f"{r['id'][:8]}  {r['status']:<11} {r['step']}/{r['total_steps']:<5} loss {loss:<17} {r['name']}"
              f"  on {r['dataset']}")
        if r.get("error"):
            print(f"          {r['error']}")


def _run_outcome(result: dict[str, Any]) -> tuple[int, str]:
    """A run that did not complete is a failed command: (exit code, the reason for stderr)."""
    status = result.get("status")
    if status in ("completed", "queued"):  # queued: `train --queue` did what it was asked
        return 0, ""
    reason = f"the run ended {status}"
    if result.get("error"):
        reason += f": {result['error']}"
    if result.get("error_advice"):
        reason += f"\n  what to do: {result['error_advice']}"
    return (130 if status == "cancelled" else 1), reason


def _succeeded(_result: Any) -> tuple[int, str]:
    return 0, ""


@dataclasses.dataclass(frozen=True)
class Verb:
    run: Callable[[argparse.Namespace], Any]
    show: Callable[[Any], None]  # the human-readable form (without --json)
    outcome: Callable[[Any], tuple[int, str]] = _succeeded
    always_json: bool = False  # demo: one JSON line, what scripts and CI read


VERBS = {
    "demo": Verb(cmd_demo, _show_fields, _run_outcome, always_json=True),
    "import": Verb(cmd_import, _show_fields),
    "train": Verb(cli_runs.cmd_train, _show_fields, _run_outcome),
    "runs": Verb(cmd_runs, _show_runs),
    "chat": Verb(cmd_chat, lambda _result: None),  # the reply was streamed as it came
    "data": Verb(cli_data.run, cli_data.print_human),
    "estimate": Verb(cli_estimate.run, cli_estimate.show),
    "runs export": Verb(cli_runs_export.run, cli_runs_export.show),
    "runs queue": Verb(cli_runs.queue, cli_runs.show_queue),
    "runs status": Verb(cli_runs.status, cli_runs.show_status),
    "runs resume": Verb(cli_runs.resume, cli_runs.show_run, _run_outcome),
    "runs cancel": Verb(cli_runs.cancel, cli_runs.show_run),
    **{f"eval {name}": Verb(*parts) for name, parts in {**cli_eval.VERBS, **cli_eval_runs.VERBS}.items()},
    **{f"feedback {name}": Verb(*parts) for name, parts in cli_feedback.VERBS.items()},
}


def _gui(args) -> None:
    # A separate process entry keeps Qt out of the headless layer.
    os.execv(sys.executable, [sys.executable, "-m", "workbench.ui", *([args.project_path] if args.project_path else [])])


def _run_verb(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb == "gui":
        _gui(args)
    if args.verb == "runs" and args.project is None:  # optional in the parser: see build_parser
        parser.error("the following arguments are required: --project")
    # A sub-verb with a Verb of its own (`runs export`); other sub-verbs go to their verb (`data`).
    verb = VERBS.get(f"{args.verb} {getattr(args, f'{args.verb}_verb', None)}") or VERBS[args.verb]
    try:
        result = verb.run(args)
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except WorkbenchError as exc:
        print(f"error: {exc.user_message}", file=sys.stderr)
        if exc.advice:
            print(f"  what to do: {exc.advice}", file=sys.stderr)
        if exc.details:
            print(f"  details: {exc.details}", file=sys.stderr)
        return 1
    if verb.always_json:
        print(json.dumps(result, default=str))
    elif getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str))
    else:
        verb.show(result)
    sys.stdout.flush()  # a closed pipe shows here, inside main's handler, not at exit
    rc, reason = verb.outcome(result)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
    return rc


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    worker_rc = engine_worker.dispatch(argv)  # a packaged build's engine child
    if worker_rc is not None:
        return worker_rc
    try:
        return _run_verb(argv)
    except BrokenPipeError:
        # The reader went away (`workbench runs | head -1`). As the Python docs advise (signal,
        # "Note on SIGPIPE"): point stdout at devnull so the exit-time flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
