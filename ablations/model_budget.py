"""`python -m ablations.model_budget`: the shared models' quality against their training steps, to set the quick
profile's model budgets at the knee (issue 13).

Per (task, seed), the diffusion world model, DAWM's IDM and the one-step model are trained once, to the largest
budget, on the dataset minus 5% of its episodes, keeping a snapshot at every budget: each snapshot is the model
a run of that budget ends with (benchmark/run/artifacts.py, tested). Each snapshot is measured as
`python -m ablations.idm_accuracy` measures the profile's models (k-step error against the held-out
trajectories, MuJoCo consistency of generated transitions, IDM error), into one file per budget under
results/measurements/model_budget/. `python -m ablations.model_quality` draws the curves into
results/model_quality.md. Resumable: the trainings checkpoint in the cache, and finished budgets are skipped,
unless they measured another build of their dataset (those are set aside and measured again).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ablations.measurement_jobs import measured, run_measurements
from ablations.model_accuracy import (DIFFUSION_METHOD, HELD_OUT_FRACTION, ONE_STEP_METHOD, Models, Report,
                                      measure_models)
from benchmark import options
from benchmark.cli import data_spec, exit_status, single_device
from benchmark.data import load_dataset
from benchmark.data.normalization import StateNormalizer
from benchmark.data.sources import DataSpec
from benchmark.envs.tasks import parse_task
from benchmark.envs.termination import is_terminal
from benchmark.errors import UsageError, exit_2_on_usage_error
from benchmark.grid.hyperparams import resolve
from benchmark.provenance import environment
from benchmark.results import write_json_atomic
from benchmark.run.artifacts import (artifact_summary, inverse_dynamics, one_step_model, snapshot,
                                     world_model)
from benchmark.run.seeding import RunSeeds

DEFAULT_BUDGETS = (15_000, 50_000, 150_000)
DEFAULT_TASKS = ("hopper-medium-v2", "walker2d-medium-v2")
DEFAULT_MEASUREMENTS = Path("results") / "measurements" / "model_budget"


@dataclass(frozen=True)
class BudgetSpec:
    task: str
    seed: int
    budgets: tuple[int, ...]
    data: DataSpec = field(default_factory=DataSpec)
    starts: int = 2048  # held-out rows the rollouts start from
    cache: str = ".cache"
    device: str = "cpu"

    def path(self, out: Path, budget: int) -> Path:
        return Path(out) / self.data.source / self.task / f"seed{self.seed}-{budget}.json"


def measure_budgets(spec: BudgetSpec, out: Path, report: Report = lambda phase: None) -> list[Path]:
    """Train the three models once with snapshots, measure each budget's snapshot, write one file per budget."""
    torch.set_num_threads(1)
    started, device = time.perf_counter(), torch.device(spec.device)
    code_and_machine = environment(device)
    task = parse_task(spec.task)
    dataset = load_dataset(task, spec.data)
    seeds = RunSeeds.spawn(spec.seed)
    train, held = dataset.transitions.split_episodes(HELD_OUT_FRACTION, spec.seed)
    diffusion, one_step = resolve(DIFFUSION_METHOD, spec.task).configs, resolve(ONE_STEP_METHOD, spec.task).configs
    normalizer, cache, top = StateNormalizer.fit(train.observations), Path(spec.cache), max(spec.budgets)
    trained = {
        "world_model": world_model(train, diffusion["world_model"], top, seeds.artifacts, device, cache,
                                   report("world model"), spec.budgets),
        "inverse_dynamics": inverse_dynamics(train, normalizer, diffusion["idm"], top, seeds.artifacts, device,
                                             cache, report("inverse dynamics"), spec.budgets),
        "one_step_model": one_step_model(train, one_step["world_model"], top, seeds.artifacts, device, cache,
                                         lambda s: is_terminal(task.env, s), report("one-step model"),
                                         spec.budgets)}
    trained_s = time.perf_counter() - started
    written = []
    for budget in spec.budgets:
        path = spec.path(out, budget)
        if measured(path, dataset.checksum):
            continue
        tick = time.perf_counter()
        wm, idm, model = (snapshot(*trained[name], budget) for name in ("world_model", "inverse_dynamics",
                                                                          "one_step_model"))
        records = measure_models(Models(wm, idm, model, normalizer, diffusion["bank"].rtg), held, task.env,
                                 dataset.eval_env_id, spec.starts, seeds.draws, device)
        write_json_atomic(path, {
            "schema": 1,
            "run": asdict(spec) | {"budget": budget, "held_out_fraction": HELD_OUT_FRACTION},
            "dataset": {"id": dataset.dataset_id, "source": dataset.source, "checksum": dataset.checksum,
                        "train_transitions": train.size, "held_out_transitions": held.size},
            "artifacts": {name: artifact_summary(artifact) | {"snapshot": budget}
                          for name, (_, artifact) in trained.items()},
            "records": records,
            "wall_time_s": {"models_to_largest_budget": trained_s, "measurement": time.perf_counter() - tick},
            "environment": code_and_machine,
        })
        written.append(path)
    return written


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ablations.model_budget", description=__doc__, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[options.selection(), options.cache(), options.measurement_execution(),
                                              options.device()])
    parser.add_argument("--budgets", nargs="+", type=int, default=list(DEFAULT_BUDGETS),
                        help="training steps to measure, multiples of 1000 (default 15000 50000 150000)")
    parser.add_argument("--starts", type=int, default=2048, help="held-out rows the rollouts start from")
    parser.add_argument("--measurements", type=Path, default=DEFAULT_MEASUREMENTS)
    parser.set_defaults(tasks=list(DEFAULT_TASKS), seeds=[0])
    args = parser.parse_args(argv)
    if args.profile is not None:
        raise UsageError("--profile has no effect here: --budgets sets the models' training steps")
    if any(budget < 1000 or budget % 1000 for budget in args.budgets):
        raise UsageError(f"--budgets {' '.join(map(str, args.budgets))}: give multiples of 1000 (the one-step "
                         f"model validates every 1000 steps)")
    budgets = tuple(sorted(set(args.budgets)))
    device = single_device(args.device)
    specs = [BudgetSpec(parse_task(task).name, seed, budgets, data_spec(args), args.starts, args.cache, device)
             for task in args.tasks for seed in args.seeds]
    checksums = {task.name: load_dataset(task, data_spec(args)).checksum for task in map(parse_task, args.tasks)}
    todo = [spec for spec in specs  # a list in all(): every stale file is set aside, not only the first
            if not all([measured(spec.path(args.measurements, b), checksums[spec.task]) for b in budgets])]
    print(f"{len(specs)} (task, seed) pairs, {len(specs) - len(todo)} measured at every budget, {len(todo)} to go")
    failed = 0
    if todo:
        failed = run_measurements(
            todo, lambda spec, report: ", ".join(map(str, measure_budgets(spec, args.measurements, report))),
            args.measurements, "model-budget", args.executor, args.cluster_profile, args.workers)
    print("draw them with `python -m ablations.model_quality`")
    return exit_status(failed, "measurement(s)")


if __name__ == "__main__":
    sys.exit(main())
