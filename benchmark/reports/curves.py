"""Learning curves: normalised score against gradient step, from the evaluations every result file keeps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from algorithms.td3_bc import TD3BCConfig
from benchmark.grid.methods import METHODS, Method
from benchmark.grid.suites import D4RL9
from benchmark.reports.figure_files import write_figure_family
from benchmark.reports.runs import Selection

# a colour per source of training data, a line style per agent: methods that differ in one component sit side by side
DATA_SOURCES = ("model-free", "OneStep", "DWM", "DAWM", "DAWM-T")
AGENTS = ("TD3+BC", "IQL")
ONCE_STYLE = {"color": "0.2", "linestyle": ":", "linewidth": 1.5}  # a method evaluated once: a level, not a curve


def agent_of(method: Method) -> str:
    return AGENTS[0] if issubclass(method.components["agent"], TD3BCConfig) else AGENTS[1]


def data_source_of(method: Method) -> str:
    """What besides the real data the agent learns from: the world model, named as the method's label names it."""
    return DATA_SOURCES[0] if method.pipeline == "model_free" else method.label.rsplit("-", 1)[0]


def curve_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Long form: one row per (run, evaluation); runs with a single evaluation (Decision Diffuser) have no curve."""
    rows = [{"task": r.task, "method": METHODS[r.method].label, "data": data_source_of(METHODS[r.method]),
             "agent": agent_of(METHODS[r.method]), "seed": r.seed, "step": step, "score": score}
            for r in runs.itertuples() if len(r.evaluations) > 1 for step, score in r.evaluations]
    return pd.DataFrame(rows, columns=["task", "method", "data", "agent", "seed", "step", "score"])


def once_levels(runs: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(task, method label) -> mean final score over seeds, for the runs evaluated once (Decision Diffuser)."""
    once = runs[[len(evaluations) == 1 for evaluations in runs["evaluations"]]]
    return {(task, METHODS[method].label): score
            for (task, method), score in once.groupby(["task", "method"])["final_score"].mean().items()}


def curves_figure(runs: pd.DataFrame, title: str) -> Figure | None:
    """A panel per task, a line per method (colour: its data, style: its agent), mean and 95% CI band over seeds;
    a method evaluated once is a dotted level across its task's panel. None when no run has a curve."""
    data = curve_frame(runs)
    if data.empty:
        return None
    tasks = set(data["task"])
    grid = sns.relplot(data=data, x="step", y="score", hue="data", style="agent", col="task",
                       col_order=[t for t in D4RL9 if t in tasks] + sorted(tasks - set(D4RL9)),
                       palette=dict(zip(DATA_SOURCES, sns.color_palette(n_colors=len(DATA_SOURCES)))),
                       hue_order=[d for d in DATA_SOURCES if d in set(data["data"])],
                       style_order=[a for a in AGENTS if a in set(data["agent"])],
                       col_wrap=min(3, data["task"].nunique()), kind="line", errorbar=("ci", 95), height=3.0,
                       aspect=1.25, facet_kws={"sharey": False, "sharex": False})
    grid.set_axis_labels("gradient step", "normalised score (x100)")
    grid.set_titles("{col_name}")
    levels = {key: score for key, score in once_levels(runs).items() if key[0] in tasks}
    for (task, label), score in levels.items():
        grid.axes_dict[task].axhline(score, label=f"{label} (evaluated once)", **ONCE_STYLE)
    if levels:
        legend = grid.legend
        entries = dict(zip([text.get_text() for text in legend.texts], legend.legend_handles))
        for label in sorted({label for _, label in levels}):
            entries[f"{label} (evaluated once)"] = Line2D([], [], **ONCE_STYLE)
        legend.remove()
        grid.add_legend(legend_data=entries, label_order=list(entries))
    grid.figure.suptitle(title, y=1.02)
    return grid.figure


def draw_curves(selections: dict[tuple[str, str], Selection], folder: Path) -> list[Path]:
    """One figure per (profile, source) (`curves_figure`). Figures of groups that no longer have runs are
    removed."""
    def figures():
        for (profile, source), selection in sorted(selections.items()):
            figure = curves_figure(selection.runs, f"Learning curves, profile {profile}, source {source}: mean and "
                                                   f"95% CI over seeds; dotted: a method evaluated once, at its mean "
                                                   f"score")
            if figure is not None:
                yield f"{profile}_{source}", figure

    return write_figure_family(folder, "curves", figures())
