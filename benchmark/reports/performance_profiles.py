"""rliable's performance profiles: the fraction of a method's runs scoring above each threshold, per
(profile, source), for the methods with a complete task x seed matrix on the 9 tasks (others are not drawn)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from benchmark.grid.methods import METHODS
from benchmark.reports.figure_files import write_figure_family
from benchmark.reports.runs import Selection
from benchmark.reports.stats import complete_matrix, performance_profile, pooled
from benchmark.grid.suites import D4RL9

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

THRESHOLDS = np.linspace(0.0, 120.0, 121)


def draw_performance_profiles(selections: dict[tuple[str, str], Selection], folder: Path,
                              tasks: tuple[str, ...] = D4RL9) -> list[Path]:
    """One figure per (profile, source) with at least one complete method; stale figures are removed."""
    def figures():
        for (profile, source), selection in sorted(selections.items()):
            complete = {METHODS[m].label: matrix for m in sorted(set(selection.runs["method"]))
                        if (matrix := complete_matrix(selection.runs, m, list(tasks))[0]) is not None}
            if not complete:
                continue
            figure, ax = plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)
            for label, matrix in complete.items():
                ax.plot(THRESHOLDS, performance_profile(pooled(matrix), THRESHOLDS), label=label)
            ax.set(xlabel="normalised score threshold tau (x100)", ylabel="fraction of runs with score > tau",
                   title=f"Performance profiles over {len(tasks)} tasks, profile {profile}, source {source}")
            ax.legend(fontsize=8)
            yield f"{profile}_{source}", figure

    return write_figure_family(folder, "performance_profiles", figures())
