"""Runs a grid through submitit: the local executor (at most `workers` runs at a time) or SLURM job arrays.

A run is a checkpointable job (`TrainJob`): on SLURM's time-limit signal submitit requeues it, and the run
resumes from its last checkpoint; a run killed any other way resumes the same way when `run` starts it again.
Each job reports its progress to a small JSON file in the log folder; this process draws the bars.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import submitit
from tqdm import tqdm

from benchmark.launch.cluster import ClusterProfile
from benchmark.launch.jobs import JobRecord, process_start, record_job
from benchmark.results import write_json_atomic
from benchmark.run.runner import train_run
from benchmark.grid.runspec import RunSpec
from benchmark.run.failures import exception_line, read_failure, write_failure

EXECUTORS = ("local", "slurm")


def progress_path(log_dir: Path, spec: RunSpec) -> Path:
    return Path(log_dir) / "progress" / (spec.name.replace("/", "__") + ".json")


class TrainJob(submitit.helpers.Checkpointable):
    """The job function: train one run to its result file; on failure leave its traceback, never a result.

    Checkpointable's checkpoint() resubmits the same call when SLURM signals the time limit; train_run then
    resumes from the run's own checkpoint file.
    """

    def __call__(self, spec: RunSpec, results_dir: str, log_dir: str) -> dict:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # into the job's log
        results = Path(results_dir)
        ticker = {"last": 0.0}

        def progress(phase: str, step: int, total: int, score: float | None) -> None:
            now = time.monotonic()
            if now - ticker["last"] > 0.5 or step == total:
                ticker["last"] = now
                write_json_atomic(progress_path(Path(log_dir), spec),
                                  {"phase": phase, "step": step, "total": total, "score": score})

        try:
            result = train_run(spec, results, progress)
        except Exception:
            write_failure(spec, results, traceback.format_exc())
            raise
        spec.failure_path(results).unlink(missing_ok=True)
        return {"final_score": result["final_score"], "best_score": result["best_score"],
                "wall_time_s": result["wall_time_s"]["total"]}


@dataclass
class Outcome:
    spec: RunSpec
    ok: bool
    summary: dict | None = None
    error: str | None = None


def make_executor(name: str, log_dir: Path, cluster: ClusterProfile | None = None) -> submitit.Executor:
    if name == "local":
        executor = submitit.LocalExecutor(folder=log_dir / "%j")
        executor.update_parameters(timeout_min=7 * 24 * 60)
        return executor
    if name == "slurm":
        if cluster is None:
            raise ValueError("the slurm executor needs a cluster profile")
        executor = submitit.AutoExecutor(folder=log_dir / "%j", cluster="slurm",
                                         slurm_max_num_timeout=cluster.max_requeues)
        executor.update_parameters(**cluster.executor_parameters())
        return executor
    raise ValueError(f"unknown executor {name!r}")


def _read_progress(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _last_line(record: Path, error: Exception) -> str:
    """The exception line of the job's traceback, or submitit's error when the job left no record."""
    return (read_failure(record)["error"] if record.is_file() else exception_line(str(error))) or type(error).__name__


PROGRESS_MODES = ("auto", "bars", "lines", "quiet")
LINE_EVERY_S = 30.0


class Monitor:
    """What a person sees while runs are in flight, fed by the jobs' progress files.

    bars: one overall bar and one per run in flight (at most `slots`), reset at each phase so elapsed time and
    ETA are the phase's own; lines: no cursor codes, one plain line per run every LINE_EVERY_S seconds (for
    logs and pipes); quiet: only a line per finished run. auto: bars on a terminal, lines otherwise.
    """

    def __init__(self, total: int, log_dir: Path, slots: int, mode: str = "auto"):
        if mode not in PROGRESS_MODES:
            raise ValueError(f"progress mode must be one of {PROGRESS_MODES}, got {mode!r}")
        self.mode = ("bars" if sys.stderr.isatty() else "lines") if mode == "auto" else mode
        self.overall = tqdm(total=total, desc="runs", unit="run", position=0, disable=self.mode != "bars")
        self.log_dir, self.free = log_dir, list(range(slots, 0, -1))
        self.bars: dict[str, tuple[tqdm, int, str]] = {}  # run -> (bar, slot, phase)
        self.printed: dict[str, float] = {}  # run -> when its last plain line was printed
        self.total, self.finished = total, 0

    def refresh(self, spec: RunSpec) -> None:
        state = _read_progress(progress_path(self.log_dir, spec))
        if state is None or self.mode == "quiet":
            return
        score = f", score {state['score']:.1f}" if state["score"] is not None else ""
        if self.mode == "lines":
            now = time.monotonic()
            if now - self.printed.get(spec.name, -LINE_EVERY_S) >= LINE_EVERY_S:
                self.printed[spec.name] = now
                print(f"{spec.name} [{state['phase']}] {state['step']}/{state['total']}{score}", file=sys.stderr,
                      flush=True)
            return
        if spec.name not in self.bars:
            if not self.free:
                return
            slot = self.free.pop()
            self.bars[spec.name] = (tqdm(total=1, desc=spec.name, unit="step", position=slot, leave=False), slot, "")
        bar, slot, phase = self.bars[spec.name]
        if state["phase"] != phase:  # a new phase: its own elapsed time and ETA, from where it (re)started
            bar.reset(total=state["total"])
            bar.initial = state["step"]
            self.bars[spec.name] = (bar, slot, state["phase"])
        bar.set_description(f"{spec.name} [{state['phase']}]", refresh=False)
        bar.total, bar.n = state["total"], state["step"]
        if state["score"] is not None:
            bar.set_postfix(score=f"{state['score']:.1f}", refresh=False)
        bar.refresh()

    def finish(self, spec: RunSpec, message: str) -> None:
        if spec.name in self.bars:
            bar, slot, _ = self.bars.pop(spec.name)
            bar.close()
            self.free.append(slot)
        self.finished += 1
        self.overall.update(1)
        if self.mode == "bars":
            self.overall.write(message)
        else:
            print(f"{message} [{self.finished}/{self.total}]", file=sys.stderr, flush=True)

    def close(self) -> None:
        for bar, _, _ in self.bars.values():
            bar.close()
        self.overall.close()


@contextlib.contextmanager
def interrupted_by(*signals: signal.Signals):
    """While inside, these signals raise KeyboardInterrupt, as Ctrl-C does, so `launch` cancels its local jobs.

    submitit's jobs ignore SIGTERM (on SLURM it warns of a preemption), so a parent killed by `kill`, `timeout` or a
    closed terminal would leave its local jobs training on with no one to collect them. Handling SIGINT here too
    matters when this process inherited it ignored (a shell script's background job): jobs started meanwhile
    inherit the ignore unless a handler replaces it, and cancelling a local job is a SIGINT."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {number: signal.signal(number, interrupt) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


LOCAL_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, kill, a closed terminal


@contextlib.contextmanager
def cancelled_when_interrupted(running: list[tuple[object, submitit.Job]], *signals: signal.Signals):
    """Ctrl-C, or one of `signals` (`interrupted_by`), cancels the jobs in `running` (pairs (what, job), read when
    the interruption comes) and goes on as KeyboardInterrupt."""
    with interrupted_by(*signals):
        try:
            yield
        except KeyboardInterrupt:
            for _, submitted in running:
                submitted.cancel()
            raise


def launch(specs: list[RunSpec], results_dir: Path, log_dir: Path, executor: str = "local", workers: int = 2,
           cluster: ClusterProfile | None = None, progress: str = "auto", wait: bool = True) -> list[Outcome]:
    """Run every spec; returns one outcome per run (none with wait=False: slurm submits and returns at once).

    local: at most `workers` jobs in flight. slurm: one job array for the whole grid, at most the cluster
    profile's `array_parallelism` tasks at a time (SLURM enforces it).
    """
    ex = make_executor(executor, log_dir, cluster)
    job = TrainJob()
    queue, running, outcomes = list(specs), [], []
    slots = workers if executor == "local" else min(len(specs), cluster.array_parallelism)
    monitor = Monitor(len(specs), log_dir, slots, progress)

    def submit(batch: list[RunSpec]) -> None:
        for spec in batch:  # a failure record describes the last attempt only
            spec.failure_path(results_dir).unlink(missing_ok=True)
        if executor == "slurm":
            with ex.batch():
                jobs = [ex.submit(job, spec, str(results_dir), str(log_dir)) for spec in batch]
        else:
            jobs = [ex.submit(job, spec, str(results_dir), str(log_dir)) for spec in batch]
        for spec, submitted in zip(batch, jobs):
            started = process_start(int(submitted.job_id)) if executor == "local" else None
            record_job(spec, results_dir, JobRecord(executor, str(submitted.job_id), str(submitted.paths.folder),
                                                    started=started))
            running.append((spec, submitted))

    stops = LOCAL_STOPS if executor == "local" else ()  # SLURM keeps its own jobs
    try:
        with cancelled_when_interrupted(running, *stops):
            if executor == "slurm":
                submit(queue)
                queue = []
                if not wait:
                    running.clear()  # the jobs go on; `status` follows them
                    return outcomes
            while queue or running:
                if queue and len(running) < workers:
                    submit([queue.pop(0)])
                    continue
                time.sleep(0.5)
                for item in list(running):
                    spec, submitted = item
                    monitor.refresh(spec)
                    if not submitted.done():
                        continue
                    running.remove(item)
                    try:
                        summary = submitted.result()
                        outcomes.append(Outcome(spec, True, summary))
                        monitor.finish(spec, f"done   {spec.name}: final {summary['final_score']:.1f}, best "
                                             f"{summary['best_score']:.1f} ({summary['wall_time_s']:.0f} s)")
                    except Exception as error:  # the job's own traceback is in its log and failure record
                        outcomes.append(Outcome(spec, False, error=str(error)))
                        monitor.finish(spec, f"FAILED {spec.name}: {_last_line(spec.failure_path(results_dir), error)}")
    finally:
        monitor.close()
    return outcomes
