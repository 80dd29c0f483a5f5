"""The command-line options every command shares, defined once: `benchmark run`/`status` and the ablations
build their parsers from these parents, so an option means the same and defaults the same everywhere.

A command that needs other defaults (the ablations' tasks and seeds) sets them with `set_defaults`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.data import SOURCES
from benchmark.envs.tasks import parse_task
from benchmark.errors import UsageError
from benchmark.launch.launcher import EXECUTORS
from benchmark.run.run_log import LOGGERS

DEFAULT_RESULTS = Path("results") / "runs"


def task(text: str) -> str:
    """argparse type of `--tasks`: a known task's name, checked as the command line is read."""
    return parse_task(text).name


def seed(text: str) -> int:
    """argparse type of `--seeds`: an integer, 0 or more (a non-integer: argparse's own exit 2)."""
    value = int(text)
    if value < 0:
        raise UsageError(f"--seeds {value}: seeds must be 0 or more")
    return value


def workers(text: str) -> int:
    """argparse type of `--workers`: an integer, 1 or more."""
    value = int(text)
    if value < 1:
        raise UsageError(f"--workers {value}: give 1 or more (default: one per CPU core)")
    return value


def threads(text: str) -> int:
    """argparse type of `--threads`: an integer, 1 or more."""
    value = int(text)
    if value < 1:
        raise UsageError(f"--threads {value}: give 1 or more (default 1)")
    return value


def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False, allow_abbrev=False)


def selection() -> argparse.ArgumentParser:
    """Which runs: tasks, seeds, profile, and where their data comes from."""
    parser = _parent()
    parser.add_argument("--tasks", nargs="+", type=task,
                        help="tasks, e.g. hopper-medium-v2 (`python -m benchmark list tasks`)")
    parser.add_argument("--seeds", nargs="+", type=seed, help="seeds (0 or more)")
    parser.add_argument("--profile", help="smoke, quick or paper")
    parser.add_argument("--source", default="local", help=f"dataset source: {', '.join(SOURCES)} (default local)")
    parser.add_argument("--download", action="store_true", help="minari: download missing datasets")
    parser.add_argument("--hdf5-dir", help="d4rl-hdf5: folder with D4RL's v2 files (default ~/.d4rl/datasets)")
    parser.add_argument("--clip-actions", action="store_true",
                        help="clip dataset actions to [-1, 1] instead of refusing a dataset with actions outside")
    return parser


def cache() -> argparse.ArgumentParser:
    """Where the trained models that runs share go."""
    parser = _parent()
    parser.add_argument("--cache", default=".cache", help="world models, rollout banks, IDMs (default .cache)")
    return parser


def storage() -> argparse.ArgumentParser:
    """Where results go (with `cache`'s option)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, parents=[cache()])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help=f"default {DEFAULT_RESULTS}")
    return parser


def cluster() -> argparse.ArgumentParser:
    """Which executor runs the jobs."""
    parser = _parent()
    parser.add_argument("--executor", default="local", choices=EXECUTORS, help="default local")
    parser.add_argument("--cluster-profile", default="local",
                        help="slurm: a profile in slurm/profiles (by name) or a YAML path (default local)")
    return parser


def measurement_execution() -> argparse.ArgumentParser:
    """How a measurement ablation's jobs run (with `cluster`'s options)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, parents=[cluster()])
    parser.add_argument("--workers", type=workers, help="local: measurements at a time, each in a process of its own "
                                                         "(default: one per CPU core; with 1 they run here, with a "
                                                         "progress bar per model)")
    return parser


def device() -> argparse.ArgumentParser:
    """Where the work runs."""
    parser = _parent()
    parser.add_argument("--device", default="cpu", help="cpu, cuda (every visible GPU), cuda:N or auto (default "
                                                         "cpu)")
    return parser


REPORT_ONLY_HELP = "only write the report from the results already there; missing ones are listed"


def _skipping(parser: argparse.ArgumentParser, what: str, with_report_only: bool) -> None:
    """`--dry-run`, and with `with_report_only` `--report-only`, exclusive: a dry run prices the work it skips."""
    group = parser.add_mutually_exclusive_group() if with_report_only else parser
    group.add_argument("--dry-run", action="store_true",
                       help=f"print the {what}, what is done and what is left, and their cost in core-hours; run "
                            f"nothing")
    if with_report_only:
        group.add_argument("--report-only", action="store_true", help=REPORT_ONLY_HELP)


def measurement_skipping() -> argparse.ArgumentParser:
    """A measurement ablation's ways to skip its measurements: price them, or only write its report."""
    parser = _parent()
    _skipping(parser, "measurements", with_report_only=True)
    return parser


def execution(with_report_only: bool = False) -> argparse.ArgumentParser:
    """How runs are executed, shown and logged (with `cluster`'s and `device`'s options). `with_report_only`
    adds `--report-only`, exclusive with `--dry-run`: a dry run prices the runs that it skips."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, parents=[cluster(), device()])
    parser.add_argument("--workers", type=workers, help="runs at a time (default: one per CPU core, or per --threads "
                                                     "cores; on GPUs, as many as their free memory holds)")
    parser.add_argument("--threads", type=threads, default=1,
                        help="torch threads per run (default 1: while runs outnumber cores, one single-threaded run "
                             "per core is fastest; with fewer left, 2 finish each sooner, e.g. DD's plan model 1.4x. "
                             "Numbers then differ from a single-threaded run's in their last bits)")
    parser.add_argument("--logs", type=Path, help="job log folder (default <results>/logs/<command>-<time>)")
    parser.add_argument("--quiet", action="store_true", help="no progress, only a line per finished run")
    parser.add_argument("--no-wait", action="store_true", help="slurm: submit the grid and return at once")
    parser.add_argument("--logger", default="none", choices=LOGGERS,
                        help="also send losses and scores to TensorBoard (<results>/tensorboard) or W&B "
                             "(<results>/wandb); the job's log always gets them (default none)")
    _skipping(parser, "runs", with_report_only)
    parser.add_argument("--log-every", type=int, default=1000, help="agent steps between logged losses (default "
                                                                    "1000; 0: only evaluations)")
    return parser
