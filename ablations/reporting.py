"""The part every ablation report shares: the missing runs named with the command that runs them, the figure
(only when there are runs), and one atomic write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmark.results import write_text_atomic


def finish_report(lines: list[str], missing: list[str], command: str, out: Path, figure_out: Path,
                  draw: Callable[[Path], None] | None) -> str:
    """Append the missing runs and the figure `draw(figure_out)` makes (None: no runs, no figure); write `out`."""
    if missing:
        lines.append(f"Missing ({len(missing)}): {', '.join(missing)}. Run them with `{command}`.\n")
    if draw is not None:
        draw(figure_out)
        lines.append(f"![{figure_out.stem.replace('_', ' ')}]({figure_out.relative_to(out.parent).as_posix()})\n")
    text = "\n".join(lines)
    write_text_atomic(out, text)
    return text
