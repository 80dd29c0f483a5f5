"""results/claims.md: each claim of the papers, tested on our runs, with a verdict computed from result files
(EXPLANATION says how effects, intervals and verdicts are computed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.reports import performance
from benchmark.reports.runs import select_runs
from benchmark.reports.stats import (MIN_SEEDS_FOR_INTERVAL, MISSING, NO_INTERVAL, complete_matrix,
                                     stratified_bootstrap)
from benchmark.grid.suites import D4RL9

STABLE_BAND = 0.10  # ours: "stable over H" = every horizon within 10% of H=7


@dataclass(frozen=True)
class Claim:
    text: str
    source: str
    better: tuple[str, ...]  # methods (with `+variant`) pooled on the claimed-better side
    baseline: tuple[str, ...]
    claimed: str  # the published effect, as printed


CLAIMS = (
    Claim("DWM beats one-step MVE", "DWM Table 6.2 (+44% over TD3BC, IQL, PQL)", ("dwm-td3bc", "dwm-iql"),
          ("onestep-td3bc", "onestep-iql"), "+65% (its TD3BC and IQL columns)"),
    Claim("DAWM-TD3BC beats DWM-TD3BC", "DAWM, as the project specification states it", ("dawm-td3bc",),
          ("dwm-td3bc",), "+9.3%"),
    Claim("DAWM-IQL beats the IQL baseline (DWM-IQL)", "DAWM, as the project specification states it",
          ("dawm-iql",), ("dwm-iql",), "+9.5%"),
    Claim("DAWM's 8x synthetic data vs DAWM-T's 1x", "DAWM's data-volume ablation (numbers unknown)",
          ("dawm-td3bc", "dawm-iql"), ("dawm-t-td3bc", "dawm-t-iql"), "unknown"),
)
HORIZON_CLAIM = Claim("DAWM is stable over H in {1, 3, 7}", "DAWM, as the project specification states it",
                      ("dawm-td3bc+h1", "dawm-td3bc+h3", "dawm-iql+h1", "dawm-iql+h3"), ("dawm-td3bc", "dawm-iql"),
                      f"stable (ours: within {STABLE_BAND:.0%} of H=7)")


def _named(runs: pd.DataFrame) -> pd.DataFrame:
    """`method` becomes `method+variant` for ablation variants, so a variant is a column of its own."""
    named = runs.copy()
    named["method"] = [f"{m}+{v}" if v else m for m, v in zip(runs["method"], runs["variant"])]
    return named


def _matrices(runs: pd.DataFrame, methods: tuple[str, ...], tasks: list[str]) -> list[list[np.ndarray]]:
    return [complete_matrix(runs, m, tasks)[0] for m in methods]


def _pooled_mean(samples: list[list[np.ndarray]]) -> float:
    return float(np.mean([np.mean(np.concatenate(sample)) for sample in samples]))


def relative_effect(runs: pd.DataFrame, claim: Claim, tasks: list[str]):
    """(effect, low, high) of mean(better) / mean(baseline) - 1 over `tasks`."""
    k = len(claim.better)

    def statistic(*samples):
        return _pooled_mean(list(samples[:k])) / _pooled_mean(list(samples[k:])) - 1

    return stratified_bootstrap(_matrices(runs, claim.better + claim.baseline, tasks), statistic)


def horizon_spread(runs: pd.DataFrame, tasks: list[str]):
    """(effect, low, high) of the largest |relative difference| of H=1 or H=3 from H=7, per agent."""
    pairs = [("dawm-td3bc+h1", "dawm-td3bc"), ("dawm-td3bc+h3", "dawm-td3bc"), ("dawm-iql+h1", "dawm-iql"),
             ("dawm-iql+h3", "dawm-iql")]
    methods = tuple(dict.fromkeys(m for pair in pairs for m in pair))

    def statistic(*samples):
        means = {m: np.mean(np.concatenate(s)) for m, s in zip(methods, samples)}
        return max(abs(means[a] / means[b] - 1) for a, b in pairs)

    return stratified_bootstrap(_matrices(runs, methods, tasks), statistic)


def _row(claim: Claim, runs: pd.DataFrame, measure, stability: bool) -> dict:
    methods = claim.better + claim.baseline
    tasks = [t for t in D4RL9 if all(complete_matrix(runs, m, [t])[0] is not None for m in methods)]
    row = {"claim": claim.text, "source": claim.source, "published": claim.claimed}
    if not tasks:
        return row | {"ours [95% CI]": MISSING, "tasks x seeds": "0", "verdict": "not yet run"}
    effect, low, high = measure(runs, tasks)
    seeds = min(len(t) for m in methods for t in complete_matrix(runs, m, tasks)[0])
    size = f"{len(tasks)} x {seeds}" + ("" if len(tasks) == len(D4RL9) else f" (of {len(D4RL9)} tasks)")
    if seeds < MIN_SEEDS_FOR_INTERVAL:
        return row | {"ours [95% CI]": f"{100 * effect:+.1f}% {NO_INTERVAL}", "tasks x seeds": size,
                      "verdict": f"no verdict (needs {MIN_SEEDS_FOR_INTERVAL}+ seeds per task)"}
    if stability:
        verdict = ("supported" if high <= STABLE_BAND else "not supported" if low > STABLE_BAND else "inconclusive")
    elif claim.claimed == "unknown":
        verdict = "measured (no published number to test)"
    else:
        verdict = "supported" if low > 0 else "not supported" if high < 0 else "inconclusive"
    return row | {"ours [95% CI]": f"{100 * effect:+.1f}% [{100 * low:+.1f}%, {100 * high:+.1f}%]",
                  "tasks x seeds": size, "verdict": verdict}


def speed_row(speed: list[tuple[str, float]]) -> dict:
    """DWM's inference-time claim from the speed suite: DD's time per episode over DWM's, one ratio per device."""
    row = {"claim": "DD is 4.6x slower than DWM at inference", "source": "DWM Table 6.3 (7.53 s vs 1.62 s)",
           "published": "4.6x"}
    if not speed:
        return row | {"ours [95% CI]": MISSING, "tasks x seeds": "0", "verdict": "not yet run (needs the speed suite)"}
    ours = "; ".join(f"{ratio:,.1f}x ({device})" for device, ratio in speed)
    gpu = [ratio for device, ratio in speed if device.startswith("cuda")]
    if gpu:
        verdict = "supported (DD slower on the GPU)" if min(gpu) > 1 else "not supported (DD not slower on the GPU)"
    else:
        verdict = "DD slower on the CPU" if min(ratio for _, ratio in speed) > 1 else "DD not slower on the CPU"
        verdict += "; not yet measured on a GPU, where the paper timed it"
    return row | {"ours [95% CI]": ours, "tasks x seeds": "speed suite", "verdict": verdict}


def claims_table(runs: pd.DataFrame, speed: list[tuple[str, float]] = ()) -> pd.DataFrame:
    """`speed`: (device, DD-over-DWM time per episode) from the speed suite, one per device measured."""
    rows = [_row(claim, runs, lambda r, t, c=claim: relative_effect(r, c, t), False) for claim in CLAIMS]
    rows.append(_row(HORIZON_CLAIM, runs, horizon_spread, True))
    rows.append(speed_row(list(speed)))
    return pd.DataFrame(rows)


def speed_ratios(perf_dir: Path) -> list[tuple[str, float]]:
    """(device, DD's time per episode over DWM's) from the newest speed-suite file in `perf_dir` that timed both,
    one per device."""
    tables = [performance.load(path) for path in sorted(Path(perf_dir).glob("*.json"))]
    ratios = [(context, performance.episode_ratio(table, "dd")) for context, table in tables]
    timed = [(context, ratio) for context, ratio in ratios if ratio is not None]
    return [(performance.device_label(context), ratio) for context, ratio in performance.latest_per_device(timed)]


EXPLANATION = (
    "Effects are relative differences of mean final scores, pooled over the methods a claim names, on the tasks "
    "where every one of them has a complete set of seeds; the 95% interval is a stratified bootstrap (each "
    "method's runs resampled within each task). Verdicts: **supported** when the interval lies above 0 (for "
    f"stability: entirely within {STABLE_BAND:.0%} of H=7), **not supported** when it lies below 0 (stability: "
    "entirely outside that band), **inconclusive** when it straddles the line, **no verdict** with one seed per "
    "task (a bootstrap over single runs has no spread to resample), **not yet run** when no task has complete "
    "runs of every method involved. The inference-time row is the speed suite's (`results/perf/`, the newest file "
    "per device; `performance.md`): DD's time per 1000-step episode over DWM's, environment stepping included.")


def render_claims(all_runs: pd.DataFrame, speed: list[tuple[str, float]] = ()) -> str:
    parts = ["# The papers' claims, tested on our runs\n",
             "Produced by `python -m benchmark report` from the result files and the speed suite's files alone. "
             f"{EXPLANATION}\n"]
    groups = sorted(set(zip(all_runs["profile"], all_runs["source"])))
    for profile, source in groups:
        selection = select_runs(all_runs, profile=profile, source=source, variants=("", "h1", "h3"))
        runs = _named(selection.runs)
        parts.append(f"## profile `{profile}`, data source `{source}`\n\n{selection.note()}\n\n"
                     f"{claims_table(runs, speed).to_markdown(index=False)}\n")
    if not groups:
        parts.append(f"No result files yet.\n\n{claims_table(_named(all_runs), speed).to_markdown(index=False)}\n")
    return "\n".join(parts)

