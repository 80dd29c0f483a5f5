"""Result files: one JSON per run, written atomically; reports read nothing else."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=1, sort_keys=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def iter_result_files(results_dir: Path) -> list[Path]:
    return sorted(p for p in Path(results_dir).rglob("seed*.json") if not p.name.startswith("."))


def load_results(results_dir: Path) -> pd.DataFrame:
    """One row per finished run, with the fields reports aggregate over."""
    rows = []
    for path in iter_result_files(results_dir):
        result = json.loads(path.read_text())
        run = result["run"]
        rows.append({
            "profile": run["profile"], "source": run["source"], "task": run["task"], "method": run["method"],
            "variant": run.get("variant", ""),
            "seed": run["seed"], "final_score": result["final_score"], "best_score": result["best_score"],
            "train_steps": result["evaluations"][-1]["step"], "dataset_id": result["dataset"]["id"],
            "dataset_checksum": result["dataset"]["checksum"], "commit": result["environment"]["git_commit"],
            "device": result["environment"]["device"], "wall_time_s": result["wall_time_s"]["total"],
            "path": str(path),
        })
    columns = ["profile", "source", "task", "method", "variant", "seed", "final_score", "best_score", "train_steps",
               "dataset_id", "dataset_checksum", "commit", "device", "wall_time_s", "path"]
    return pd.DataFrame(rows, columns=columns)
