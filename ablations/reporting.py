"""The part every ablation report shares: the missing runs named with the command that runs them, the figures
(only when there are runs), and one atomic write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from benchmark.grid.suites import D4RL9
from benchmark.reports.runs import Selection, load_runs, select_runs
from benchmark.reports.stats import CELL_HEADER
from benchmark.results import write_text_atomic


def shown_tasks(asked: Iterable[str], measured: Iterable[str]) -> list[str]:
    """The tasks a report shows: those asked for and every task the ablation has measured, so that running it
    on one task never drops the others from its report. D4RL's nine in the suite's order, any other after."""
    tasks = set(asked) | set(measured)
    return [task for task in D4RL9 if task in tasks] + sorted(tasks - set(D4RL9))


def select_ablation_runs(results: Path, *, profile: str, source: str, tasks: list[str], methods: list[str],
                         variants: tuple[str, ...]) -> tuple[list[str], Selection]:
    """The tasks an ablation's report shows (shown_tasks: those asked for and every one where a run of the
    ablation's own `variants` is claimed) and the runs it claims there: its variants and the main runs."""
    runs = load_runs(results)
    own = select_runs(runs, profile=profile, source=source, methods=methods, variants=variants).runs
    shown = shown_tasks(tasks, own["task"])
    return shown, select_runs(runs, profile=profile, source=source, tasks=shown, methods=methods,
                              variants=("", *variants))


def provenance_line(runs: pd.DataFrame) -> str:
    """What the runs behind a report were: data sources and datasets, seeds, agent steps, commits, devices."""
    if runs.empty:
        return "- no runs yet\n"

    def listed(column: str, short: bool = False) -> str:
        return ", ".join(sorted({str(v)[:10] if short else str(v) for v in runs[column]}))
    return (f"- data source: {listed('source')}; datasets: {listed('dataset_id')}; seeds: {listed('seed')}; agent "
            f"steps: {listed('train_steps')}; commits: {listed('commit', short=True)}; devices: {listed('device')}\n")


def score_report_head(title: str, ablation: str, profile: str, results: Path, runs: pd.DataFrame,
                      selection: Selection, explanation: str, table: pd.DataFrame) -> list[str]:
    """The opening lines of an ablation report over harness runs: its title, the command that wrote it, how a
    cell reads, `explanation` (what the arms are), the provenance of the `runs` shown (those of `selection` it
    keeps), what `selection` left out, and the score table."""
    return [f"# {title} (profile `{profile}`)\n",
            f"Produced by `python -m ablations.{ablation} --profile {profile}` from {len(runs)} result files in "
            f"`{results}`. Final normalised score (x100): {CELL_HEADER}. {explanation}\n",
            provenance_line(runs) + selection.note() + "\n",
            table.to_markdown(index=False), ""]


def rerun_command(ablation: str, profile: str, source: str, seeds: list[int], tasks: list[str]) -> str:
    """The command that runs what a report misses: the ablation on the tasks with gaps, for the report's seeds
    (done runs are skipped)."""
    source_option = "" if source == "local" else f" --source {source}"
    return (f"python -m ablations.{ablation} --profile {profile}{source_option} --tasks {' '.join(tasks)} "
            f"--seeds {' '.join(map(str, seeds))}")


def finish_report(lines: list[str], missing: list[tuple[str, str]], rerun: Callable[[list[str]], str], out: Path,
                  figure_outs: list[Path], draw: Callable[[], None] | None) -> str:
    """Append the missing runs ((task, what) pairs) with `rerun(the tasks they are on)`, the command that runs
    them, and the figures `draw()` writes to `figure_outs` (None: no runs, no figures, and figures left from
    earlier runs are removed: a figure never shows runs its report no longer has); write `out`."""
    if missing:
        gaps = list(dict.fromkeys(task for task, _ in missing))
        lines.append(f"Missing ({len(missing)}): {', '.join(what for _, what in missing)}. Run them with "
                     f"`{rerun(gaps)}`.\n")
    if draw is None:
        for path in figure_outs:
            path.unlink(missing_ok=True)
    else:
        draw()
        lines += [f"![{path.stem.replace('_', ' ')}]({path.relative_to(out.parent).as_posix()})\n"
                  for path in figure_outs]
    text = "\n".join(lines)
    write_text_atomic(out, text)
    return text
