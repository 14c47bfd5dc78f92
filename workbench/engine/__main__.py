"""Entry point of engine children: ``python -m workbench.engine <verb> <spec.json>``.

Exit codes: 0 completed or cancelled, 1 failed (a `failed` event was emitted), 2 bad usage.
"""

from __future__ import annotations

import sys

# Claim the real stdout before anything heavy is imported: from here on, only protocol
# lines reach fd 1; everything else (Trainer prints, warnings, C-level output) goes to stderr.
from workbench.engine.stdio import claim_stdout, open_writer, set_engine_env  # noqa: E402

USAGE = "usage: python -m workbench.engine {train|chat|build-model|export|eval} SPEC.json"


def _dispatch(verb: str, spec, writer) -> int:
    if verb == "train":
        from workbench.engine.train import run_train

        return run_train(spec, writer)
    if verb == "chat":
        from workbench.engine.chat import run_chat

        return run_chat(spec, writer)
    if verb == "export":
        from workbench.engine.export import run_export

        return run_export(spec, writer)
    if verb == "eval":
        from workbench.engine.evaluate import run_eval

        return run_eval(spec, writer)
    from workbench.engine.build_model import run_build_model

    return run_build_model(spec, writer)


def _torchrun(args: list[str]) -> int:
    """A frozen build's torchrun (workbench.jobs.launch.engine_argv): the agent that starts the
    ranks. It keeps fd 1, which the ranks inherit and report on (rank 0 only, see stdio)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun_main

    try:
        torchrun_main(args)
    except ChildFailedError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    from workbench.engine import TORCHRUN, VERBS

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [TORCHRUN]:
        return _torchrun(list(args[1:]))
    set_engine_env()
    events = claim_stdout()
    from workbench.engine.ranks import exit_with_parent

    exit_with_parent()
    from workbench.engine.errors import BadConfigError, failure_payload
    from workbench.jobs.specs import read_spec

    if len(args) != 2 or args[0] not in VERBS:
        print(USAGE, file=sys.stderr)
        return 2
    verb, spec_path = args
    try:
        spec = read_spec(verb, spec_path)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        writer = open_writer(events, None)
        err = BadConfigError(f"Cannot read the job spec {spec_path}.",
                             details=f"{type(exc).__name__}: {exc}",
                             advice="This is a launcher bug: the spec file must be a JSON job spec.")
        writer.emit("failed", **failure_payload(err))
        print(USAGE, file=sys.stderr)
        return 2

    writer = open_writer(events, getattr(spec, "journal_path", None))
    try:
        return _dispatch(verb, spec, writer)
    except KeyboardInterrupt as exc:
        payload = failure_payload(exc)
        payload["message"] = "Interrupted by a signal (SIGINT) before finishing."
        writer.emit("failed", **payload)
        return 1
    except SystemExit as exc:
        if exc.code in (0, None):
            return 0
        writer.emit("failed", **failure_payload(exc))
        return 1
    except Exception as exc:  # every failure is reported, then exit 1
        writer.emit("failed", **failure_payload(exc))
        return 1
    finally:
        writer.close()


if __name__ == "__main__":
    sys.exit(main())
