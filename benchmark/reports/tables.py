"""results/table.md (every run, task x method) and `write_report`, which writes every report at once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.errors import UsageError
from benchmark.grid.methods import METHODS
from benchmark.reports.runs import (CAVEAT_MARK, Selection, caveat_note, caveats_by_task, failed_note,
                                     load_failures, load_runs, select_runs)
from benchmark.reports.stats import CELL_HEADER, MISSING, seed_cell
from benchmark.results import write_text_atomic


def score_table(runs: pd.DataFrame, score: str = "final_score", tasks: list[str] | None = None,
                methods: list[str] | None = None) -> pd.DataFrame:
    """Rows: tasks then 'average'; columns: method labels. Missing runs stay missing, never zero.

    The average is the mean over tasks of each task's seed-mean, shown only when every task has runs.
    """
    tasks = tasks or sorted(runs["task"].unique())
    methods = methods or [m for m in METHODS if m in set(runs["method"])]
    marked = caveats_by_task(runs)
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
    table.index = [f"{task} {CAVEAT_MARK}" if task in marked else task for task in table.index]
    table.index.name = "task"
    return table


def by_group(runs: pd.DataFrame, failures: pd.DataFrame | None = None, **criteria) -> dict[tuple[str, str], Selection]:
    """One selection per (profile, data source) present in `runs` or `failures`, each filtered by `select_runs`."""
    groups = set(zip(runs["profile"], runs["source"]))
    if failures is not None:
        groups |= set(zip(failures["profile"], failures["source"]))
    return {(p, s): select_runs(runs, profile=p, source=s, failures=failures, **criteria) for p, s in sorted(groups)}


def render(selections: dict[tuple[str, str], Selection], title: str = "Results") -> str:
    """Markdown with one section per (profile, data source), each saying what was run and what was left out."""
    if all(s.runs.empty and s.failures.empty for s in selections.values()):
        return f"# {title}\n\nNo result files found.\n"
    parts = [f"# {title}\n",
             f"Normalised score (D4RL reference returns, x100) of the final evaluation: {CELL_HEADER}. "
             f"Computed from the result files alone.\n"]
    for (profile, source), selection in sorted(selections.items()):
        group = selection.runs
        if group.empty:
            if not selection.failures.empty:
                parts.append(f"## profile `{profile}`, data source `{source}`\n\nNo finished runs.\n\n"
                             f"{failed_note(selection.failures)}")
            continue
        commits = sorted({c[:10] for c in group["commit"].dropna()}) or ["unknown"]
        parts.append(
            f"## profile `{profile}`, data source `{source}`\n\n"
            f"- runs: {len(group)}; seeds: {', '.join(map(str, sorted(group['seed'].unique())))}\n"
            f"- datasets: {', '.join(sorted(group['dataset_id'].unique()))}\n"
            f"- commits: {', '.join(commits)}; devices: {', '.join(sorted(group['device'].unique()))}\n"
            f"{selection.note()}\n\n"
            f"{score_table(group).to_markdown()}\n\n{failed_note(selection.failures)}{caveat_note(group)}")
    return "\n".join(parts)


def write_report(results_dir: Path, out: Path, allow_empty: bool = False) -> str:
    """results/table.md (every run) and, beside it, table2.md, claims.md (with the speed suite's files in `perf/`
    beside it) and the learning curves."""
    from benchmark.reports.claims import render_claims, speed_ratios
    from benchmark.reports.curves import draw_curves
    from benchmark.reports.performance_profiles import draw_performance_profiles
    from benchmark.reports.table2 import render_table2

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UsageError(f"--results {results_dir}: no such folder; point it at the folder `run` wrote to")
    runs = load_runs(results_dir)
    if runs.empty and not allow_empty:
        raise UsageError(f"--results {results_dir} holds no result files; nothing was written (pass --allow-empty "
                         f"to clear the tables, e.g. after withdrawing results)")
    selections = by_group(runs, load_failures(results_dir))
    speed = speed_ratios(out.parent / "perf")  # a malformed speed file stops the report before anything is written
    text = render(selections)
    write_text_atomic(out, text)
    write_text_atomic(out.with_name("table2.md"), render_table2(selections))
    write_text_atomic(out.with_name("claims.md"), render_claims(runs, speed))
    draw_curves(selections, out.parent / "figures")
    draw_performance_profiles(selections, out.parent / "figures")
    return text
