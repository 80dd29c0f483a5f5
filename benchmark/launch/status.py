"""Which runs of a grid are done, pending, running, failed or missing: from the results folder and, for runs
without a result, the state of the job that runs them."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.run.failures import read_failure
from benchmark.run.completion import result_state
from benchmark.launch.jobs import read_job
from benchmark.grid.runspec import RunSpec

STATES = ("done", "pending", "running", "failed", "missing")


def run_status(spec: RunSpec, results_dir: Path) -> tuple[str, str]:
    """(state, detail): done with its scores; pending or running with its job; failed with the last line of
    its traceback (or of its job's log, for a job that died without one); or missing."""
    result, failure = spec.result_path(results_dir), spec.failure_path(results_dir)
    state, why = result_state(spec, results_dir)
    if state == "done":
        data = json.loads(result.read_text())
        return "done", f"final {data['final_score']:.1f}, best {data['best_score']:.1f}"
    if state != "absent":
        return "missing", f"{result} is {state} ({why}); `run` sets it aside and runs it again"
    if failure.is_file():  # the launcher removes it when it submits the run again
        return "failed", read_failure(failure)["error"]
    job = read_job(spec, results_dir)
    state = job.state() if job is not None else "ended"
    if state != "ended":
        resumable = " (resumes from its checkpoint)" if spec.checkpoint_path(results_dir).exists() else ""
        return state, f"{job.executor} job {job.job_id}{resumable}{_progress(job, spec)}"
    if job is not None and job.executor == "slurm":
        return "failed", f"job {job.job_id} ended without a result: {job.log_tail()}"
    if spec.checkpoint_path(results_dir).exists():
        return "missing", "interrupted; `run` resumes it from its checkpoint"
    return "missing", ""


def _progress(job, spec: RunSpec) -> str:
    """The last progress a running job reported (its log folder's progress file): phase, step, last score."""
    path = Path(job.folder).parent / "progress" / (spec.name.replace("/", "__") + ".json")
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    score = f", last score {state['score']:.1f}" if state.get("score") is not None else ""
    return f"; {state['phase']} {state['step']}/{state['total']}{score}"


def render_status(specs: list[RunSpec], results_dir: Path, only: str | None = None, summary: bool = False) -> str:
    """A line per run (only those in state `only`, if given) and the counts; `summary`: the counts alone."""
    rows = [(spec.name, *run_status(spec, results_dir)) for spec in specs]
    counts = {state: sum(1 for _, s, _ in rows if s == state) for state in STATES}
    shown = [] if summary else [row for row in rows if only is None or row[1] == only]
    width = max((len(name) for name, _, _ in shown), default=0)
    lines = [f"{name:<{width}}  {state:<7}  {detail}".rstrip() for name, state, detail in shown]
    lines.append(", ".join(f"{n} {state}" for state, n in counts.items()))
    return "\n".join(lines)
