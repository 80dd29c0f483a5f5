"""Runs a grid through submitit's executor interface, at most `workers` runs at a time, with live progress.

A run is a picklable job function (`run_job`), so the same grid goes to SLURM by swapping the executor.
Each job reports its progress to a small JSON file in the log folder; this process draws the bars.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import submitit
from tqdm import tqdm

from benchmark.results import write_json_atomic, write_text_atomic
from benchmark.runner import train_run
from benchmark.runspec import RunSpec

EXECUTORS = ("local",)


def progress_path(log_dir: Path, spec: RunSpec) -> Path:
    return Path(log_dir) / "progress" / (spec.name.replace("/", "__") + ".json")


def run_job(spec: RunSpec, results_dir: str, log_dir: str) -> dict:
    """The job function: train one run; on failure leave a record of the traceback, never a result."""
    results, marker = Path(results_dir), spec.failure_path(Path(results_dir))
    ticker = {"last": 0.0}

    def progress(phase: str, step: int, total: int, score: float | None) -> None:
        now = time.monotonic()
        if now - ticker["last"] > 0.5 or step == total:
            ticker["last"] = now
            write_json_atomic(progress_path(Path(log_dir), spec),
                              {"phase": phase, "step": step, "total": total, "score": score})

    try:
        result = train_run(spec, results, progress)
    except BaseException:
        write_text_atomic(marker, traceback.format_exc())
        raise
    marker.unlink(missing_ok=True)
    return {"final_score": result["final_score"], "best_score": result["best_score"],
            "wall_time_s": result["wall_time_s"]["total"]}


@dataclass
class Outcome:
    spec: RunSpec
    ok: bool
    summary: dict | None = None
    error: str | None = None


def make_executor(name: str, log_dir: Path) -> submitit.Executor:
    if name == "local":
        executor = submitit.LocalExecutor(folder=log_dir / "%j")
        executor.update_parameters(timeout_min=7 * 24 * 60)
        return executor
    raise ValueError(f"unknown executor {name!r}")


def _read_progress(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _last_line(record: Path, error: Exception) -> str:
    """The exception line of the job's traceback, or submitit's error when the job left no record."""
    text = record.read_text() if record.is_file() else str(error)
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def launch(specs: list[RunSpec], results_dir: Path, log_dir: Path, executor: str = "local",
           workers: int = 2) -> list[Outcome]:
    """Submit every run, keeping at most `workers` in flight; returns one outcome per run."""
    ex = make_executor(executor, log_dir)
    queue, running, outcomes = list(specs), [], []
    overall = tqdm(total=len(specs), desc="runs", unit="run", position=0)
    free_slots = list(range(workers, 0, -1))
    try:
        while queue or running:
            while queue and len(running) < workers:
                spec = queue.pop(0)
                job = ex.submit(run_job, spec, str(results_dir), str(log_dir))
                slot = free_slots.pop()
                bar = tqdm(total=1, desc=spec.name, unit="step", position=slot, leave=False)
                running.append((spec, job, bar, slot))
            time.sleep(0.5)
            for item in list(running):
                spec, job, bar, slot = item
                state = _read_progress(progress_path(log_dir, spec))
                if state is not None:
                    bar.set_description(f"{spec.name} [{state['phase']}]", refresh=False)
                    bar.total = state["total"]
                    bar.n = state["step"]
                    if state["score"] is not None:
                        bar.set_postfix(score=f"{state['score']:.1f}", refresh=False)
                    bar.refresh()
                if not job.done():
                    continue
                running.remove(item)
                free_slots.append(slot)
                bar.close()
                overall.update(1)
                try:
                    summary = job.result()
                    outcomes.append(Outcome(spec, True, summary))
                    overall.write(f"done   {spec.name}: final {summary['final_score']:.1f}, best "
                                  f"{summary['best_score']:.1f} ({summary['wall_time_s']:.0f} s)")
                except Exception as error:  # the job's own traceback is in its log and failure record
                    outcomes.append(Outcome(spec, False, error=str(error)))
                    overall.write(f"FAILED {spec.name}: {_last_line(spec.failure_path(results_dir), error)}")
    except KeyboardInterrupt:
        for _, job, _, _ in running:
            job.cancel()
        raise
    finally:
        overall.close()
    return outcomes
