"""results/table2.md: the papers' main table, our runs beside the published numbers.

Rows: the 9 D4RL tasks and their average; columns: the methods of DAWM's comparison. Each cell: our score
(stats.CELL_HEADER) and the published value after `·`, whose protocol the footnotes state. Below: rliable's
aggregates per method over complete task x seed matrices, and the papers' claimed comparisons computed on our
runs. A pure function of the result files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.grid.methods import METHODS
from benchmark.reports.paper_numbers import CLAIMED_IMPROVEMENTS, DAWM_CLAIMS, PAPER
from benchmark.reports.runs import CAVEAT_MARK, FAILED_MARK, Selection, caveat_note, caveats_by_task, failed_note
from benchmark.reports.stats import (CELL_HEADER, MISSING, NO_INTERVAL, complete_matrix, has_interval, iqm,
                                     optimality_gap, pooled, probability_of_improvement, seed_cell,
                                     stratified_bootstrap)
from benchmark.grid.suites import D4RL9
from benchmark.envs.tasks import parse_task

TABLE2_METHODS = ("onestep-td3bc", "onestep-iql", "dd", "dwm-td3bc", "dwm-iql", "dawm-td3bc", "dawm-iql", "td3bc",
                  "iql")
COMPARISONS = (("dawm-td3bc", "dwm-td3bc"), ("dawm-iql", "dwm-iql"), ("dwm-td3bc", "onestep-td3bc"),
               ("dwm-iql", "onestep-iql"))
SOURCE_LABELS = {"local": "local", "minari": "Minari"}
FELL_MARK = "↘"
FELL_BELOW = 0.5  # ours: a cell is marked when a run ends below this fraction of its best evaluation
DIVERGED_MARK = "⚠"
DIVERGED_ABOVE = 10.0  # ours: x the discounted return of D4RL's expert; sound critics stay below 1x (table2 note)
LAST_EVALUATIONS = 5  # ours: the window whose spread measures a run's evaluation-to-evaluation noise


def fell(runs: pd.DataFrame) -> pd.Series:
    """Per run: whether it ends well below its best evaluation. A curve that falls late (a collapse, or a
    transient the budget stops inside) makes the final score a point on a slope, not a plateau."""
    return runs["final_score"] < FELL_BELOW * runs["best_score"]


def diverged(runs: pd.DataFrame) -> pd.Series:
    """Per run: whether its critic ended far beyond any return the task allows (runs.py's `q_scale`), in its mean
    Q or in its TD error (the critic loss, a mean square): bootstrapping that fed on its own errors, so the score
    belongs to a policy trained on a broken critic."""
    bound = DIVERGED_ABOVE * runs["q_scale"]
    return (runs["final_q"].abs() > bound) | (runs["final_critic_loss"] > bound ** 2)


def shown(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of the table's columns, which its notes describe."""
    return runs[runs["method"].isin(TABLE2_METHODS)]


def task_label(task: str, source: str) -> str:
    """`walker2d-medium (local)` for our own builds: the D4RL id only names D4RL's own data."""
    if source not in SOURCE_LABELS:
        return task
    parsed = parse_task(task)
    return f"{parsed.env}-{parsed.dataset} ({SOURCE_LABELS[source]})"


def average(runs: pd.DataFrame, method: str, tasks: tuple[str, ...] = D4RL9) -> float | None:
    """Mean over tasks of the per-task seed means; None unless every task has runs."""
    means = runs[runs["method"] == method].groupby("task")["final_score"].mean()
    return float(np.mean([means[t] for t in tasks])) if all(t in means for t in tasks) else None


def main_table(runs: pd.DataFrame, source: str = "d4rl-hdf5", failures: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tasks whose dataset misses the D4RL recipe's targets are marked (caveat_note says what they miss); cells
    with a failed run (`failures`, the selection's) are marked too, and show it in place of a missing score."""
    failed = set() if failures is None else set(zip(failures["task"], failures["method"]))
    columns = [METHODS[m].label for m in TABLE2_METHODS]
    table = pd.DataFrame(index=[*(task_label(t, source) for t in D4RL9), "average"], columns=columns, dtype=object)
    for method, label in zip(TABLE2_METHODS, columns):
        paper = PAPER.get(method)
        for task in D4RL9:
            cell = runs[(runs["task"] == task) & (runs["method"] == method)]
            ours = (seed_cell(cell["final_score"]) + (f" {FELL_MARK}" if fell(cell).any() else "")
                    + (f" {DIVERGED_MARK}" if diverged(cell).any() else ""))
            if (task, method) in failed:
                ours = FAILED_MARK if cell.empty else f"{ours} {FAILED_MARK}"
            published = paper.scores.get(task) if paper else None
            table.loc[task_label(task, source), label] = ours if published is None else f"{ours} · {published:.1f}"
        mean = average(runs, method)
        ours = MISSING if mean is None else f"{mean:.1f}"
        table.loc["average", label] = f"{ours} · {paper.average:.1f}" if paper else ours
    marked = caveats_by_task(runs)
    table.index = [f"{label} {CAVEAT_MARK}" if task in marked else label
                   for task, label in zip([*D4RL9, None], table.index)]
    table.index.name = "task"
    return table


def aggregate_table(runs: pd.DataFrame, tasks: tuple[str, ...] = D4RL9) -> pd.DataFrame:
    """IQM and optimality gap with 95% stratified-bootstrap intervals, for methods with a complete matrix."""
    rows = []
    for method in TABLE2_METHODS:
        matrix, missing = complete_matrix(runs, method, list(tasks))
        row = {"method": METHODS[method].label}
        if matrix is None:
            shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
            rows.append(row | {"runs": int((runs["method"] == method).sum()), "IQM [95% CI]": MISSING,
                               "optimality gap [95% CI]": MISSING, "not aggregated: missing": shown})
            continue
        stats = [stratified_bootstrap([matrix], lambda m, f=f: f(pooled(m))) for f in (iqm, optimality_gap)]
        interval = has_interval(matrix)

        def cell(point: float, low: float, high: float) -> str:
            return f"{point:.1f} " + (f"[{low:.1f}, {high:.1f}]" if interval else NO_INTERVAL)

        rows.append(row | {"runs": sum(len(t) for t in matrix), "IQM [95% CI]": cell(*stats[0]),
                           "optimality gap [95% CI]": cell(*stats[1]), "not aggregated: missing": ""})
    return pd.DataFrame(rows)


def common_complete_tasks(runs: pd.DataFrame, methods: tuple[str, ...], tasks: tuple[str, ...] = D4RL9
                          ) -> list[str]:
    """Tasks on which every one of `methods` has a complete set of its seeds."""
    return [t for t in tasks if all(complete_matrix(runs, m, [t])[0] is not None for m in methods)]


def comparison_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The papers' comparisons on our runs: probability of improvement (with CI) on the tasks both methods
    completed, and the relative difference of the 9-task averages (only when both cover all 9)."""
    rows = []
    for better, baseline in COMPARISONS:
        tasks = common_complete_tasks(runs, (better, baseline))
        label = f"{METHODS[better].label} vs {METHODS[baseline].label}"
        ours, base = average(runs, better), average(runs, baseline)
        relative = MISSING if ours is None or base is None else f"{100 * (ours / base - 1):+.1f}%"
        if not tasks:
            rows.append({"comparison": label, "tasks": 0, "P(improvement) [95% CI]": MISSING,
                         "9-task average, relative": relative,
                         "paper": CLAIMED_IMPROVEMENTS.get((better, baseline), "")})
            continue
        x, y = (complete_matrix(runs, m, tasks)[0] for m in (better, baseline))
        point, low, high = stratified_bootstrap([x, y], probability_of_improvement)
        interval = f"[{low:.2f}, {high:.2f}]" if has_interval(x, y) else NO_INTERVAL
        rows.append({"comparison": label, "tasks": len(tasks), "P(improvement) [95% CI]":
                     f"{point:.2f} {interval}", "9-task average, relative": relative,
                     "paper": CLAIMED_IMPROVEMENTS.get((better, baseline), "")})
    return pd.DataFrame(rows)


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


def fell_note(runs: pd.DataFrame, curves: str) -> str:
    """The footnote of FELL_MARK, naming the table's runs it marks; empty when none falls."""
    table = shown(runs)
    fallen = table[fell(table)]
    if fallen.empty:
        return ""
    names = ", ".join(f"{METHODS[r.method].label} on {r.task} seed {r.seed} (final {r.final_score:.1f}, best "
                      f"{r.best_score:.1f})" for r in fallen.sort_values(["task", "method", "seed"]).itertuples())
    return (f"{FELL_MARK} a run ends below {FELL_BELOW:.0%} of its best evaluation, so the budget stops on a falling "
            f"curve (a collapse, or a transient a longer run recovers from; learning curves: [{curves}]({curves})): "
            f"{names}\n\n")


def diverged_note(runs: pd.DataFrame) -> str:
    """The footnote of DIVERGED_MARK, naming the table's runs it marks; empty when no critic diverged."""
    table = shown(runs)
    broken = table[diverged(table)]
    if broken.empty:
        return ""

    def logged(run) -> str:
        parts = [f"{name} {value:.3g}" for name, value in (("Q", run.final_q), ("critic loss", run.final_critic_loss))
                 if not np.isnan(value)]
        return ", ".join([*parts, f"bound {DIVERGED_ABOVE * run.q_scale:.3g}"])

    names = ", ".join(f"{METHODS[r.method].label} on {r.task} seed {r.seed} ({logged(r)})"
                      for r in broken.sort_values(["task", "method", "seed"]).itertuples())
    return (f"{DIVERGED_MARK} the run's critic diverged: at the last evaluation its mean Q, or the root of its "
            f"critic loss, is above {DIVERGED_ABOVE:g}x the discounted return of D4RL's expert reference (expert "
            f"return per step / (1 - discount), in the agent's reward units), which no policy reaches: {names}\n\n")


def evaluation_noise_note(runs: pd.DataFrame, last: int = LAST_EVALUATIONS) -> str:
    """How far one run's score moves between its last evaluations, per environment: the noise in a single-seed
    cell, which a difference between two cells must exceed before it means anything. Empty when no run has `last`
    evaluations."""
    table = shown(runs)
    spread = pd.DataFrame({"env": [parse_task(t).env for t in table["task"]],
                           "std": [float(np.std([score for _, score in e[-last:]], ddof=1)) if len(e) >= last
                                   else np.nan for e in table["evaluations"]]}).dropna()
    if spread.empty:
        return ""
    per_env = spread.groupby("env")["std"].agg(["median", "size"])
    parts = ", ".join(f"{row['median']:.1f} on {env} ({row['size']:.0f} runs)" for env, row in per_env.iterrows())
    return (f"Within one run, the last {last} evaluations have a standard deviation (median over the table's runs) "
            f"of {parts}. A single-seed cell is one draw of that noise: with nothing else different, two cells of "
            f"one environment differ by about {np.sqrt(2):.1f} times its value (one standard deviation).\n\n")


def _steps_line(group: pd.DataFrame) -> str:
    parts = []
    for method in TABLE2_METHODS:
        rows = group[group["method"] == method]
        if rows.empty:
            continue
        if METHODS[method].pipeline == "dd":
            parts.append(f"{METHODS[method].label}: no agent (evaluated once after its models train)")
        else:
            parts.append(f"{METHODS[method].label} {', '.join(map(str, sorted(rows['train_steps'].unique())))}")
    return "; ".join(parts)


def render_table2(selections: dict[tuple[str, str], Selection]) -> str:
    """Markdown: one section per (profile, data source) selection, or a message naming what to run."""
    if all(s.runs.empty and s.failures.empty for s in selections.values()):
        return ("# Table 2\n\nNo result files for the table's tasks and methods. Run them with\n"
                "`python -m benchmark run --suite d4rl9` (quick profile, 5 seeds), then "
                "`python -m benchmark report`.\n")
    parts = ["# Table 2: D4RL locomotion, normalised score (x100)\n"]
    for (profile, source), selection in sorted(selections.items()):
        group, failures = selection.runs, shown(selection.failures)
        if group.empty and failures.empty:
            continue
        missing = [(t, m) for m in TABLE2_METHODS for t in D4RL9
                   if group[(group["method"] == m) & (group["task"] == t)].empty]
        failed = set(zip(failures["task"], failures["method"])) & set(missing)
        commits = sorted({c[:10] for c in group["commit"].dropna()}) or ["unknown"]
        parts.append(
            f"## profile `{profile}`, data source `{source}`\n\n"
            f"- produced by `python -m benchmark report` from {len(group)} result files; datasets: "
            f"{', '.join(sorted(group['dataset_id'].unique()))}"
            + (" (how they were built: [datasets.md](datasets.md))" if source == "local" else "") + "\n"
            f"- seeds: {', '.join(map(str, sorted(group['seed'].unique())))}; agent steps: {_steps_line(group)}\n"
            f"- commits: {', '.join(commits)} (results of one method version; a fix that changes a method's "
            f"numbers bumps its version and its older results are left out); devices: "
            f"{', '.join(sorted(group['device'].unique()))}\n"
            f"{selection.note()}\n"
            f"- each cell: ours, {CELL_HEADER} · the published value, obtained under another protocol (see the "
            f"footnotes under the table). {MISSING} = not run, never zero. DD is DWM's re-run preset (`dd`).\n"
            + ("- our datasets are built locally with the D4RL recipe (rows say `(local)`); per-task values are "
               "not comparable with the published ones, comparisons between our columns are.\n"
               if source == "local" else "")
            + f"- missing: {len(missing)} of {len(TABLE2_METHODS) * len(D4RL9)} cells"
            + (f" ({len(failed)} of them failed: {FAILED_MARK})" if failed else "") + "\n\n"
            f"{main_table(group, source, failures).to_markdown()}\n\n"
            f"{failed_note(failures)}"
            f"{fell_note(group, f'figures/curves_{profile}_{source}.png')}"
            f"{diverged_note(group)}"
            f"{evaluation_noise_note(group)}"
            f"{caveat_note(group)}"
            f"{paper_footnotes()}\n\n"
            f"### Aggregates over complete task x seed matrices (rliable's estimators, 95% stratified bootstrap)\n\n"
            f"{aggregate_table(group).to_markdown(index=False)}\n\n"
            f"### The papers' comparisons on our runs\n\n"
            f"P(improvement): the probability that a run of the first method beats one of the second on the same "
            f"task, averaged over the tasks both completed.\n\n"
            f"{comparison_table(group).to_markdown(index=False)}\n")
    return "\n".join(parts)
