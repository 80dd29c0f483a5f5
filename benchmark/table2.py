"""results/table2.md: the papers' main table, our runs beside the published numbers.

Rows: the 9 D4RL tasks and their average; columns: the methods of DAWM's comparison. Each cell: our mean ±
std over seeds (number of seeds) and the published value. Below: per method, the interquartile mean over all
runs with a 95% stratified-bootstrap confidence interval, and the relative improvements the papers claim,
computed on our runs. A pure function of the result files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

from benchmark.methods import METHODS
from benchmark.paper_numbers import CLAIMED_IMPROVEMENTS, DAWM_CLAIMS, PAPER
from benchmark.report import MISSING, seed_cell
from benchmark.suites import D4RL9

TABLE2_METHODS = ("onestep-td3bc", "onestep-iql", "dd", "dwm-td3bc", "dwm-iql", "dawm-td3bc", "dawm-iql", "td3bc",
                  "iql")


def task_means(runs: pd.DataFrame, method: str) -> dict[str, float]:
    rows = runs[runs["method"] == method]
    return rows.groupby("task")["final_score"].mean().to_dict()


def average(runs: pd.DataFrame, method: str, tasks: tuple[str, ...] = D4RL9) -> float | None:
    """Mean over tasks of the per-task seed means; None unless every task has runs."""
    means = task_means(runs, method)
    return float(np.mean([means[t] for t in tasks])) if all(t in means for t in tasks) else None


def iqm_with_ci(runs: pd.DataFrame, method: str, repetitions: int = 2000, seed: int = 0,
                ) -> tuple[float, float, float] | None:
    """Interquartile mean of all the method's final scores and its 95% stratified-bootstrap interval
    (runs resampled with replacement within each task, as rliable does)."""
    rows = runs[runs["method"] == method]
    if rows.empty:
        return None
    groups = [g["final_score"].to_numpy() for _, g in rows.groupby("task")]
    rng = np.random.default_rng(seed)
    samples = [trim_mean(np.concatenate([rng.choice(g, len(g)) for g in groups]), 0.25) for _ in range(repetitions)]
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(trim_mean(np.concatenate(groups), 0.25)), float(low), float(high)


def _cell(scores: pd.Series, paper: float | None) -> str:
    ours = seed_cell(scores)
    return f"{ours} · {paper:.1f}" if paper is not None else ours


def main_table(runs: pd.DataFrame) -> pd.DataFrame:
    columns = [METHODS[m].label for m in TABLE2_METHODS]
    table = pd.DataFrame(index=[*D4RL9, "average"], columns=columns, dtype=object)
    for method, label in zip(TABLE2_METHODS, columns):
        paper = PAPER.get(method)
        for task in D4RL9:
            scores = runs.loc[(runs["task"] == task) & (runs["method"] == method), "final_score"]
            table.loc[task, label] = _cell(scores, paper.scores.get(task) if paper else None)
        ours = average(runs, method)
        ours_text = MISSING if ours is None else f"{ours:.1f}"
        if paper:
            table.loc["average", label] = f"{ours_text} · {paper.average:.1f}"
        else:
            table.loc["average", label] = f"{ours_text} · claim: {DAWM_CLAIMS[method].split(' on ')[0]}"
    table.index.name = "task"
    return table


def iqm_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for method in TABLE2_METHODS:
        stats = iqm_with_ci(runs, method)
        rows.append({"method": METHODS[method].label, "runs": int((runs["method"] == method).sum()),
                     "tasks": int(runs.loc[runs["method"] == method, "task"].nunique()),
                     "IQM": MISSING if stats is None else f"{stats[0]:.1f}",
                     "95% CI": MISSING if stats is None else f"[{stats[1]:.1f}, {stats[2]:.1f}]"})
    return pd.DataFrame(rows)


def _relative(ours: float | None, baseline: float | None) -> str:
    return MISSING if ours is None or baseline is None else f"{100 * (ours / baseline - 1):+.1f}%"


def improvements_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Relative improvement of the 9-task averages; missing unless both methods cover all 9 tasks."""
    def pooled(methods: tuple[str, ...]) -> float | None:
        values = [average(runs, m) for m in methods]
        return None if None in values else float(np.mean(values))

    rows = [
        ("DAWM-TD3BC vs DWM-TD3BC", _relative(average(runs, "dawm-td3bc"), average(runs, "dwm-td3bc")),
         CLAIMED_IMPROVEMENTS[("dawm-td3bc", "dwm-td3bc")]),
        ("DAWM-IQL vs DWM-IQL", _relative(average(runs, "dawm-iql"), average(runs, "dwm-iql")),
         CLAIMED_IMPROVEMENTS[("dawm-iql", "dwm-iql")]),
        ("DWM vs one-step (TD3BC and IQL pooled)", _relative(pooled(("dwm-td3bc", "dwm-iql")),
                                                             pooled(("onestep-td3bc", "onestep-iql"))),
         CLAIMED_IMPROVEMENTS[("dwm", "onestep")]),
    ]
    return pd.DataFrame(rows, columns=["comparison", "ours", "paper"])


def paper_footnotes() -> str:
    """Under the table, where a reader looks: how each published column was obtained, against our protocol."""
    lines = ["Published columns (the value after ·), per column:"]
    for method in TABLE2_METHODS:
        paper = PAPER.get(method)
        text = (f"{paper.source}: {paper.protocol}" if paper
                else f"DAWM publishes no per-task values; {DAWM_CLAIMS[method]}")
        lines.append(f"- {METHODS[method].label}: {text}.")
    lines.append("- Ours: one configuration per task (DWM-*: H=7 and the middle RTG of DWM's sweep; OneStep-*: H=2), "
                 "never a best-of-sweep; the final evaluation; the profile's steps; gymnasium v5 MuJoCo.")
    return "\n".join(lines)


def render_table2(runs: pd.DataFrame) -> str:
    """Markdown for one (profile, source) group of runs, or a message naming what to run."""
    runs = runs[runs["method"].isin(TABLE2_METHODS) & runs["task"].isin(D4RL9)]
    if runs.empty:
        return ("# Table 2\n\nNo result files for the table's tasks and methods. Run them with\n"
                "`python -m benchmark run --suite d4rl9` (quick profile, 5 seeds), then `python -m benchmark report`.\n")
    parts = ["# Table 2: D4RL locomotion, normalised score (x100)\n"]
    for (profile, source), group in runs.groupby(["profile", "source"]):
        missing = [f"{METHODS[m].label} on {t}" for m in TABLE2_METHODS for t in D4RL9
                   if group[(group["method"] == m) & (group["task"] == t)].empty]
        commits = sorted({c[:10] for c in group["commit"].dropna()}) or ["unknown"]
        steps = {METHODS[m].label: sorted(group.loc[group["method"] == m, "train_steps"].unique().tolist())
                 for m in TABLE2_METHODS if (group["method"] == m).any()}
        parts.append(
            f"## profile `{profile}`, data source `{source}`\n\n"
            f"- produced by `python -m benchmark report` from {len(group)} result files; datasets: "
            f"{', '.join(sorted(group['dataset_id'].unique()))}"
            + (" (how they were built: [datasets.md](datasets.md))" if source == "local" else "") + "\n"
            f"- seeds: {', '.join(map(str, sorted(group['seed'].unique())))}; agent steps: "
            + "; ".join(f"{label} {', '.join(map(str, s))}" for label, s in steps.items()) + "\n"
            f"- commits: {', '.join(commits)}; devices: {', '.join(sorted(group['device'].unique()))}\n"
            f"- each cell: ours, mean ± std over seeds (seeds) · the published value (DWM's tables for OneStep-*, "
            f"DD and DWM-*, CORL's last scores for TD3+BC and IQL; DAWM publishes only average claims), obtained "
            f"under other protocols (best-of-sweep for DWM's columns, other budgets and simulator): see the "
            f"footnotes under the table. "
            f"{MISSING} = not run, never zero. DD is DWM's re-run preset (`dd`), the DD DWM and DAWM compare "
            f"against.\n"
            + ("- our datasets are built locally with the D4RL recipe and are weaker than D4RL's (see the "
               "card), so per-task values are not comparable with the published ones; comparisons between "
               "our columns are.\n" if source == "local" else "")
            + f"- missing: {len(missing)} of {len(TABLE2_METHODS) * len(D4RL9)} cells\n\n"
            f"{main_table(group).to_markdown()}\n\n"
            f"{paper_footnotes()}\n\n"
            f"### Interquartile mean over all runs (95% stratified-bootstrap CI)\n\n"
            f"{iqm_table(group).to_markdown(index=False)}\n\n"
            f"### Relative improvements of the 9-task averages\n\n"
            f"{improvements_table(group).to_markdown(index=False)}\n")
    return "\n".join(parts)
