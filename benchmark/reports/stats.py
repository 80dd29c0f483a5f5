"""Cells and aggregates that do not overstate what a handful of seeds can say.

A cell is `mean ± sd (n)` with the sample standard deviation (ddof=1) over n seeds, and `mean (1)` for a single
run. Aggregates follow rliable (Agarwal et al., 2021): the interquartile mean, the optimality gap and the
probability of improvement, each with a 95% stratified-bootstrap interval (runs resampled with replacement
within each task), computed only over complete task x seed matrices, so methods measured on different task
sets are never ranked against each other.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

MISSING = "–"
CELL_HEADER = "mean ± sample standard deviation over seeds (number of seeds); a single run shows no ±"


def seed_cell(scores: pd.Series) -> str:
    if scores.empty:
        return MISSING
    if len(scores) == 1:
        return f"{scores.iloc[0]:.1f} (1)"
    return f"{scores.mean():.1f} ± {scores.std(ddof=1):.1f} ({len(scores)})"


def iqm(scores: np.ndarray) -> float:
    """The mean of the middle 50% of all scores (25% trimmed from each end)."""
    return float(trim_mean(np.asarray(scores, dtype=float), 0.25))


def optimality_gap(scores: np.ndarray, target: float = 100.0) -> float:
    """How far below the expert level (a normalised 100) the scores fall on average; above it counts 0."""
    return float(np.mean(np.maximum(0.0, target - np.asarray(scores, dtype=float))))


def probability_of_improvement(x: list[np.ndarray], y: list[np.ndarray]) -> float:
    """P(X > Y) averaged over tasks (ties count half): per task, the Mann-Whitney U statistic / (m n)."""
    per_task = []
    for a, b in zip(x, y):
        a, b = np.asarray(a, dtype=float)[:, None], np.asarray(b, dtype=float)[None, :]
        per_task.append(float(np.mean((a > b) + 0.5 * (a == b))))
    return float(np.mean(per_task))


MIN_SEEDS_FOR_INTERVAL = 2  # a bootstrap over one run per task resamples nothing: its interval is a point
NO_INTERVAL = "(one seed: no interval)"  # what a report shows in place of such an interval


def has_interval(*matrices: list[np.ndarray]) -> bool:
    """Whether a bootstrap over these per-task score arrays has an interval: enough seeds in every task."""
    return min(len(scores) for matrix in matrices for scores in matrix) >= MIN_SEEDS_FOR_INTERVAL


def complete_matrix(runs: pd.DataFrame, method: str, tasks: list[str]) -> tuple[list[np.ndarray] | None, list[str]]:
    """The method's final scores per task if every task has every seed the method was run with anywhere;
    otherwise (None, the missing 'task seed k' pairs)."""
    rows = runs[runs["method"] == method]
    seeds = sorted(rows["seed"].unique())
    if not seeds:
        return None, [f"{task} (no runs)" for task in tasks]
    missing = [f"{task} seed {seed}" for task in tasks for seed in seeds
               if rows[(rows["task"] == task) & (rows["seed"] == seed)].empty]
    if missing:
        return None, missing
    return [rows.loc[rows["task"] == task].sort_values("seed")["final_score"].to_numpy() for task in tasks], []


def stratified_bootstrap(groups: list[list[np.ndarray]], statistic: Callable[..., float], repetitions: int = 2000,
                         seed: int = 0) -> tuple[float, float, float]:
    """(point estimate, 2.5th, 97.5th percentile): `statistic(*samples)` where each sample is a list of per-task
    arrays; every bootstrap replicate resamples each task's runs with replacement, independently per sample."""
    rng = np.random.default_rng(seed)
    point = statistic(*groups)
    replicates = [statistic(*[[rng.choice(task, len(task)) for task in sample] for sample in groups])
                  for _ in range(repetitions)]
    low, high = np.percentile(replicates, [2.5, 97.5])
    return float(point), float(low), float(high)


def pooled(per_task: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(t, dtype=float) for t in per_task])


def performance_profile(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The fraction of runs scoring above each threshold."""
    scores = np.asarray(scores, dtype=float)
    return np.array([(scores > tau).mean() for tau in thresholds])
