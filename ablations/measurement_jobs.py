"""Running measurement jobs (idm_accuracy, model_budget): here, one at a time in this process with a progress bar
per training phase or `--workers` at a time in their own processes, or as one SLURM job array."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import submitit
from tqdm import tqdm

from ablations.model_accuracy import Report
from benchmark.launch.cluster import load_cluster_profile
from benchmark.launch.launcher import LOCAL_STOPS, cancelled_when_interrupted, make_executor
from benchmark.run.completion import set_aside
from benchmark.run.failures import exception_line


def measured(path: Path, dataset_checksum: str) -> bool:
    """Whether `path` holds a measurement of this build of the dataset; one of another build (the dataset was
    rebuilt since) is set aside, kept under another name that no report reads, to be measured again."""
    if not path.is_file():
        return False
    if json.loads(path.read_text())["dataset"]["checksum"] == dataset_checksum:
        return True
    kept = set_aside(path, "stale")
    print(f"warning: {path} measured another build of its dataset; kept as {kept}, measured again", file=sys.stderr)
    return False


def tqdm_report(label: str) -> Report:
    """One progress bar per training phase of a model that is not cached yet."""
    bars: dict[str, tqdm] = {}

    def phase(name: str):
        def update(step: int, total: int) -> None:
            if name not in bars:
                # a resumed training starts at `step`: its rate counts only the steps done here
                bars[name] = tqdm(total=total, initial=step, desc=f"{label} [{name}]", unit="step")
            bar = bars[name]
            bar.n = step
            bar.refresh()
            if step == total:
                bar.close()
        return update
    return phase


def run_measurements(specs: list, job: Callable, folder: Path, name: str, executor: str, cluster_profile: str,
                     workers: int | None = None) -> int:
    """job(spec, report) for every spec (each with .task and .seed); it returns what it wrote. Local: at most
    `workers` (default: one per CPU core) at a time, each a process of its own; in this process where that is one.
    A failed job does not stop the others; returns how many failed."""
    workers = min(workers or os.cpu_count() or 1, len(specs))
    failures = []
    if executor == "local" and workers == 1:
        for spec in specs:
            try:
                print(f"done   {job(spec, tqdm_report(f'{spec.task}/seed{spec.seed}'))}")
            except Exception:  # no job log here: its traceback goes to stderr
                text = traceback.format_exc()
                print(f"{text}FAILED {spec.task} seed {spec.seed}: {exception_line(text)}", file=sys.stderr)
                failures.append(spec)
        return len(failures)
    log_dir = Path(folder) / "logs" / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"

    def finished(spec, submitted: submitit.Job) -> None:
        try:
            print(f"done   {submitted.result()}", flush=True)
        except Exception as error:  # the traceback is in the job's log
            print(f"FAILED {spec.task} seed {spec.seed}: {exception_line(str(error))} (log: {submitted.paths.stderr})",
                  file=sys.stderr)
            failures.append(spec)

    if executor == "local":
        print(f"{len(specs)} measurements, {workers} at a time; job logs in {log_dir}", flush=True)
        _in_turns(make_executor("local", log_dir), specs, job, workers, finished)
        return len(failures)
    ex = make_executor("slurm", log_dir, load_cluster_profile(cluster_profile))
    with ex.batch():
        jobs = [ex.submit(job, spec, _silent) for spec in specs]
    for spec, submitted in zip(specs, jobs):
        finished(spec, submitted)
    return len(failures)


def _silent(phase: str) -> None:
    """A job's report where no one watches its bars (another process, a SLURM node)."""


def _in_turns(ex: submitit.Executor, specs: list, job: Callable, workers: int,
              finished: Callable[[object, submitit.Job], None]) -> None:
    """At most `workers` local jobs in flight; finished(spec, job) as each ends. Interrupted, it cancels the jobs
    in flight (`cancelled_when_interrupted`); their models resume from their checkpoints on the next call."""
    queue, running = list(specs), []
    with cancelled_when_interrupted(running, *LOCAL_STOPS):
        while queue or running:
            while queue and len(running) < workers:
                spec = queue.pop(0)
                running.append((spec, ex.submit(job, spec, _silent)))
            time.sleep(0.5)
            for item in [item for item in running if item[1].done()]:
                running.remove(item)
                finished(*item)
