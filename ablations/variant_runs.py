"""The command of the ablations made of harness runs (horizon, data_volume): price or run their variant runs,
then report every result file."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from benchmark.cli import command_dry_run, execute, exit_status
from benchmark.grid.runspec import RunSpec


def run_and_report(args: argparse.Namespace, specs: list[RunSpec], label: str, write_report: Callable[[], str]) -> int:
    """`--dry-run` prices `specs` and writes nothing; otherwise those not done run (none with `--report-only`),
    then `write_report()` is printed. Exit status 1 where a run failed: the report still shows the others."""
    failed = None
    if not args.report_only:
        if args.dry_run:
            return command_dry_run(args, specs)
        failed = execute(args, specs, label)
    print(write_report())
    return exit_status(failed, "run(s)")
