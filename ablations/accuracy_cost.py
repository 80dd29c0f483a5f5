"""What `python -m ablations.idm_accuracy` would cost before it runs: its measurements, which are done, and
the core-hours of the rest, without training, loading or writing anything.

A measurement's cost is the training of its models (they are its own: trained on 95% of the episodes, never
the table's), each at the median training time the measurement files of its profile and source record, else
from the profile's budgets at our measured CPU rates (`benchmark/grid/cost.py`), plus the median time the files
record for the measuring itself. Each measurement trains its world model; DAWM's IDM and the one-step model do
not depend on the world-model variant, so they are priced once per (task, seed), and not at all where a done
measurement of that (task, seed) recorded them and they are still in the cache. As in `run --dry-run`, a file
present counts as done without checking which build of its dataset it measured.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pandas as pd

from ablations.model_accuracy import AccuracySpec
from benchmark.cli import cached_keys
from benchmark.grid.cost import shared_seconds
from benchmark.grid.profiles import get_profile

MODELS = {"world_model": ("world model", "world_model"), "inverse_dynamics": ("IDM", "idm"),
          "one_step_model": ("one-step model", "one_step_model")}  # artifact: (label, cost.py's kind)
SHARED_BY_VARIANTS = ("inverse_dynamics", "one_step_model")


def recorded_seconds(folder: Path, profile: str, source: str) -> tuple[dict[str, float], int]:
    """({artifact or "measuring": median seconds}, files read) over the measurement files of this profile and
    source."""
    files = sorted(Path(folder).glob(f"{profile}/{source}/*/seed*.json"))
    times: dict[str, list[float]] = {}
    for path in files:
        content = json.loads(path.read_text())
        for name, artifact in content["artifacts"].items():
            times.setdefault(name, []).append(artifact["train_time_s"])
        wall = content["wall_time_s"]
        times.setdefault("measuring", []).append(wall["total"] - wall["models"])
    return {name: statistics.median(values) for name, values in times.items()}, len(files)


def cost_table(specs: list[AccuracySpec], folder: Path, cache: Path) -> tuple[pd.DataFrame, str]:
    """One row per measurement (state, the models it trains, core-hours) and a line saying where the hours come
    from."""
    profile = get_profile(specs[0].profile)
    recorded, files = recorded_seconds(folder, profile.name, specs[0].data.source)
    seconds = {name: recorded.get(name, shared_seconds(kind, profile)) for name, (_, kind) in MODELS.items()}
    measuring = recorded.get("measuring", 0.0)
    cached = cached_keys(cache)
    kept: set[tuple[str, int, str]] = set()  # (task, seed, artifact) of a done measurement, still in the cache
    done = {spec for spec in specs if spec.path(folder).is_file()}
    for spec in done:
        artifacts = json.loads(spec.path(folder).read_text())["artifacts"]
        kept |= {(spec.task, spec.seed, name) for name in SHARED_BY_VARIANTS if artifacts[name]["key"] in cached}
    rows = []
    for spec in specs:
        name = f"{spec.task} seed {spec.seed}" + (f" ({spec.world_model_variant})" if spec.world_model_variant else "")
        if spec in done:
            rows.append({"measurement": name, "state": "done", "trains": "", "core-hours": 0.0})
            continue
        trains = ["world_model"] + [model for model in SHARED_BY_VARIANTS if (spec.task, spec.seed, model) not in kept]
        kept |= {(spec.task, spec.seed, model) for model in SHARED_BY_VARIANTS}  # the next variant reuses them
        hours = (sum(seconds[model] for model in trains) + measuring) / 3600
        rows.append({"measurement": name, "state": "to measure",
                     "trains": ", ".join(MODELS[model][0] for model in trains), "core-hours": round(hours, 2)})
    per_model = ", ".join(f"{label} {seconds[name] / 3600:.2f}" for name, (label, _) in MODELS.items())
    origin = (f"the median of the {files} measurement files of profile {profile.name} (hours: {per_model})" if files
              else f"the {profile.name} profile's budgets at our CPU rates (hours: {per_model})")
    return pd.DataFrame(rows), origin


def print_dry_run(specs: list[AccuracySpec], folder: Path, cache: Path) -> int:
    table, origin = cost_table(specs, folder, cache)
    left = float(table["core-hours"].sum())
    done = int((table["state"] == "done").sum())
    print(f"dry run: {len(specs)} measurements, {done} done, {len(specs) - done} to measure (profile "
          f"{specs[0].profile}, source {specs[0].data.source}); nothing was started\n\n"
          f"{table.to_markdown(index=False)}\n\nabout {left:.1f} core-hours left, priced from {origin}; here "
          f"they run `--workers` at a time, one per core by default ({os.cpu_count()} on this machine; "
          f"`--executor slurm` runs them as one job array)")
    return 0
