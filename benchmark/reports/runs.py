"""Result files as a table, and the one filter every report applies, which says what it left out and why."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.envs.tasks import ENVS, parse_task
from benchmark.grid.methods import METHODS
from benchmark.run.failures import read_failure
from benchmark.run.completion import budget_changes

EPISODE_STEPS = 1000  # D4RL's reference returns are over episodes of up to 1000 steps
COLUMNS = ["profile", "source", "task", "method", "variant", "seed", "method_version", "final_score", "best_score",
           "train_steps", "dataset_id", "dataset_checksum", "commit", "device", "wall_time_s", "phase_seconds",
           "artifacts", "finished_at", "evaluations", "final_q", "final_critic_loss", "q_scale", "dataset_caveats",
           "budgets_changed", "path"]


def iter_result_files(results_dir: Path) -> list[Path]:
    return sorted(p for p in Path(results_dir).rglob("seed*.json") if not p.name.startswith("."))


def _q_scale(result: dict) -> float:
    """The discounted return of D4RL's expert reference, in the agent's reward units: no critic of a sound run
    estimates far above it (NaN where the run has no discounted critic)."""
    agent = result.get("config", {}).get("agent", {})
    if "discount" not in agent:
        return float("nan")
    per_step = ENVS[parse_task(result["run"]["task"]).env].ref_max_score / EPISODE_STEPS
    return result.get("reward_scale", 1.0) * per_step / (1.0 - agent["discount"])


def _row(path: Path) -> dict:
    result = json.loads(path.read_text())
    run = result["run"]
    last_log = result["evaluations"][-1].get("train_log") or {}  # the agent's scalars at its last evaluation
    return {
        "profile": run["profile"], "source": run["source"], "task": run["task"], "method": run["method"],
        "variant": run.get("variant", ""), "seed": run["seed"], "method_version": run.get("method_version", 0),
        "final_score": result["final_score"], "best_score": result["best_score"],
        "train_steps": result["evaluations"][-1]["step"], "dataset_id": result["dataset"]["id"],
        "dataset_checksum": result["dataset"]["checksum"], "commit": result["environment"]["git_commit"],
        "device": result["environment"]["device"], "wall_time_s": result["wall_time_s"]["total"],
        "phase_seconds": result["wall_time_s"], "artifacts": result.get("artifacts", {}),
        "finished_at": result.get("finished_at", ""),
        "evaluations": [(e["step"], e["score"]) for e in result["evaluations"]],
        "final_q": last_log.get("q1", float("nan")), "final_critic_loss": last_log.get("critic_loss", float("nan")),
        "q_scale": _q_scale(result),
        "dataset_caveats": tuple(result["dataset"].get("caveats", ())),
        "budgets_changed": bool(budget_changes(result, run["method"])), "path": str(path),
    }


def load_runs(results_dir: Path) -> pd.DataFrame:
    """One row per result file. A file that cannot be read is named on stderr and left out, never fatal."""
    rows = []
    for path in iter_result_files(results_dir):
        try:
            rows.append(_row(path))
        except (ValueError, KeyError, IndexError, TypeError) as error:
            print(f"warning: {path} is not a readable result file ({type(error).__name__}: {error}); "
                  f"left out of reports (delete it and rerun the run)", file=sys.stderr)
    return pd.DataFrame(rows, columns=COLUMNS)


FAILURE_COLUMNS = ["profile", "source", "task", "method", "variant", "seed", "method_version", "error", "commit",
                   "failed_at", "path"]


def load_failures(results_dir: Path) -> pd.DataFrame:
    """One row per failure record (a run whose last attempt raised, benchmark/run/failures.py). A record that
    names no run (a plain traceback from older code) is named on stderr and left out."""
    rows = []
    for path in sorted(p for p in Path(results_dir).rglob("seed*.failed") if not p.name.startswith(".")):
        record = read_failure(path)
        if "run" not in record:
            print(f"warning: {path} names no run (a failure record from older code); left out of reports "
                  f"(rerun the run, or delete the record)", file=sys.stderr)
            continue
        run = record["run"]
        rows.append({"profile": run["profile"], "source": run["source"], "task": run["task"],
                     "method": run["method"], "variant": run["variant"], "seed": run["seed"],
                     "method_version": run["method_version"], "error": record["error"],
                     "commit": record.get("commit"), "failed_at": record.get("failed_at", ""), "path": str(path)})
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


CAVEAT_MARK = "†"
FAILED_MARK = "✗"


def caveats_by_task(runs: pd.DataFrame) -> dict[str, list[str]]:
    """The tasks whose dataset misses the D4RL recipe's targets, with what it misses (datasets.md), as the most
    recently finished run of the task words it: older runs of the same dataset may word it otherwise."""
    newest = runs.sort_values("finished_at").groupby("task", sort=False).tail(1)
    return {task: list(caveats) for task, caveats in zip(newest["task"], newest["dataset_caveats"]) if caveats}


def caveat_note(runs: pd.DataFrame) -> str:
    """Footnote lines for the marked tasks; empty when every dataset is on target."""
    found = caveats_by_task(runs)
    if not found:
        return ""
    return "\n".join([f"{CAVEAT_MARK} dataset off the D4RL recipe's targets ([datasets.md](datasets.md)):",
                      *(f"- {task}: {'; '.join(caveats)}" for task, caveats in sorted(found.items()))]) + "\n\n"


@dataclass(frozen=True)
class Selection:
    runs: pd.DataFrame  # what the report shows
    left_out: pd.DataFrame  # the look-alikes it did not show, with a `reason` column
    failures: pd.DataFrame  # failure records of the report's kind (load_failures) whose run left no result

    def note(self) -> str:
        """One line for the report: how many look-alike runs were left out, by reason."""
        if self.left_out.empty:
            return "- left out: none"
        counts = self.left_out["reason"].value_counts()
        return "- left out: " + "; ".join(f"{reason}: {n} run{'s' * (n > 1)}" for reason, n in counts.items())


def select_runs(runs: pd.DataFrame, *, profile: str | None = None, source: str | None = None,
                tasks=None, methods=None, variants=("",), failures: pd.DataFrame | None = None) -> Selection:
    """The runs a report claims: this profile and data source, these tasks, methods and ablation variants, the
    method's current code version, and per (profile, source, task) the newest dataset (by checksum: runs on an
    older build of the same task's data are left out). Everything else that would have matched is listed.
    `failures` (load_failures): those of the same kind with no selected result of the same run are kept."""
    candidates = _among(runs, tasks, methods)
    reasons = pd.Series("", index=candidates.index, dtype=object)

    def flag(mask, reason: str) -> None:
        reasons[mask & (reasons == "")] = reason

    if profile is not None:
        flag(candidates["profile"] != profile, "other profile")
    if source is not None:
        flag(candidates["source"] != source, "other data source")
    flag(~candidates["variant"].isin(list(variants)), "other ablation variant")
    flag(candidates["method_version"] != _current_version(candidates["method"]),
         "stale method version (rerun with today's code)")
    flag(candidates["budgets_changed"].astype(bool), "made with the profile's earlier budgets (rerun)")
    newest = (candidates[reasons == ""].sort_values("finished_at")
              .groupby(["profile", "source", "task"])["dataset_checksum"].last())
    keys = list(zip(candidates["profile"], candidates["source"], candidates["task"]))
    flag(pd.Series([newest.get(k) not in (None, c) for k, c in zip(keys, candidates["dataset_checksum"])],
                   index=candidates.index), "older dataset build")
    chosen = candidates[reasons == ""].copy()
    if failures is None:
        failures = pd.DataFrame(columns=FAILURE_COLUMNS)
    failed = _matching(_among(failures, tasks, methods), profile=profile, source=source, variants=variants)
    done = set(zip(chosen["task"], chosen["method"], chosen["variant"], chosen["seed"]))
    failed = failed[np.array([key not in done for key in zip(failed["task"], failed["method"], failed["variant"],
                                                              failed["seed"])], dtype=bool)]
    return Selection(chosen, candidates[reasons != ""].assign(reason=reasons[reasons != ""]), failed.copy())


def _among(frame: pd.DataFrame, tasks, methods) -> pd.DataFrame:
    """The rows (runs or failure records) of these tasks and methods; None: all."""
    if tasks is not None:
        frame = frame[frame["task"].isin(list(tasks))]
    if methods is not None:
        frame = frame[frame["method"].isin(list(methods))]
    return frame


def _current_version(methods: pd.Series) -> pd.Series:
    """Each method's version in today's code (-1 for a method it no longer has)."""
    return methods.map(lambda m: METHODS[m].version if m in METHODS else -1)


def _matching(failures: pd.DataFrame, *, profile, source, variants) -> pd.DataFrame:
    """The failure records of the selection's kind, with the method's current version (an older one is stale)."""
    keep = (failures["variant"].isin(list(variants))
            & (failures["method_version"] == _current_version(failures["method"])))
    for column, wanted in (("profile", profile), ("source", source)):
        if wanted is not None:
            keep &= failures[column] == wanted
    return failures[keep]


def failed_note(failures: pd.DataFrame) -> str:
    """The footnote of FAILED_MARK: each failed run with its error and record; empty when none failed."""
    if failures.empty:
        return ""
    lines = [f"- {METHODS[r.method].label} on {r.task} seed {r.seed}: {r.error} ({r.path}, commit {str(r.commit)[:10]})"
             for r in failures.sort_values(["task", "method", "seed"]).itertuples()]
    return (f"{FAILED_MARK} the run's last attempt failed and left no result (`python -m benchmark run` tries it "
            f"again; its record keeps the traceback):\n" + "\n".join(lines) + "\n\n")
