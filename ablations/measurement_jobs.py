"""Running measurement jobs (idm_accuracy, model_budget): one after another here with a progress bar per
training phase, or as one SLURM job array."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from ablations.model_accuracy import Report
from benchmark.launch.cluster import load_cluster_profile
from benchmark.launch.launcher import make_executor
from benchmark.run.completion import set_aside


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
                     ) -> None:
    """job(spec, report) for every spec (each with .task and .seed); it returns what it wrote."""
    if executor == "local":
        for spec in specs:
            print(f"done   {job(spec, tqdm_report(f'{spec.task}/seed{spec.seed}'))}")
        return
    log_dir = Path(folder) / "logs" / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    ex = make_executor("slurm", log_dir, load_cluster_profile(cluster_profile))
    with ex.batch():
        jobs = [ex.submit(job, spec, lambda phase: None) for spec in specs]
    for spec, submitted in zip(specs, jobs):
        try:
            print(f"done   {submitted.result()}")
        except Exception as error:  # the traceback is in the job's log
            print(f"FAILED {spec.task} seed {spec.seed}: {error} (log: {submitted.paths.stderr})", file=sys.stderr)
