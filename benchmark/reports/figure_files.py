"""Writing a family of report figures, one per (profile, source) group: the figures of groups whose runs are gone
are removed, so the folder never shows a figure no result file backs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def write_figure_family(folder: Path, prefix: str, figures: Iterable[tuple[str, Figure]]) -> list[Path]:
    """Save each (name, figure) as `<prefix>_<name>.png` and close it; remove the other `<prefix>_*.png`."""
    folder = Path(folder)
    written = []
    for name, figure in figures:
        out = folder / f"{prefix}_{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(out)
    for stale in folder.glob(f"{prefix}_*.png"):
        if stale not in written:
            stale.unlink()
    return written
