"""`python -m ablations.model_quality`: results/model_quality.md, the measured effect of the fixes that made the
model-based methods faithful (the sampler, the normaliser and clipping, the last reward, the bank, the seeds),
before and after, from the project's own files alone:

- sampler quality on a target with a known answer (ablations/analytic_sampler.py), computed here in seconds;
- the world model's k-step error and the IDM's error, from `python -m ablations.idm_accuracy` measurement
  files: before = results/archive/before-issue-13/ (the code of commit 98686d4, kept for this comparison and
  read by nothing else), after = results/measurements/idm_accuracy/ (today's default, and the `eps` variant);
- quick DWM-TD3BC and DAWM-TD3BC scores on hopper-medium, seed 0, from the same two places.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import pandas as pd
import seaborn as sns

from ablations.analytic_sampler import share_near_a_mode
from ablations.idm_accuracy import DEFAULT_MEASUREMENTS, load_measurements
from algorithms.diffusion.gaussian import SamplerSettings
from benchmark.cli import DEFAULT_RESULTS
from benchmark.errors import exit_2_on_usage_error
from benchmark.grid.profiles import get_profile
from benchmark.reports.stats import MISSING
from benchmark.results import write_text_atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ARCHIVE = Path("results") / "archive" / "before-issue-13"
BUDGET_MEASUREMENTS = Path("results") / "measurements" / "model_budget"
OLD_DATASETS = Path("results") / "archive" / "old-datasets"  # measurements of superseded datasets, this report's only
TASKS = ("hopper-medium-v2", "walker2d-medium-v2", "halfcheetah-medium-v2")
METRICS = {  # label -> (section, series, step, metric)
    "world model state RMSE (std), k=1": ("k_step", "diffusion world model", 1, "state_rmse"),
    "world model state RMSE (std), k=7": ("k_step", "diffusion world model", 7, "state_rmse"),
    "world model reward MAE, k=1": ("k_step", "diffusion world model", 1, "reward_mae"),
    "world model reward MAE, k=7": ("k_step", "diffusion world model", 7, "reward_mae"),
    "one-step model state RMSE (std), k=1": ("k_step", "one-step model", 1, "state_rmse"),
    "one-step model state RMSE (std), k=7": ("k_step", "one-step model", 7, "state_rmse"),
    "IDM action MSE, real held-out transitions": ("idm", "real (held out)", None, "mse"),
    "IDM action MSE, generated, h=0": ("idm", "generated, real RTG", 0, "mse"),
    "MuJoCo next-state RMSE (std) of generated transitions, h=1": ("dynamics", "generated, real RTG", 1,
                                                                    "state_rmse"),
}
SAMPLERS = {"5 -> 3 -> 2 (before)": [5, 3, 2, 0], "5 -> 3 -> 1 (after: evenly strided, ends at step 1)": None,
            "5 -> 4 -> 3 -> 2 -> 1 (the full chain)": [5, 4, 3, 2, 1, 0]}


def sampler_table() -> pd.DataFrame:
    settings = SamplerSettings(steps=3, temperature=0.5, guidance=1.0)
    rows = [{"steps visited": label, **{target: f"{share_near_a_mode(5, settings, eps, visited):.3f}"
                                        for target, eps in (("x0 prediction", False), ("epsilon prediction", True))}}
            for label, visited in SAMPLERS.items()]
    return pd.DataFrame(rows)


def _value(records: pd.DataFrame, key: tuple) -> str:
    section, series, step, metric = key
    rows = records[(records["section"] == section) & (records["series"] == series) & (records["metric"] == metric)]
    rows = rows[rows["step"].isna()] if step is None else rows[rows["step"] == step]
    return MISSING if rows.empty else f"{rows['value'].mean():.4f}"


VARIANTS = {"default (z-score, x0)": "", "CDF, clipped, x0": "cdf", "z-score, epsilon": "eps",
            "CDF, clipped, epsilon": "cdf-eps"}


def _metrics_table(columns: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per metric, one column per set of measurement records."""
    return pd.DataFrame([{"metric": label, **{name: _value(records, key) for name, records in columns.items()}}
                         for label, key in METRICS.items()])


def _variants(folder: Path, task: str, prefix: str = "") -> dict[str, pd.DataFrame]:
    return {f"{prefix}{label}": load_measurements(folder, "quick", [task], [0], variant=variant)
            for label, variant in VARIANTS.items()}


def model_table(before: Path, after: Path, task: str) -> pd.DataFrame:
    """The fixes at equal data and budget: 98686d4's measurement beside today's code's on the same build."""
    return _metrics_table({"before": load_measurements(before, "quick", [task], [0]),
                           **_variants(after, task, "after: ")})


def variant_table(measurements: Path, task: str) -> pd.DataFrame:
    """The world-model variants on today's datasets at today's quick budgets (the epsilon vs x0 decision)."""
    return _metrics_table(_variants(measurements, task))


def lowest_error(table: pd.DataFrame) -> str:
    """Which of a variant_table's measured columns has the lowest world-model state error, per step k."""
    parts, variants = [], set()
    for k in (1, 7):
        row = table.set_index("metric").loc[f"world model state RMSE (std), k={k}"]
        measured = {name: float(value) for name, value in row.items() if value != MISSING}
        variants |= measured.keys()
        if measured:
            parts.append(f"k={k}: {min(measured, key=measured.get)}")
    if not parts:
        return "No world-model variant measured yet.\n"
    return (f"Lowest world-model state error among the {len(variants)} of {len(row)} variants measured: "
            f"{'; '.join(parts)}.\n")


def _score(folder: Path, method: str) -> str:
    path = folder / "quick" / "local" / "hopper-medium-v2" / method / "seed0.json"
    if not path.is_file():
        return MISSING
    result = json.loads(path.read_text())
    return f"{result['final_score']:.1f} (best {result['best_score']:.1f})"


def score_table(before: Path, after: Path) -> pd.DataFrame:
    return pd.DataFrame([{"method": method, "before (98686d4; 128-unit data, 15k-step world model)":
                          _score(before, method), "after (today's code, data and quick budgets)": _score(after, method)}
                         for method in ("dwm-td3bc", "dawm-td3bc", "td3bc")])


def measured_commits(*folders: Path) -> str:
    """The commits whose code made the measurement files under `folders` (each file records its own)."""
    commits = set()
    for path in (path for folder in folders for path in Path(folder).rglob("seed*.json")):
        try:
            commits.add(json.loads(path.read_text())["environment"]["git_commit"][:7])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return ", ".join(sorted(commits)) or "none yet"


def budget_records(folder: Path, task: str) -> dict[int, pd.DataFrame]:
    """budget -> the long-form records of `python -m ablations.model_budget` (seed 0, local data)."""
    found = {}
    for path in Path(folder).glob(f"local/{task}/seed0-*.json"):
        content = json.loads(path.read_text())
        budget = content["run"]["budget"]
        found[budget] = pd.DataFrame(content["records"]).assign(**{
            name: training_hours(content["artifacts"][name], budget) for name in TRAINED})
    return dict(sorted(found.items()))


TRAINED = ("world_model", "inverse_dynamics", "one_step_model")


def training_hours(artifact: dict, budget: int) -> float:
    """Core-hours a run of `budget` steps spends training this model: its share of the one long training (whose
    time sums every resumed part); a model that stopped early costs its steps only."""
    return artifact["train_time_s"] * min(budget, artifact["steps"]) / artifact["steps"] / 3600


CURVES = ("world model state RMSE (std), k=1", "world model state RMSE (std), k=7",
          "one-step model state RMSE (std), k=1", "one-step model state RMSE (std), k=7",
          "IDM action MSE, real held-out transitions", "IDM action MSE, generated, h=0",
          "MuJoCo next-state RMSE (std) of generated transitions, h=1")


def budget_section(folder: Path, figure_out: Path) -> list[str]:
    """Model quality against training steps: a table per task and the curves (issue 13's budget knee)."""
    lines = ["## Model quality against training steps (`python -m ablations.model_budget`)\n",
             "One training run per model to the largest budget; each column is the snapshot a run of that many "
             "steps ends with, measured on the held-out 5% of episodes (seed 0). A training cost is that "
             "budget's share of the model's training time, on one core beside one other job (a one-step model "
             "that stopped early costs only the steps it ran).\n"]
    curves = []
    for task in TASKS:
        by_budget = budget_records(folder, task)
        if not by_budget:
            continue
        table = pd.DataFrame([{"metric": label, **{f"{budget // 1000}k": _value(records, METRICS[label])
                                                    for budget, records in by_budget.items()}}
                              for label in METRICS])
        cost = pd.DataFrame([{"metric": f"training cost, core-hours ({label})",
                              **{f"{budget // 1000}k": f"{records[name].iloc[0]:.2f}"
                                 for budget, records in by_budget.items()}}
                             for name, label in zip(TRAINED, ("world model", "IDM", "one-step model"))])
        lines += [f"### {task}\n", pd.concat([table, cost]).to_markdown(index=False), ""]
        curves += [{"task": task, "steps": budget, "metric": label,
                    "value": float(_value(records, METRICS[label]))}
                   for budget, records in by_budget.items() for label in CURVES
                   if _value(records, METRICS[label]) != MISSING]
    if not curves:
        return lines + [f"{MISSING}: not measured yet (`python -m ablations.model_budget`, on the rebuilt "
                        f"datasets).\n"]
    grid = sns.relplot(data=pd.DataFrame(curves), x="steps", y="value", hue="metric", col="task", kind="line",
                       marker="o", height=3.4, facet_kws={"sharey": False})
    grid.set(xscale="log", yscale="log", xlabel="training steps", ylabel="error")
    budgets, quick = sorted({row["steps"] for row in curves}), get_profile("quick")
    for ax in grid.axes.flat:
        ax.set_xticks(budgets, [f"{b // 1000}k" for b in budgets])
        ax.minorticks_off()
        ax.axvline(quick.world_model_steps, color="grey", linestyle="--", linewidth=1)
    figure_out.parent.mkdir(parents=True, exist_ok=True)
    grid.figure.savefig(figure_out, dpi=120, bbox_inches="tight")
    plt.close(grid.figure)
    return lines + [f"![model quality against training steps](figures/{figure_out.name})\n",
                    f"The `quick` profile trains the world model, the IDM and the one-step model for "
                    f"{quick.world_model_steps // 1000}k / {quick.idm_steps // 1000}k / "
                    f"{quick.one_step_model_steps // 1000}k steps (dashed), chosen from these curves "
                    f"(`QUICK_MODEL_BUDGETS` in benchmark/grid/profiles.py says how).\n"]


def report(archive: Path, measurements: Path, results: Path, out: Path,
           budgets: Path = BUDGET_MEASUREMENTS, old_datasets: Path = OLD_DATASETS) -> str:
    lines = ["# Model quality before and after the fidelity fixes (profile `quick`, local data, seed 0)\n",
             "Produced by `python -m ablations.model_quality` from the files named below alone. Before: the code "
             "of commit 98686d4 (measurements and runs kept in `results/archive/before-issue-13/`). After: the "
             f"code of commits {measured_commits(old_datasets / 'measurements')} (what the "
             "measurement files record; later code trains with fused Adam, which changes the numbers only by float "
             "rounding). Both measure the same datasets, the 128-unit-recipe builds the measurement files' checksums "
             "name; those have since been rebuilt (results/datasets.md), and the after files are kept in "
             "`results/archive/old-datasets/` for this comparison.\n",
             "## Sampler quality on a target with a known answer\n",
             "Share of 20,000 samples within 3 standard deviations of a mode of 0.5 N(-1, 0.1^2) + 0.5 N(1, 0.1^2), "
             "with the exact denoiser, K=5 training steps, temperature 0.5 (ablations/analytic_sampler.py).\n",
             sampler_table().to_markdown(index=False), ""]
    for task in TASKS:
        lines += [f"## {task}: world model, one-step model and IDM (held-out 5% of episodes)\n",
                  model_table(archive / "measurements" / "idm_accuracy",
                              old_datasets / "measurements" / "idm_accuracy", task).to_markdown(index=False), ""]
    lines += budget_section(budgets, out.parent / "figures" / "model_budget.png")
    quick = get_profile("quick")
    lines += ["## World-model variants on today's datasets at the quick budgets\n",
              f"`python -m ablations.idm_accuracy --world-model-variants cdf eps cdf-eps` with today's code: models "
              f"of {quick.world_model_steps // 1000}k / {quick.idm_steps // 1000}k / "
              f"{quick.one_step_model_steps // 1000}k steps on the rebuilt datasets (commits "
              f"{measured_commits(measurements)}). These decide the world model's normaliser and prediction "
              f"target; the one-step and IDM rows repeat across columns (one model each).\n"]
    for task in TASKS[:2]:
        table = variant_table(measurements, task)
        lines += [f"### {task}\n", table.to_markdown(index=False), "", lowest_error(table)]
    lines += ["## Quick DWM-TD3BC and DAWM-TD3BC on hopper-medium, seed 0: final (best) normalised score\n",
              score_table(archive / "runs", results).to_markdown(index=False), "",
              f"{MISSING}: not measured yet (`python -m ablations.idm_accuracy --tasks hopper-medium-v2 "
              f"walker2d-medium-v2 --world-model-variants cdf eps cdf-eps`; `python -m benchmark run --suite d4rl9 "
              f"--tasks "
              f"hopper-medium-v2 --methods dwm-td3bc dawm-td3bc --seeds 0`).\n"]
    text = "\n".join(lines)
    write_text_atomic(out, text)
    return text


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ablations.model_quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--measurements", type=Path, default=DEFAULT_MEASUREMENTS)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--budgets", type=Path, default=BUDGET_MEASUREMENTS,
                        help="python -m ablations.model_budget's measurements")
    parser.add_argument("--out", type=Path, default=Path("results") / "model_quality.md")
    args = parser.parse_args(argv)
    print(report(args.archive, args.measurements, args.results, args.out, args.budgets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
