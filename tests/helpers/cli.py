"""`workbench VERB ...` run in the test's own process: the same cli.main a shell runs, without
paying a Python start-up per call; its result has a CompletedProcess's three fields."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(capsys, *args: str) -> CliResult:
    from workbench import cli

    capsys.readouterr()  # what the test printed before is not this verb's output
    try:
        rc = cli.main(list(args))
    except SystemExit as exc:  # argparse refuses a command line with exit code 2
        rc = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return CliResult(rc, out.out, out.err)
