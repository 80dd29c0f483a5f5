"""Tables from result files alone: task x method, mean ± std over seeds, averages over tasks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.methods import METHODS
from benchmark.results import load_results, write_text_atomic

MISSING = "–"


def seed_cell(scores: pd.Series) -> str:
    """'mean ± std (seeds)' of one task's final scores, population std; missing when there are none."""
    if scores.empty:
        return MISSING
    std = scores.std(ddof=0) if len(scores) > 1 else 0.0
    return f"{scores.mean():.1f} ± {std:.1f} ({len(scores)})"


def score_table(runs: pd.DataFrame, score: str = "final_score", tasks: list[str] | None = None,
                methods: list[str] | None = None) -> pd.DataFrame:
    """Rows: tasks then 'average'; columns: method labels. Missing runs stay missing, never zero.

    The average is the mean over tasks of each task's seed-mean, shown only when every task has runs.
    """
    tasks = tasks or sorted(runs["task"].unique())
    methods = methods or [m for m in METHODS if m in set(runs["method"])]
    table = pd.DataFrame(index=[*tasks, "average"], columns=[METHODS[m].label for m in methods], dtype=object)
    for method in methods:
        label = METHODS[method].label
        task_means = []
        for task in tasks:
            scores = runs.loc[(runs["task"] == task) & (runs["method"] == method), score]
            table.loc[task, label] = seed_cell(scores)
            if not scores.empty:
                task_means.append(scores.mean())
        complete = len(task_means) == len(tasks)
        table.loc["average", label] = f"{sum(task_means) / len(task_means):.1f}" if complete else MISSING
    table.index.name = "task"
    return table


def render(runs: pd.DataFrame, title: str = "Results") -> str:
    """Markdown with one section per (profile, data source), each saying what was run."""
    if runs.empty:
        return f"# {title}\n\nNo result files found.\n"
    parts = [f"# {title}\n",
             "Normalised score (D4RL reference returns, x100) of the final evaluation, mean ± std over "
             "seeds (number of seeds), computed from the result files alone.\n"]
    for (profile, source), group in runs.groupby(["profile", "source"]):
        commits = sorted({c[:10] for c in group["commit"].dropna()}) or ["unknown"]
        parts.append(
            f"## profile `{profile}`, data source `{source}`\n\n"
            f"- runs: {len(group)}; seeds: {', '.join(map(str, sorted(group['seed'].unique())))}; "
            f"gradient steps: {', '.join(map(str, sorted(group['train_steps'].unique())))}\n"
            f"- datasets: {', '.join(sorted(group['dataset_id'].unique()))}\n"
            f"- commits: {', '.join(commits)}; devices: {', '.join(sorted(group['device'].unique()))}\n\n"
            f"{score_table(group).to_markdown()}\n")
    return "\n".join(parts)


def write_report(results_dir: Path, out: Path, table2: Path | None = None) -> str:
    """results/table.md (every run) and, beside it, results/table2.md (the papers' main table)."""
    from benchmark.table2 import render_table2

    runs = load_results(results_dir)
    runs = runs[runs["variant"] == ""]  # ablation variants have their own reports
    text = render(runs)
    write_text_atomic(out, text)
    write_text_atomic(table2 or out.with_name("table2.md"), render_table2(runs))
    return text
