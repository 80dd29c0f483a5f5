"""When a run counts as done: its result file reads, and it was made for this very run by the method's current
code version on the dataset the run would train on now. Anything else is moved aside (never deleted, so
nothing is lost) and the run is done again."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from benchmark.grid.methods import METHODS
from benchmark.grid.profiles import PROFILES, Profile
from benchmark.grid.runspec import RunSpec


def result_state(spec: RunSpec, results_dir: Path, dataset_checksum: str | None = None) -> tuple[str, str]:
    """(state, why): 'done', 'absent', 'unreadable' or 'stale' (made for another run, code or dataset)."""
    path = spec.result_path(results_dir)
    if not path.is_file():
        return "absent", ""
    try:
        result = json.loads(path.read_text())
        run, checksum = result["run"], result["dataset"]["checksum"]
        float(result["final_score"])
    except (ValueError, KeyError, TypeError) as error:
        return "unreadable", f"{type(error).__name__}: {error}"
    expected = {"task": spec.task, "method": spec.method, "variant": spec.variant, "seed": spec.seed,
                "profile": spec.profile, "source": spec.data.source,
                "method_version": METHODS[spec.method].version}
    different = [f"{key} {run.get(key)!r} (now {value!r})" for key, value in expected.items() if run.get(key) != value]
    different += [f"{spec.profile} profile's {key} {was!r} (now {now!r})"
                  for key, (was, now) in budget_changes(result, spec.method).items()]
    if dataset_checksum is not None and checksum != dataset_checksum:
        different.append(f"dataset checksum {checksum[:12]} (now {dataset_checksum[:12]})")
    return ("stale", "; ".join(different)) if different else ("done", "")


def budget_changes(result: dict, method: str) -> dict[str, tuple]:
    """{budget: (in the result, in its profile now)} for each budget of the run's profile that changed since."""
    profile = PROFILES.get(result["run"]["profile"])
    if profile is None or method not in METHODS:
        return {}
    pipeline = METHODS[method].pipeline
    try:
        recorded = Profile(**result["profile"]).budgets(pipeline)
    except (KeyError, TypeError):  # recorded before a budget existed
        recorded = {}
    return {key: (recorded.get(key), now) for key, now in profile.budgets(pipeline).items()
            if recorded.get(key) != now}


def set_aside(path: Path, why: str) -> Path:
    """Rename `path` to `<name>.<why>-<UTC time>`, which no report or check reads; returns the new path."""
    target = path.with_name(f"{path.name}.{why}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    os.replace(path, target)
    return target


def is_done(spec: RunSpec, results_dir: Path, dataset_checksum: str | None = None) -> bool:
    """True for a current result; a stale or unreadable one is set aside with a warning, and the run is redone."""
    state, why = result_state(spec, results_dir, dataset_checksum)
    if state in ("stale", "unreadable"):
        kept = set_aside(spec.result_path(results_dir), state)
        print(f"warning: {spec.name}: the result file is {state} ({why}); kept as {kept}, the run is done again",
              file=sys.stderr)
    return state == "done"
