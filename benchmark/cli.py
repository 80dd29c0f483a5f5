"""`python -m benchmark {run,status,report,hparams}`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import torch

from benchmark.run.completion import is_done, result_state
from benchmark import options
from benchmark.grid.cost import cached_models, cost_table
from benchmark.data import DataSpec, load_dataset
from benchmark.data.build import build_many
from benchmark.data.minari_io import datasets_root
from benchmark.data.recipe import RECIPE_DATASETS, behaviour_run_available
from benchmark.errors import UsageError, exit_2_on_usage_error
from benchmark.launch.cluster import load_cluster_profile
from benchmark.grid.hyperparams import resolve, table_rows
from benchmark.launch.jobs import read_job
from benchmark.grid.overrides import parse_set, read_config, validate, variant_name
from benchmark.launch.launcher import launch
from benchmark.launch.ordering import artefact_first
from benchmark.launch.placement import place
from benchmark.run.stacked import groups as stacked_groups
from benchmark.run.run_log import check_logger
from benchmark.grid.methods import METHODS, get_method
from benchmark.grid.profiles import PROFILES, get_profile
from benchmark.reports.runs import load_runs
from benchmark.reports.tables import by_group, render, write_report
from benchmark.grid.runspec import RunSpec
from benchmark.launch.status import STATES, render_status
from benchmark.grid.suites import SUITES, get_suite
from benchmark.envs.tasks import all_tasks, parse_task

DEFAULT_RESULTS = options.DEFAULT_RESULTS



def _grid_options() -> argparse.ArgumentParser:
    """A suite, narrowed or overridden by the shared selection options, and overrides of the hyperparameters."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, parents=[options.selection(),
                                                                                  options.storage()])
    parser.add_argument("--suite", default="smoke", help=f"one of: {', '.join(SUITES)} (default smoke); --tasks, "
                                                         f"--methods, --seeds and --profile override its own")
    parser.add_argument("--methods", nargs="+", help="subset or override of the suite's methods")
    parser.add_argument("--set", nargs="+", metavar="COMPONENT.FIELD=VALUE",
                        help="override the hyperparameter table, e.g. --set agent.tau=0.001 (the runs become a "
                             "variant of their own: `python -m benchmark hparams` lists the fields)")
    parser.add_argument("--config", type=Path, help="a YAML file of overrides: {component: {field: value}}")
    return parser


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: no CUDA device is visible to torch; use --device cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise UsageError(f"--device {name!r}: use cpu, cuda, cuda:N or auto")
    return name


def single_device(name: str) -> str:
    """A measurement's one device: `cuda` is the first GPU (runs spread over every GPU; a measurement does not)."""
    device = _device(name)
    return "cuda:0" if device == "cuda" else device


def data_spec(args: argparse.Namespace) -> DataSpec:
    return DataSpec(args.source, args.download, args.hdf5_dir, args.clip_actions)


def build_grid(args: argparse.Namespace) -> list[RunSpec]:
    """The runs a command line asks for; every name is checked before anything happens."""
    suite = get_suite(args.suite)
    tasks = [parse_task(t).name for t in (args.tasks or suite.tasks)]
    methods = [get_method(m).name for m in (args.methods or suite.methods)]
    profile = get_profile(args.profile or suite.profile).name
    data = data_spec(args)
    seeds = args.seeds if args.seeds is not None else suite.seeds
    overrides, variant, source = (), "", ""
    requested = [*(read_config(args.config) if getattr(args, "config", None) else []),
                 *parse_set(getattr(args, "set", None) or [])]
    if requested:
        overrides = validate(requested, methods, tasks[0])
        variant = variant_name(overrides)
        source = "cli: " + ", ".join(f"{c}.{n}={v!r}" for c, n, v in overrides) + (
            f" (with {args.config})" if getattr(args, "config", None) else "")
    specs = [RunSpec(task, method, seed, profile, data, cache=args.cache, variant=variant,
                     overrides=overrides, override_source=source) for task in tasks for method in methods
             for seed in seeds]
    return list(dict.fromkeys(specs))  # a name or seed given twice is one run, not two at once


RESULTS_SPACE = 256 * 2 ** 20  # checkpoints of the runs in flight and their result files
CACHE_SPACE = 4 * 2 ** 30  # a world model and its rollout bank on a 1M-row dataset take about 2 GB


def check_writable(folder: Path, option: str, needed: int) -> None:
    """Before anything is submitted: the folder can be created and written to, and has room."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"{option} {folder} cannot be written to ({error.strerror}); choose another folder") from None
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise UsageError(f"{option} {folder}: {free / 2 ** 20:.0f} MB free on its disk, the runs need about "
                         f"{needed / 2 ** 20:.0f} MB; free some space or choose a folder on another disk")


def cached_keys(cache: Path) -> set[str]:
    """The content keys of the models in the cache, whose entries are folders <cache>/<kind>/<key>."""
    return {folder.name for folder in Path(cache).glob("*/*") if folder.is_dir()}


def command_dry_run(args: argparse.Namespace, specs: list[RunSpec]) -> int:
    """The grid, what is done and what is left, and its cost; nothing is built, loaded or written."""
    done = {s for s in specs if result_state(s, args.results)[0] == "done"}
    runs = load_runs(args.results)
    same_data = runs[runs["source"] == specs[0].data.source]
    built = cached_models((json.loads(Path(path).read_text()) for path in same_data["path"]), cached_keys(args.cache))
    table = cost_table(specs, done, built, same_data[same_data["profile"] == specs[0].profile],
                       get_profile(specs[0].profile))
    left = float(table["core-hours left"].sum())
    print(f"dry run: {len(specs)} runs, {len(done)} done, {len(specs) - len(done)} to run (profile "
          f"{specs[0].profile}, source {specs[0].data.source}); nothing was started\n\n{table.to_markdown(index=False)}"
          f"\n\nabout {left:.1f} core-hours left: {left / (os.cpu_count() or 1):.1f} hours on this machine's "
          f"{os.cpu_count()} cores (GPU-hours: not measured yet)")
    return 0


def command_run(args: argparse.Namespace) -> int:
    specs = build_grid(args)
    if args.dry_run:
        return command_dry_run(args, specs)
    failed = execute(args, specs, args.suite)
    if failed is None:
        return 0
    runs = load_runs(args.results)
    names = {(s.profile, s.data.source, s.task, s.method, s.seed) for s in specs}
    keys = list(zip(runs["profile"], runs["source"], runs["task"], runs["method"], runs["seed"]))
    print(render(by_group(runs[[k in names for k in keys]]), title=f"Suite {args.suite}"))
    if failed:
        print(f"{failed} run(s) failed; see `{status_command(args)}`", file=sys.stderr)
    return 1 if failed else 0


def execute(args: argparse.Namespace, specs: list[RunSpec], label: str) -> int | None:
    """Run the specs not done yet with the shared execution options (`benchmark/options.py`); returns how many
    failed, None when they were submitted without waiting. Everything is checked before anything starts:
    options, datasets (built when local and missing), writable folders."""
    device = _device(args.device)
    check_logger(args.logger)
    if args.no_wait and args.executor != "slurm":
        raise UsageError("--no-wait needs --executor slurm: local runs live as long as this command")
    if args.log_every < 0:
        raise UsageError(f"--log-every {args.log_every}: give 0 (no losses, only evaluations) or more")
    if getattr(args, "stack_seeds", False):
        if args.executor != "local":
            raise UsageError("--stack-seeds trains each group of seeds in this process: use --executor local")
        stacked_groups(specs)  # refuses what cannot be stacked before anything runs
    if args.executor == "slurm" and shutil.which("sbatch") is None:
        raise UsageError("--executor slurm: SLURM is not installed here (no sbatch on PATH); use --executor local, "
                         "or run the command on a SLURM login node")
    cluster = load_cluster_profile(args.cluster_profile) if args.executor == "slurm" else None
    specs = [dataclasses.replace(s, data=data_spec(args), device=device, cache=str(args.cache), logger=args.logger,
                                 log_every=args.log_every, threads=args.threads) for s in specs]
    tasks = [parse_task(t) for t in sorted({s.task for s in specs})]
    if args.source == "local":
        build_many([(t.env, t.dataset) for t in tasks
                    if t.dataset in RECIPE_DATASETS and behaviour_run_available(t.env)])
    checksums = {}
    for task in tasks:  # every dataset is read and validated before anything is submitted
        checksums[task.name] = load_dataset(task, specs[0].data).checksum
    check_writable(Path(args.results), "--results", RESULTS_SPACE)
    if any(get_method(s.method).pipeline != "model_free" for s in specs):
        check_writable(Path(args.cache), "--cache", CACHE_SPACE)
    todo = [s for s in specs if not is_done(s, args.results, checksums[s.task])]
    in_flight = [s for s in todo if (job := read_job(s, args.results)) is not None and job.state() != "ended"]
    todo = [s for s in todo if s not in in_flight]
    print(f"{len(specs)} runs in the grid, {len(specs) - len(todo) - len(in_flight)} already done, "
          + (f"{len(in_flight)} already submitted, " if in_flight else "")
          + f"{len(todo)} to run (profile {specs[0].profile}, source {args.source}, device {device}, "
          f"results in {args.results})", flush=True)
    if not todo:
        return 0
    if getattr(args, "stack_seeds", False):
        return run_stacked(todo, Path(args.results))
    placement = place(artefact_first(todo), device, max(1, (os.cpu_count() or 1) // args.threads), args.workers)
    log_dir = args.logs or Path(args.results) / "logs" / f"{label}-{datetime.now():%Y%m%d-%H%M%S}"
    print(f"{placement.note}; job logs in {log_dir}", flush=True)
    outcomes = launch(placement.specs, args.results, log_dir, args.executor, placement.workers, cluster,
                      "quiet" if args.quiet else "auto", wait=not args.no_wait)
    if args.no_wait:
        follow = (f"`{status_command(args)}`" if hasattr(args, "suite") else
                  "this command with --report-only, which reports the runs finished so far")
        print(f"submitted {len(todo)} runs; follow them with {follow}")
        return None
    return sum(not o.ok for o in outcomes)


def exit_status(failed: int | None, what: str) -> int:
    """An ablation's exit status once its report is written: 1 where any of its runs or measurements failed (each
    named above with its error), so a script or a SLURM dependency that runs it sees the failure."""
    if failed:
        print(f"{failed} {what} failed; the report shows the others", file=sys.stderr)
    return 1 if failed else 0


def run_stacked(specs: list[RunSpec], results: Path) -> int:
    """`--stack-seeds`: each group of seeds of one (task, method) as one stacked agent, one group after another
    in this process; returns how many runs failed (a failed group leaves each member its traceback)."""
    import traceback

    from tqdm import tqdm

    from benchmark.run.failures import exception_line, write_failure
    from benchmark.run.stacked import train_stacked

    failed = 0
    for group in stacked_groups(specs):
        name = f"{group[0].task}/{group[0].arm} seeds {' '.join(str(s.seed) for s in group)}"
        with tqdm(total=1, desc=name, unit="step", disable=not sys.stderr.isatty()) as bar:
            def progress(step: int, total: int) -> None:
                bar.total, bar.n = total, step
                if step % 100 == 0 or step == total:
                    bar.refresh()
            try:
                results_of = train_stacked(group, results, progress)
            except Exception:
                for spec in group:
                    write_failure(spec, results, traceback.format_exc())
                failed += len(group)
                print(f"FAILED {name}: {exception_line(traceback.format_exc())}", file=sys.stderr)
                continue
        for spec, result in zip(group, results_of):
            spec.failure_path(results).unlink(missing_ok=True)
            print(f"done   {spec.name}: final {result['final_score']:.1f}, best {result['best_score']:.1f}")
    return failed


def status_command(args: argparse.Namespace) -> str:
    """The `status` command line for the same grid and results folder as `args`."""
    parts = ["python -m benchmark status", f"--suite {args.suite}"]
    for option in ("tasks", "methods", "seeds"):
        if getattr(args, option):
            parts.append(f"--{option} {' '.join(map(str, getattr(args, option)))}")
    for option in ("profile", "hdf5_dir"):
        if getattr(args, option):
            parts.append(f"--{option.replace('_', '-')} {getattr(args, option)}")
    if args.source != "local":
        parts.append(f"--source {args.source}")
    if Path(args.results) != DEFAULT_RESULTS:
        parts.append(f"--results {args.results}")
    return " ".join(parts)


def command_evaluate(args: argparse.Namespace) -> int:
    from benchmark.run.evaluate import evaluate_result, summary

    if args.episodes < 1 or args.seed < 0:
        raise UsageError("--episodes must be 1 or more and --seed 0 or more")
    if args.video:
        from benchmark.run.evaluate import record_video

        print(record_video(args.result, args.video, args.seed))
        return 0
    print(summary(evaluate_result(args.result, args.episodes, args.seed)))
    return 0


def command_status(args: argparse.Namespace) -> int:
    print(render_status(build_grid(args), args.results, args.state, args.summary))
    return 0


def command_report(args: argparse.Namespace) -> int:
    print(write_report(args.results, args.out, args.allow_empty))
    print(f"written to {args.out}", file=sys.stderr)
    return 0


def command_hparams(args: argparse.Namespace) -> int:
    import pandas as pd
    import yaml

    if args.from_result:
        print(reproducing_config(args.from_result))
        return 0
    if args.method or args.task:
        if not (args.method and args.task):
            raise UsageError("--method and --task go together: one resolved configuration is per (method, task)")
        resolved = resolve(get_method(args.method).name, parse_task(args.task).name)
        for component, config in resolved.to_dict().items():
            print(yaml.safe_dump({component: json.loads(json.dumps(config))}, sort_keys=False, width=100).rstrip())
            for name, text in resolved.sources[component].items():
                print(f"  # {name}: {text}")
        return 0
    print(pd.DataFrame(table_rows()).to_markdown(index=False))
    return 0


def reproducing_config(path: Path) -> str:
    """A result file's overrides of the hyperparameter table as the YAML `--config` takes, and the command."""
    import yaml

    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: not a readable result file ({error})") from None
    run = result["run"]
    overridden = {component: {name: result["config"][component][name] for name, source in fields.items()
                              if source.startswith(("cli:", "ablation:"))}
                  for component, fields in result["config_sources"].items()}
    overridden = {component: fields for component, fields in overridden.items() if fields}
    command = (f"python -m benchmark run --tasks {run['task']} --methods {run['method']} --seeds {run['seed']} "
               f"--profile {run['profile']} --source {run['source']}" + (" --config THIS_FILE.yaml" if overridden
                                                                        else ""))
    body = yaml.safe_dump(overridden, sort_keys=False).rstrip() if overridden else "{}  # the table's defaults"
    return f"# {path}\n# reproduce with: {command}\n{body}"


LISTS = {"suites": lambda: SUITES, "tasks": lambda: [t.name for t in all_tasks()], "methods": lambda: METHODS,
         "profiles": lambda: PROFILES}


def command_list(args: argparse.Namespace) -> int:
    for kind in [args.kind] if args.kind else LISTS:
        print(f"{kind}: {', '.join(LISTS[kind]())}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__, allow_abbrev=False)
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train and evaluate a grid of runs, then print its table",
                              allow_abbrev=False, parents=[_grid_options(), options.execution()])
    run.add_argument("--stack-seeds", action="store_true",
                     help="td3bc/iql: train the seeds of each (task, method) as one stacked network, each seed "
                          "writing its own result file (fills a GPU; no checkpoints; not faster on a CPU)")
    run.set_defaults(handler=command_run)
    status = commands.add_parser("status", help="done / pending / running / failed / missing per run of a grid",
                                 allow_abbrev=False, parents=[_grid_options()])
    status.add_argument("--state", choices=STATES, help="list only the runs in this state")
    status.add_argument("--summary", action="store_true", help="only the counts per state")
    status.set_defaults(handler=command_status)
    report = commands.add_parser("report", help="write results/table.md, table2.md, claims.md and the learning "
                                 "curves (figures/curves_<profile>_<source>.png) from the result files",
                                 allow_abbrev=False)
    report.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    report.add_argument("--out", type=Path, default=Path("results") / "table.md")
    report.add_argument("--allow-empty", action="store_true",
                        help="write empty tables when --results holds no result files (after withdrawing results)")
    report.set_defaults(handler=command_report)
    hparams = commands.add_parser("hparams", help="print the hyperparameter table with sources, or one resolved "
                                  "configuration (--method M --task T) as YAML", allow_abbrev=False)
    hparams.add_argument("--method", help="with --task: the configuration this method runs with on this task")
    hparams.add_argument("--task")
    hparams.add_argument("--from-result", type=Path,
                         help="print a result file's overrides as the YAML that reproduces it (with --config)")
    hparams.set_defaults(handler=command_hparams)
    evaluation = commands.add_parser("evaluate", help="evaluate a finished run's trained policy again, from its "
                                     "result file and the weights kept next to it", allow_abbrev=False)
    evaluation.add_argument("result", type=Path, help="a result file, e.g. results/runs/quick/local/.../seed0.json")
    evaluation.add_argument("--episodes", type=int, default=10)
    evaluation.add_argument("--seed", type=int, default=0, help="episode i starts from reset(seed=1000*seed + i)")
    evaluation.add_argument("--video", type=Path, metavar="PATH.gif",
                            help="record the first episode as an animated GIF instead (MuJoCo renders with "
                                 "MUJOCO_GL=egl or osmesa)")
    evaluation.set_defaults(handler=command_evaluate)
    listing = commands.add_parser("list", help="the valid suites, tasks, methods and profiles", allow_abbrev=False)
    listing.add_argument("kind", nargs="?", choices=list(LISTS))
    listing.set_defaults(handler=command_list)
    return root


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    datasets_root()
    return args.handler(args)
