"""What a grid will cost before it runs, so nobody starts hundreds of CPU-days by accident.

Per method: the median wall time of its result files already present for this profile where there are some,
otherwise the profile's budgets at rates measured on our 2-core CPU machines (two single-threaded runs
sharing the machine; machine-facts.md and our own runs), for a 1M-row dataset. Cached models are counted in
every run that needs them, as if none were cached yet: an upper bound. GPU rates are not measured yet.
"""

from __future__ import annotations

import math

import pandas as pd

from benchmark.grid.methods import get_method
from benchmark.grid.profiles import Profile
from benchmark.grid.runspec import RunSpec

ROWS = 1_000_000
# world_model, idm, one_step_model: python -m ablations.model_budget's 150k-step trainings (results/measurements/
# model_budget); diffuser: DD's plan model, measured before its training windows were normalised once (an upper
# bound on its time)
PER_SECOND = {"agent": 70.0, "mve_agent": 35.0, "world_model": 29.0, "diffuser": 14.0, "idm": 170.0,
              "one_step_model": 160.0, "rollouts": 690.0, "evaluation_steps": 3_000.0}


def estimated_seconds(method: str, profile: Profile) -> float:
    """One run's CPU seconds from the profile's budgets (see the module docstring)."""
    pipeline = get_method(method).pipeline
    evaluations = profile.agent_steps(pipeline) // profile.eval_every + 1
    seconds = evaluations * profile.eval_episodes * 1000 / PER_SECOND["evaluation_steps"]
    if pipeline == "model_free":
        return seconds + profile.train_steps / PER_SECOND["agent"]
    if pipeline == "one_step":
        return seconds + (profile.one_step_model_steps / PER_SECOND["one_step_model"]
                          + profile.model_based_train_steps / PER_SECOND["mve_agent"])
    if pipeline == "dd":
        planning = seconds * 20  # a sampler call at every environment step: ~20x an MLP policy's evaluation
        return planning + profile.world_model_steps / PER_SECOND["diffuser"] + profile.idm_steps / PER_SECOND["idm"]
    world_model = profile.world_model_steps / PER_SECOND["world_model"]
    if pipeline == "dwm":
        rollouts = profile.bank_samples_per_row * ROWS
        return seconds + world_model + rollouts / PER_SECOND["rollouts"] + (
            profile.model_based_train_steps / PER_SECOND["mve_agent"])
    volume = get_method(method).components["augmentation"]().synthetic_volume
    rollouts = math.ceil(volume * ROWS / 7)
    return seconds + world_model + rollouts / PER_SECOND["rollouts"] + profile.idm_steps / PER_SECOND["idm"] + (
        profile.model_based_train_steps / PER_SECOND["agent"])


def cost_table(specs: list[RunSpec], done: set[RunSpec], measured: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """One row per method: runs in the grid, done, to run, hours per run and for what is left (core-hours)."""
    rows = []
    for method in dict.fromkeys(s.method for s in specs):
        grid = [s for s in specs if s.method == method]
        todo = [s for s in grid if s not in done]
        times = measured.loc[measured["method"] == method, "wall_time_s"]
        per_run = float(times.median()) if not times.empty else estimated_seconds(method, profile)
        rows.append({"method": method, "runs": len(grid), "done": len(grid) - len(todo), "to run": len(todo),
                     "hours per run": f"{per_run / 3600:.2f}" + (" (measured)" if not times.empty else " (estimate)"),
                     "core-hours left": round(len(todo) * per_run / 3600, 1)})
    return pd.DataFrame(rows)
