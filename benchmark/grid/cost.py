"""What a grid will cost before it runs, so nobody starts hundreds of CPU-days by accident.

A run's own work (agent, evaluation, DAWM's synthesis, DD's planning) is priced per run: the median of its
method's result files already present for this profile where there are some, otherwise the profile's budgets
at rates measured on our 2-core CPU machines (two single-threaded runs sharing the machine; machine-facts.md
and our own runs), for a 1M-row dataset. The models runs share (the diffusion world model, its rollout bank,
DAWM's IDM, the one-step model, DD's plan model and IDM) are priced once per task, seed and training setting,
and not at all where a finished run of this grid or another (an RTG sweep's runs reuse the method's own models)
used one that is still in the cache (a fresh machine or a cleared cache trains them again for the runs left): at
the median training time the result files record for that kind of model (a bank: at the seconds per rollout its
chunks took to generate), otherwise from the budgets. GPU rates are not measured yet.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from benchmark.grid.hyperparams import resolve, training_fields
from benchmark.grid.methods import METHODS, AugmentationConfig, get_method
from benchmark.grid.profiles import Profile
from benchmark.grid.runspec import RunSpec

ROWS = 1_000_000
# world_model, idm, one_step_model: python -m ablations.model_budget's 150k-step trainings (results/measurements/
# model_budget); diffuser: DD's plan model at batch 64, 16.7 steps/s in our quick runs on hopper- and
# halfcheetah-medium (two runs on two cores), rounded down; dd_idm: DD's 2x1024 IDM, 50k steps in 1,260-1,460 s
# in our quick runs
PER_SECOND = {"agent": 70.0, "mve_agent": 35.0, "world_model": 29.0, "diffuser": 14.0, "idm": 170.0,
              "dd_idm": 34.0, "one_step_model": 160.0, "rollouts": 690.0, "evaluation_steps": 3_000.0}


@dataclass(frozen=True)
class SharedModel:
    label: str
    phase: str  # its wall-time phase in a result file, which the runs' own cost leaves out
    artifact: str  # its entry in a result file's artifacts, which records how long its training took
    components: tuple[str, ...]  # the config components it is trained from: another setting makes another model
    steps: str  # the profile's budget it trains for (a bank's: its world model's)


SHARED = {
    "world_model": SharedModel("shared: diffusion world model", "world_model", "world_model", ("world_model",),
                               "world_model_steps"),
    "bank": SharedModel("shared: rollout bank", "rollouts", "rollout_bank", ("world_model", "bank"),
                        "world_model_steps"),
    "idm": SharedModel("shared: DAWM's IDM", "inverse_dynamics", "inverse_dynamics", ("idm",), "idm_steps"),
    "one_step_model": SharedModel("shared: one-step model", "world_model", "world_model", ("world_model",),
                                  "one_step_model_steps"),
    "diffuser": SharedModel("shared: DD's plan model", "diffuser", "diffuser", ("diffuser",), "world_model_steps"),
    "dd_idm": SharedModel("shared: DD's IDM", "inverse_dynamics", "inverse_dynamics", ("idm",), "idm_steps"),
}
SHARED_BY_PIPELINE = {"model_free": (), "dd": ("diffuser", "dd_idm"), "one_step": ("one_step_model",),
                      "dwm": ("world_model", "bank"), "dawm": ("world_model", "bank", "idm")}


def shared_kinds(method: str, configs: dict) -> tuple[str, ...]:
    """The shared models a run with these resolved `configs` trains or loads: none for DAWM on real data alone."""
    pipeline = get_method(method).pipeline
    if pipeline == "dawm" and not configs["augmentation"].draws_synthetic:
        return ()
    return SHARED_BY_PIPELINE[pipeline]


def bank_rollouts(method: str, augmentation: AugmentationConfig | None, profile: Profile, rows: int = ROWS) -> int:
    """The rollouts a run reads from its task and seed's bank: DWM's draws per row; for DAWM, its `augmentation`'s
    synthetic volume over its horizon (an H=1 sweep run reads 7x the rollouts of an H=7 one)."""
    if get_method(method).pipeline == "dwm":
        return profile.bank_samples_per_row * rows
    return augmentation.rollouts(rows)


def shared_seconds(kind: str, profile: Profile, rollouts: int = 0) -> float:
    """One shared model's CPU seconds from the profile's budgets; the bank's for `rollouts` new rollouts."""
    return {"world_model": profile.world_model_steps / PER_SECOND["world_model"],
            "bank": rollouts / PER_SECOND["rollouts"],
            "idm": profile.idm_steps / PER_SECOND["idm"],
            "one_step_model": profile.one_step_model_steps / PER_SECOND["one_step_model"],
            "diffuser": profile.world_model_steps / PER_SECOND["diffuser"],
            "dd_idm": profile.idm_steps / PER_SECOND["dd_idm"]}[kind]


def estimated_seconds(method: str, profile: Profile) -> float:
    """One run's own CPU seconds from the profile's budgets, shared models left out (see the module docstring)."""
    pipeline = get_method(method).pipeline
    evaluations = profile.agent_steps(pipeline) // profile.eval_every + 1
    seconds = evaluations * profile.eval_episodes * 1000 / PER_SECOND["evaluation_steps"]
    if pipeline == "model_free":
        return seconds + profile.train_steps / PER_SECOND["agent"]
    if pipeline in ("one_step", "dwm"):
        return seconds + profile.model_based_train_steps / PER_SECOND["mve_agent"]
    if pipeline == "dd":
        return seconds * 20  # a sampler call at every environment step: ~20x an MLP policy's evaluation
    rollouts = bank_rollouts(method, get_method(method).components["augmentation"](), profile)
    synthesis = rollouts / PER_SECOND["rollouts"] / 10  # IDM labelling: ~1/10 of sampling
    return seconds + synthesis + profile.model_based_train_steps / PER_SECOND["agent"]


def own_seconds(method: str, phases: dict[str, float]) -> float:
    """A result file's wall time without the shared models it trained or loaded."""
    shared = {SHARED[kind].phase for kind in SHARED_BY_PIPELINE[get_method(method).pipeline]}
    return sum(seconds for phase, seconds in phases.items() if phase != "total" and phase not in shared)


def model_key(run: Mapping, configs: Mapping[str, Mapping], budgets: Mapping[str, int], kind: str) -> tuple:
    """Which shared model of `kind` a run (task, method, seed) trains or loads: what the cache keys it by, less the
    data (one dataset per task and source). `configs`: its resolved components as plain values (a result file's
    `config`); `budgets`: its profile's. Runs of one task and seed share the model where their settings of its
    components agree, sampling settings aside (DD's RTG sweep)."""
    components = get_method(run["method"]).components
    setting = {c: training_fields(components[c], configs[c]) for c in SHARED[kind].components}
    return run["task"], run["seed"], kind, json.dumps(setting, sort_keys=True), budgets[SHARED[kind].steps]


def _spec_key(spec: RunSpec, configs: dict, kind: str, profile: Profile) -> tuple:
    budgets = dataclasses.asdict(dataclasses.replace(profile, **dict(spec.budget)))
    plain = {c: dataclasses.asdict(configs[c]) for c in SHARED[kind].components}
    return model_key({"task": spec.task, "method": spec.method, "seed": spec.seed}, plain, budgets, kind)


def cached_models(results: Iterable[Mapping], cached: Collection[str]) -> dict[tuple, int]:
    """The shared models that finished runs (`results`: their result files, of one data source) used and that are
    still in the cache (`cached`: its content keys), by `model_key`: a bank's rollouts, 0 for the others."""
    built: dict[tuple, int] = {}
    for result in results:
        run, artifacts = result["run"], result.get("artifacts", {})
        if run["method"] not in METHODS or "config" not in result:  # a method since removed; a file from older code
            continue
        for kind in SHARED_BY_PIPELINE[get_method(run["method"]).pipeline]:
            artifact = artifacts.get(SHARED[kind].artifact, {})
            if artifact.get("key") in cached:
                key = model_key(run, result["config"], result["profile"], kind)
                built[key] = max(built.get(key, 0), artifact.get("rollouts", 0))
    return built


def _measured_seconds(measured: pd.DataFrame) -> dict[str, float]:
    """Per kind of shared model: the median training time over the distinct models the result files used; for
    the bank, seconds per rollout over the distinct banks, each at the largest prefix a run read (banks grow)."""
    times: dict[str, dict[str, float]] = {}  # kind -> model key -> seconds
    banks: dict[str, tuple[int, float]] = {}  # bank key -> (rollouts generated, seconds)
    for method, artifacts in zip(measured["method"], measured.get("artifacts", ())):
        for kind in SHARED_BY_PIPELINE[get_method(method).pipeline]:
            artifact = (artifacts or {}).get(SHARED[kind].artifact, {})
            if "train_time_s" in artifact:
                times.setdefault(kind, {})[artifact["key"]] = artifact["train_time_s"]
            if "generation_time_s" in artifact:
                banks[artifact["key"]] = max(banks.get(artifact["key"], (0, 0.0)),
                                             (artifact["generated"], artifact["generation_time_s"]))
    seconds = {kind: float(pd.Series(list(each.values())).median()) for kind, each in times.items()}
    if banks:
        seconds["bank"] = sum(s for _, s in banks.values()) / sum(n for n, _ in banks.values())
    return seconds


def _shared_rows(specs: list[RunSpec], done: set[RunSpec], built: Mapping[tuple, int], measured: dict[str, float],
                 profile: Profile) -> list[dict]:
    """One row per kind of shared model: how many the grid needs, how many are built (`cached_models`) and how
    many are left to train for the runs not done yet."""
    needed: dict[tuple, int] = {}  # model -> rollouts (the bank) or 0
    grid: set[tuple] = set()  # every model of the grid's runs, done or not
    for spec in specs:
        configs = resolve(spec.method, spec.task).with_overrides(spec.overrides, "").configs
        for kind in shared_kinds(spec.method, configs):
            key = _spec_key(spec, configs, kind, profile)
            grid.add(key)
            if spec not in done:
                rollouts = bank_rollouts(spec.method, configs.get("augmentation"), profile) if kind == "bank" else 0
                needed[key] = max(needed.get(key, 0), rollouts)
    rows = []
    for kind, model in SHARED.items():
        keys = {key for key in grid if key[2] == kind}
        if not keys:
            continue
        if kind == "bank":  # a bank grows to the largest draw any of its runs needs
            largest = max(max(needed.get(k, 0), built.get(k, 0)) for k in keys)
            missing = {k: needed[k] - built.get(k, 0) for k in keys if needed.get(k, 0) > built.get(k, 0)}
            how = "measured" if "bank" in measured else "estimate"
            per_rollout = measured.get("bank", shared_seconds(kind, profile, 1))
            each, seconds, left = largest * per_rollout, sum(missing.values()) * per_rollout, list(missing)
        else:
            each, how = (measured[kind], "measured") if kind in measured else (shared_seconds(kind, profile), "estimate")
            left = [k for k in needed if k[2] == kind and k not in built]
            seconds = len(left) * each
        rows.append({"method": model.label, "runs": len(keys), "done": len(keys) - len(left), "to run": len(left),
                     "hours per run": f"{each / 3600:.2f} ({how})", "core-hours left": round(seconds / 3600, 1)})
    return rows


def _per_run(method: str, own: pd.DataFrame, profile: Profile) -> tuple[float, str]:
    """A run's own seconds: its method's median, else its pipeline's (the same models, another agent), else the
    estimate from the profile's budgets; and which of the three it is."""
    for column, value, how in (("method", method, "measured"),
                               ("pipeline", get_method(method).pipeline, "measured, same pipeline")):
        times = own.loc[own[column] == value, "seconds"]
        if not times.empty:
            return float(times.median()), how
    return estimated_seconds(method, profile), "estimate"


def cost_table(specs: list[RunSpec], done: set[RunSpec], built: Mapping[tuple, int], measured: pd.DataFrame,
               profile: Profile) -> pd.DataFrame:
    """One row per method (its runs' own work) and per kind of shared model: in the grid, done, to run, hours
    each and core-hours for what is left. `built`: the shared models in the cache (`cached_models`)."""
    own = pd.DataFrame({"method": measured["method"], "seconds": [own_seconds(m, p) for m, p in
                                                                   zip(measured["method"], measured["phase_seconds"])]})
    own["pipeline"] = [get_method(m).pipeline for m in own["method"]]
    rows = []
    for method in dict.fromkeys(s.method for s in specs):
        grid = [s for s in specs if s.method == method]
        todo = [s for s in grid if s not in done]
        per_run, how = _per_run(method, own, profile)
        rows.append({"method": method, "runs": len(grid), "done": len(grid) - len(todo), "to run": len(todo),
                     "hours per run": f"{per_run / 3600:.2f} ({how})",
                     "core-hours left": round(len(todo) * per_run / 3600, 1)})
    return pd.DataFrame(rows + _shared_rows(specs, done, built, _measured_seconds(measured), profile))
