"""`python -m ablations.idm_accuracy`: how good DAWM's inverse dynamics and synthetic transitions are, and the
compounding error of the diffusion world model next to the one-step model's (ablations/model_accuracy.py says
exactly what is measured).

One measurement file per (task, seed, profile) under results/measurements/idm_accuracy/ (done ones are
skipped, unless they measured another build of their dataset; the trained models are cached artefacts, so an
interrupted run resumes after the last trained model).
Then results/idm_accuracy.md, results/figures/idm_accuracy.png and results/figures/compounding_error.png are
written from those files alone. `--report-only` skips the measurements; missing ones are listed. `--dry-run`
prints the measurements, which are done and what the rest cost (ablations/accuracy_cost.py), and runs nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

import matplotlib
import pandas as pd
import seaborn as sns
import torch

from ablations.accuracy_cost import print_dry_run
from ablations.model_accuracy import TOLERANCE, WORLD_MODEL_VARIANTS, AccuracySpec, Report, measure
from ablations.measurement_jobs import measured, run_measurements
from ablations.reporting import finish_report, rerun_command, shown_tasks
from benchmark import options
from benchmark.cli import data_spec, exit_status, single_device
from benchmark.data import load_dataset
from benchmark.errors import exit_2_on_usage_error
from benchmark.grid.profiles import get_profile
from benchmark.results import write_json_atomic
from benchmark.envs.tasks import parse_task

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DEFAULT_TASKS = ("halfcheetah-medium-v2", "hopper-medium-v2", "walker2d-medium-v2")
DEFAULT_MEASUREMENTS = Path("results") / "measurements" / "idm_accuracy"
REAL_SERIES = {"idm": ("real (held out)",), "dynamics": ("real (s, a)", "real s, IDM action")}


def measure_to_file(spec: AccuracySpec, path: Path, report: Report = lambda phase: None) -> str:
    """The job: measure and write atomically (nothing is written on failure)."""
    torch.set_num_threads(1)
    write_json_atomic(path, measure(spec, report))
    return str(path)


def load_measurements(folder: Path, profile: str, tasks: list[str] | None, seeds: list[int] | None,
                      variant: str = "", source: str = "local") -> pd.DataFrame:
    """Long form: one row per (task, seed, section, series, step, metric), for one data source and world-model
    variant; tasks or seeds None: all of them."""
    frames = []
    for path in sorted(Path(folder).glob(f"{profile}/{source}/*/seed*.json")):
        content = json.loads(path.read_text())
        run = content["run"]
        if ((tasks is None or run["task"] in tasks) and (seeds is None or run["seed"] in seeds)
                and run.get("world_model_variant", "") == variant):
            frames.append(pd.DataFrame(content["records"]).assign(
                task=run["task"], seed=run["seed"], commit=content["environment"]["git_commit"]))
    columns = ["section", "series", "step", "metric", "value", "count", "task", "seed", "commit"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _pivot(records: pd.DataFrame, section: str, metrics: dict[str, str]) -> pd.DataFrame:
    """Mean over seeds; rows (series, step), one column per metric, and the transitions measured."""
    data = records[(records["section"] == section) & records["metric"].isin(list(metrics))].copy()
    data["step"] = data["step"].map(lambda s: "all" if pd.isna(s) else str(int(s)))
    table = data.pivot_table(index=["series", "step"], columns="metric", values="value", aggfunc="mean", sort=False)
    counts = data.groupby(["series", "step"], sort=False)["count"].first()
    table = table[list(metrics)].rename(columns=metrics).round(4)
    table["transitions"] = counts
    return table.reset_index()


def task_section(records: pd.DataFrame, task: str) -> list[str]:
    seeds = sorted(records["seed"].unique())
    lines = [f"## {task} (seeds {', '.join(map(str, seeds))}; mean over seeds)\n",
             "### IDM action error (step h of the rollout; `all`: every held-out transition)\n",
             _pivot(records, "idm", {"mse": "MSE", "log_likelihood": "log-lik / dim",
                                     "within_tolerance": f"within {TOLERANCE}"}).to_markdown(index=False), "",
             "### IDM per-dimension RMSE\n"]
    dims = sorted({m for m in records["metric"] if m.startswith("rmse_dim")}, key=lambda m: int(m[8:]))
    per_dim = records[records["metric"].isin(dims) & (records["step"].isna() | (records["step"] == 0))]
    per_dim = per_dim.pivot_table(index="series", columns="metric", values="value", aggfunc="mean")[dims]
    lines += [per_dim.rename(columns=lambda m: f"a[{m[8:]}]").round(4).reset_index().to_markdown(index=False), "",
              "### Dynamics consistency: MuJoCo from the transition's state with its action\n",
              _pivot(records, "dynamics", {"state_rmse": "next-state RMSE (std)", "reward_mae": "reward MAE",
                                           "restorable": "restorable"}).to_markdown(index=False), "",
              "### k-step error against the held-out trajectory\n"]
    k_step = records[records["section"] == "k_step"].pivot_table(index="step", columns=["metric", "series"],
                                                                 values="value", aggfunc="mean")
    k_step.columns = [f"{'state RMSE (std)' if m == 'state_rmse' else 'reward MAE'}, {s}" for m, s in k_step.columns]
    lines += [k_step.round(4).rename_axis("k").reset_index().to_markdown(index=False), ""]
    return lines


def variant_section(folder: Path, profile: str, default: pd.DataFrame, source: str) -> list[str]:
    """The diffusion world model's k-step error next to its variants' (WORLD_MODEL_VARIANTS), where measured."""
    frames = [default.assign(variant="default")]
    for name, fields in WORLD_MODEL_VARIANTS.items():
        if name:
            label = name + " (" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"
            frames.append(load_measurements(folder, profile, None, None, name, source).assign(variant=label))
    data = pd.concat(frames, ignore_index=True)
    data = data[(data["section"] == "k_step") & (data["series"] == "diffusion world model")
                & data["step"].isin([1, 3, 7])]
    if data["variant"].nunique() < 2:
        return []
    table = data.pivot_table(index=["task", "variant"], columns=["metric", "step"], values="value", aggfunc="mean")
    names = {"state_rmse": "state RMSE (std)", "reward_mae": "reward MAE"}
    table.columns = [f"{names[m]}, k={int(k)}" for m, k in table.columns]
    return ["## World-model variants: k-step error of the diffusion world model (mean over seeds)\n",
            "Measured with `--world-model-variants`; each variant is a world model trained and measured like the "
            "default one, on the same split.\n",
            table.round(4).reset_index().to_markdown(index=False), ""]


def _with_flat_references(records: pd.DataFrame, section: str, metric: str, horizon: int) -> pd.DataFrame:
    """The section's metric by step; the real-data series (no step) drawn as flat lines over the steps."""
    data = records[(records["section"] == section) & (records["metric"] == metric)]
    flat = data[data["series"].isin(REAL_SERIES[section])]
    flat = pd.concat([flat.assign(step=h) for h in range(horizon)], ignore_index=True)
    return pd.concat([data[~data["series"].isin(REAL_SERIES[section])], flat], ignore_index=True)


TASKS_PER_ROW = 3  # the nine D4RL tasks: one row per dataset, one column per environment


def figures(records: pd.DataFrame, idm_out: Path, compounding_out: Path) -> None:
    """Per task, its IDM panel above its dynamics panel; tasks in the suite's order, TASKS_PER_ROW to a row."""
    horizon = int(records.loc[records["section"] == "k_step", "step"].max())
    panels = [("IDM action MSE vs real action", _with_flat_references(records, "idm", "mse", horizon)),
              ("MuJoCo next-state RMSE (data std)", _with_flat_references(records, "dynamics", "state_rmse",
                                                                          horizon))]
    tasks = shown_tasks([], records["task"])
    columns, task_rows = min(len(tasks), TASKS_PER_ROW), -(-len(tasks) // TASKS_PER_ROW)
    figure, axes = plt.subplots(2 * task_rows, columns, figsize=(4.2 * columns + 1.5, 3.4 * 2 * task_rows),
                                squeeze=False, constrained_layout=True)
    for index in range(len(tasks), task_rows * columns):  # the last row's empty places
        task_row, column = divmod(index, columns)
        axes[2 * task_row, column].set_visible(False)
        axes[2 * task_row + 1, column].set_visible(False)
    for index, task in enumerate(tasks):
        task_row, column = divmod(index, columns)
        for panel, (ylabel, data) in enumerate(panels):
            ax = axes[2 * task_row + panel, column]
            show_legend = index == columns - 1
            sns.lineplot(data=data[data["task"] == task], x="step", y="value", hue="series", style="series",
                         markers=True, errorbar="sd", ax=ax, legend=show_legend)
            ax.set(title=f"{task}: {'IDM' if panel == 0 else 'dynamics'}", xlabel="rollout step h",
                   ylabel=ylabel if column == 0 else "")
            if show_legend:
                ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.suptitle("DAWM's inverse dynamics on real and generated transitions (held-out episodes)")
    _save(figure, idm_out)

    data = records[records["section"] == "k_step"].rename(columns={"series": "model"})
    data["metric"] = data["metric"].map({"state_rmse": "state RMSE (data std)", "reward_mae": "reward MAE"})
    data["panel"] = data["task"] + "\n" + data["metric"]
    order = [f"{task}\n{metric}" for task in tasks for metric in ("state RMSE (data std)", "reward MAE")]
    grid = sns.relplot(data=data, x="step", y="value", hue="model", style="model", markers=True, col="panel",
                       col_order=order, col_wrap=2 * columns, kind="line", errorbar="sd", height=2.8, aspect=1.2,
                       facet_kws={"sharey": False})
    grid.set_axis_labels("k (steps after s_t)", "error vs held-out data")
    grid.set_titles("{col_name}")
    grid.figure.suptitle("Compounding error: diffusion world model vs one-step model", y=1.02)
    _save(grid.figure, compounding_out)


def _save(figure, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(figure)


def report(folder: Path, tasks: list[str], seeds: list[int], profile: str, out: Path, source: str = "local") -> str:
    """Every measurement on disk (all tasks and seeds of this profile and source); `tasks` x `seeds` are the ones
    listed as missing where not measured."""
    records = load_measurements(folder, profile, None, None, source=source)
    tasks = shown_tasks(tasks, records["task"])
    found = set(zip(records["task"], records["seed"]))
    missing = [(task, f"{task} seed {seed}") for task in tasks for seed in seeds if (task, seed) not in found]
    commits = ", ".join(sorted({str(c)[:10] for c in records["commit"]})) or "none"
    lines = [f"# IDM accuracy, dynamics consistency and compounding error (profile `{profile}`, source `{source}`)\n",
             f"Produced by `python -m ablations.idm_accuracy --profile {profile}` from {len(found)} measurement "
             f"files in `{folder}` (commits {commits}). The diffusion world model, DAWM's IDM and the one-step "
             f"model are trained with the `{profile}` profile's budgets on 95% of each dataset's episodes and "
             f"measured on the other 5%. State errors are RMSEs in units of the data's per-dimension standard "
             f"deviation; actions are in [-1, 1].\n",
             "- IDM: against the real action a_{t+h}. At h = 0 that is the action the rollout was conditioned on "
             "(an exact reference); for h >= 1 it is the behaviour's action on the real trajectory, so the error "
             "also counts the generated trajectory's drift. `real RTG`: rollouts conditioned on the held-out "
             "row's own return-to-go; `DAWM RTG`: on DAWM's fixed evaluation RTG (h = 0 only).",
             "- Dynamics consistency: MuJoCo is put in the transition's state (qpos/qvel from the observation, "
             "x = 0) and steps its action: DAWM's own (a_t at h = 0, the IDM's after). `real (s, a)` checks the "
             "oracle (it should be ~0). `restorable`: the share of states with no observed velocity at "
             "gymnasium's clip bound (10); the others cannot be restored and are left out.",
             "- k-step error: the world model (real RTG, only a_t given) and the one-step model rolled out with "
             "the dataset's own actions a_t..a_{t+k-1}, against the held-out s_{t+k} and r_{t+k-1}.\n"]
    for task in tasks:
        if task in set(records["task"]):
            lines += task_section(records[records["task"] == task], task)
    lines += variant_section(folder, profile, records, source)
    idm_out, compounding_out = (out.parent / "figures" / f"{name}.png" for name in ("idm_accuracy",
                                                                                 "compounding_error"))
    return finish_report(lines, missing, partial(rerun_command, "idm_accuracy", profile, source, seeds), out,
                         [idm_out, compounding_out],
                         None if records.empty else lambda: figures(records, idm_out, compounding_out))

@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ablations.idm_accuracy", description=__doc__, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[options.selection(), options.cache(), options.measurement_execution(),
                                              options.device(), options.measurement_skipping()])
    parser.add_argument("--starts", type=int, default=2048, help="held-out rows the rollouts start from")
    parser.add_argument("--measurements", type=Path, default=DEFAULT_MEASUREMENTS)
    parser.add_argument("--world-model-variants", nargs="+", default=[],
                        choices=[name for name in WORLD_MODEL_VARIANTS if name],
                        help="also measure these world-model alternatives (e.g. eps: epsilon prediction)")
    parser.add_argument("--out", type=Path, default=Path("results") / "idm_accuracy.md")
    parser.set_defaults(tasks=list(DEFAULT_TASKS), seeds=[0], profile="quick")
    args = parser.parse_args(argv)
    get_profile(args.profile)
    device = single_device(args.device)
    specs = [AccuracySpec(task, seed, args.profile, data_spec(args), args.starts, args.cache, device,
                          world_model_variant=variant)
             for variant in ("", *args.world_model_variants) for task in args.tasks for seed in args.seeds]
    if args.dry_run:
        return print_dry_run(specs, args.measurements, Path(args.cache))
    failed = 0
    if not args.report_only:
        checksums = {task: load_dataset(parse_task(task), data_spec(args)).checksum for task in args.tasks}
        todo = [spec for spec in specs if not measured(spec.path(args.measurements), checksums[spec.task])]
        if todo:
            failed = run_measurements(
                todo, lambda spec, report: measure_to_file(spec, spec.path(args.measurements), report),
                args.measurements, "idm-accuracy", args.executor, args.cluster_profile, args.workers)
    print(report(args.measurements, args.tasks, args.seeds, args.profile, args.out, args.source))
    return exit_status(failed, "measurement(s)")


if __name__ == "__main__":
    sys.exit(main())
