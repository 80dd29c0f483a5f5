"""Which runs of a grid are done, failed or missing, from the results folder alone."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.runspec import RunSpec


def run_status(spec: RunSpec, results_dir: Path) -> tuple[str, str]:
    """(state, detail): done with its scores, failed with the last line of its traceback, or missing."""
    result, failure = spec.result_path(results_dir), spec.failure_path(results_dir)
    if result.is_file():
        data = json.loads(result.read_text())
        return "done", f"final {data['final_score']:.1f}, best {data['best_score']:.1f}"
    if failure.is_file():
        lines = [line for line in failure.read_text().splitlines() if line.strip()]
        return "failed", lines[-1] if lines else "no traceback recorded"
    return "missing", ""


def render_status(specs: list[RunSpec], results_dir: Path) -> str:
    rows = [(spec.name, *run_status(spec, results_dir)) for spec in specs]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{name:<{width}}  {state:<7}  {detail}".rstrip() for name, state, detail in rows]
    counts = {state: sum(1 for _, s, _ in rows if s == state) for state in ("done", "failed", "missing")}
    lines.append(", ".join(f"{n} {state}" for state, n in counts.items()))
    return "\n".join(lines)
