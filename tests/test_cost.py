"""`run --dry-run`'s cost: a run's own work per run, the models a task and seed share once."""

import dataclasses
import json

import pandas as pd

from benchmark.grid.cost import PER_SECOND, bank_rollouts, cached_models, cost_table
from benchmark.grid.hyperparams import resolve
from benchmark.grid.profiles import get_profile
from benchmark.grid.runspec import RunSpec


def _row(table: pd.DataFrame, name: str) -> dict:
    (row,) = table[table["method"] == name].to_dict("records")
    return row


def result_file(spec: RunSpec, artifacts: dict) -> dict:
    """What the dry-run reads of `spec`'s result file, as JSON gives it back."""
    profile = get_profile(spec.profile)
    configs = resolve(spec.method, spec.task).with_overrides(spec.overrides, "").configs
    return json.loads(json.dumps({
        "run": {"task": spec.task, "method": spec.method, "seed": spec.seed, "variant": spec.variant},
        "config": {name: dataclasses.asdict(config) for name, config in configs.items()},
        "profile": dataclasses.asdict(dataclasses.replace(profile, **dict(spec.budget))), "artifacts": artifacts}))


def built(*finished: tuple[RunSpec, set[str]]) -> dict[tuple, int]:
    """The shared models in the cache, for finished runs given as (spec, the artifacts of its result file whose
    models are still in the cache; the others' are gone)."""
    results, cached = [], set()
    for spec, kept in finished:
        artifacts = {name: {"key": f"{spec.name}/{name}"} for name in kept}
        if "rollout_bank" in kept:
            configs = resolve(spec.method, spec.task).with_overrides(spec.overrides, "").configs
            artifacts["rollout_bank"]["rollouts"] = bank_rollouts(spec.method, configs.get("augmentation"),
                                                                  get_profile(spec.profile))
        results.append(result_file(spec, artifacts))
        cached |= {artifact["key"] for artifact in artifacts.values()}
    return cached_models(results, cached)


def test_shared_models_are_priced_once_per_task_and_seed_and_not_when_a_finished_run_built_them():
    profile = get_profile("quick")

    def spec(task, method, overrides=()):
        return RunSpec(f"{task}-medium-v2", method, 0, "quick", overrides=overrides, variant="v" if overrides else "")

    finished = spec("hopper", "dwm-td3bc")
    specs = [finished, spec("hopper", "dwm-iql"), spec("hopper", "dawm-td3bc"), spec("walker2d", "dwm-td3bc"),
             spec("hopper", "dwm-iql", (("agent", "tau", 0.01),)),  # an agent override shares the world model
             spec("hopper", "dwm-iql", (("world_model", "width", 64),))]  # this one needs its own
    measured = pd.DataFrame({"method": ["dwm-td3bc"], "phase_seconds": [
        {"data": 2.0, "world_model": 2000.0, "rollouts": 1800.0, "train": 700.0, "eval": 18.0, "total": 4520.0}]})
    table = cost_table(specs, {finished}, built((finished, {"world_model", "rollout_bank"})), measured, profile)

    own = 720.0  # data + train + eval: the world model and the bank are priced in their own rows
    assert _row(table, "dwm-td3bc") == {"method": "dwm-td3bc", "runs": 2, "done": 1, "to run": 1,
                                        "hours per run": "0.20 (measured)", "core-hours left": round(own / 3600, 1)}
    assert _row(table, "dwm-iql")["hours per run"] == "0.20 (measured, same pipeline)"
    assert _row(table, "dwm-iql")["core-hours left"] == round(3 * own / 3600, 1)
    assert _row(table, "dawm-td3bc")["hours per run"].endswith("(estimate)")

    world_model = _row(table, "shared: diffusion world model")  # hopper (built), walker2d, hopper with width 64
    assert (world_model["runs"], world_model["done"], world_model["to run"]) == (3, 1, 2)
    assert world_model["core-hours left"] == round(2 * profile.world_model_steps / PER_SECOND["world_model"] / 3600, 1)
    bank = _row(table, "shared: rollout bank")  # hopper's 2M rollouts cover DAWM's 1.14M; walker2d's are new
    assert (bank["runs"], bank["done"], bank["to run"]) == (3, 1, 2)
    assert bank["core-hours left"] == round(2 * 2 * 1_000_000 / PER_SECOND["rollouts"] / 3600, 1)
    idm = _row(table, "shared: DAWM's IDM")
    assert (idm["runs"], idm["done"], idm["to run"]) == (1, 0, 1)
    assert "shared: one-step model" not in set(table["method"])


def test_a_bank_that_must_grow_is_priced_for_its_new_rollouts_only():
    profile = get_profile("quick")
    finished = RunSpec("hopper-medium-v2", "dawm-t-td3bc", 0, "quick")  # 1/8 x 1M rows / H=7: 142,858 rollouts
    grown = RunSpec("hopper-medium-v2", "dawm-td3bc", 0, "quick")  # 8 x 1M / 7: 1,142,858
    table = cost_table([finished, grown], {finished},
                       built((finished, {"world_model", "rollout_bank", "inverse_dynamics"})),
                       pd.DataFrame({"method": [], "phase_seconds": []}), profile)
    bank = _row(table, "shared: rollout bank")
    assert (bank["runs"], bank["done"], bank["to run"]) == (1, 0, 1)
    assert bank["core-hours left"] == round((1_142_858 - 142_858) / PER_SECOND["rollouts"] / 3600, 1)


def test_a_dawm_horizon_override_prices_the_rollouts_its_own_horizon_reads():
    """DAWM keeps 8x the real data whatever H is: at H=1 every rollout gives one transition, so 8M rollouts."""
    profile = get_profile("quick")
    finished = RunSpec("hopper-medium-v2", "dwm-td3bc", 0, "quick")  # 2 draws x 1M rows: 2M rollouts
    h1 = RunSpec("hopper-medium-v2", "dawm-td3bc", 0, "quick", variant="h1",
                 overrides=(("augmentation", "horizon", 1),))
    table = cost_table([finished, h1], {finished}, built((finished, {"world_model", "rollout_bank"})),
                       pd.DataFrame({"method": [], "phase_seconds": []}), profile)
    bank = _row(table, "shared: rollout bank")
    assert (bank["runs"], bank["done"], bank["to run"]) == (1, 0, 1)
    assert bank["core-hours left"] == round((8_000_000 - 2_000_000) / PER_SECOND["rollouts"] / 3600, 1)


def test_a_bank_is_priced_at_the_rate_its_runs_measured_when_they_record_one():
    """Two banks, 1.5M rollouts generated in 3,000 s: 2 ms each. A run that read a shorter prefix of a bank
    (bank "a": its first 0.5M, 400 s) adds nothing: the longest prefix of each bank is counted once."""
    profile = get_profile("quick")
    finished = RunSpec("hopper-medium-v2", "dwm-td3bc", 0, "quick")  # 2M rollouts in the cache
    h1 = RunSpec("hopper-medium-v2", "dawm-td3bc", 0, "quick", variant="h1",
                 overrides=(("augmentation", "horizon", 1),))  # needs 8M
    measured = pd.DataFrame({"method": ["dwm-td3bc", "dawm-iql", "dwm-iql"], "phase_seconds": [{}, {}, {}],
                             "artifacts": [{"rollout_bank": {"key": "a", "generated": 1_000_000,
                                                             "generation_time_s": 1_000.0}},
                                           {"rollout_bank": {"key": "b", "generated": 500_000,
                                                             "generation_time_s": 2_000.0}},
                                           {"rollout_bank": {"key": "a", "generated": 500_000,
                                                             "generation_time_s": 400.0}}]})
    table = cost_table([finished, h1], {finished}, built((finished, {"world_model", "rollout_bank"})), measured,
                       profile)
    bank = _row(table, "shared: rollout bank")
    assert bank["hours per run"] == f"{8_000_000 * 0.002 / 3600:.2f} (measured)"
    assert bank["core-hours left"] == round(6_000_000 * 0.002 / 3600, 1)


def test_dd_models_are_shared_by_its_sampling_variants_and_priced_at_their_recorded_training_time():
    profile = get_profile("quick")
    finished = RunSpec("hopper-medium-v2", "dd", 0, "quick")
    specs = [finished,
             RunSpec("hopper-medium-v2", "dd", 0, "quick", variant="rtg08", overrides=(("diffuser", "test_return", 0.8),)),
             RunSpec("hopper-medium-v2", "dd", 0, "quick", variant="t16", overrides=(("diffuser", "horizon", 16),)),
             RunSpec("hopper-medium-v2", "dd-official", 0, "quick"), RunSpec("walker2d-medium-v2", "dd", 0, "quick")]
    artifacts = {"diffuser": {"key": "p", "train_time_s": 2400.0}, "inverse_dynamics": {"key": "i", "train_time_s": 1440.0}}
    measured = pd.DataFrame({"method": ["dd"], "artifacts": [artifacts], "phase_seconds": [
        {"data": 3.0, "diffuser": 2400.0, "inverse_dynamics": 1440.0, "train": 0.0, "eval": 33.0, "total": 3876.0}]})
    table = cost_table(specs, {finished}, built((finished, {"diffuser", "inverse_dynamics"})), measured, profile)

    assert _row(table, "dd")["hours per run"] == "0.01 (measured)"  # data + eval: its models have their own rows
    assert _row(table, "dd")["core-hours left"] == round(3 * 36.0 / 3600, 1)
    # hopper's (built; its RTG variant reuses it), hopper's T=16, hopper's official preset, walker2d's
    plan = _row(table, "shared: DD's plan model")
    assert (plan["runs"], plan["done"], plan["to run"], plan["hours per run"]) == (4, 1, 3, "0.67 (measured)")
    assert plan["core-hours left"] == round(3 * 2400.0 / 3600, 1)
    idm = _row(table, "shared: DD's IDM")  # the T=16 variant keeps hopper's IDM; the official preset has its own
    assert (idm["runs"], idm["done"], idm["to run"]) == (3, 1, 2)
    assert idm["core-hours left"] == round(2 * 1440.0 / 3600, 1)


def test_a_finished_runs_model_that_left_the_cache_is_trained_again_only_for_the_runs_still_to_run():
    profile = get_profile("quick")
    finished = RunSpec("hopper-medium-v2", "dawm-td3bc", 0, "quick")
    pending = RunSpec("hopper-medium-v2", "dawm-t-iql", 0, "quick")  # needs hopper's world model, bank and IDM
    alone = RunSpec("walker2d-medium-v2", "dawm-td3bc", 0, "quick")  # finished; nothing left needs its models
    empty = pd.DataFrame({"method": [], "phase_seconds": []})
    every = {"world_model", "rollout_bank", "inverse_dynamics"}

    kept = cost_table([finished, pending, alone], {finished, alone}, built((finished, every), (alone, set())), empty,
                      profile)
    cleared = cost_table([finished, pending, alone], {finished, alone},
                         built((finished, {"rollout_bank"}), (alone, set())), empty, profile)

    for kind in ("shared: diffusion world model", "shared: DAWM's IDM"):
        assert (_row(kept, kind)["runs"], _row(kept, kind)["to run"]) == (2, 0)
        assert (_row(cleared, kind)["runs"], _row(cleared, kind)["done"], _row(cleared, kind)["to run"]) == (2, 1, 1)
    assert _row(cleared, "shared: diffusion world model")["core-hours left"] == round(
        profile.world_model_steps / PER_SECOND["world_model"] / 3600, 1)
    assert _row(kept, "shared: rollout bank")["to run"] == _row(cleared, "shared: rollout bank")["to run"] == 0


def test_dawm_on_the_real_data_alone_needs_no_shared_model():
    real_only = RunSpec("hopper-medium-v2", "dawm-t-td3bc", 0, "quick", variant="real-only",
                        overrides=(("augmentation", "real_ratio", 1.0),))
    table = cost_table([real_only], set(), built(), pd.DataFrame({"method": [], "phase_seconds": []}),
                       get_profile("quick"))
    assert list(table["method"]) == ["dawm-t-td3bc"]


def test_a_sweep_is_priced_without_the_models_the_methods_own_finished_runs_left_in_the_cache():
    """The grid holds only the variants; the models come from runs outside it (before: priced as untrained)."""
    profile = get_profile("quick")
    own = RunSpec("hopper-medium-v2", "dd", 0, "quick")
    other_seed = RunSpec("hopper-medium-v2", "dd", 1, "quick")
    sweep = [RunSpec("hopper-medium-v2", "dd", seed, "quick", variant="rtg08",
                     overrides=(("diffuser", "test_return", 0.8),)) for seed in (0, 1)]
    table = cost_table(sweep, set(), built((own, {"diffuser", "inverse_dynamics"}), (other_seed, set())),
                       pd.DataFrame({"method": [], "phase_seconds": []}), profile)
    for kind in ("shared: DD's plan model", "shared: DD's IDM"):  # seed 0's are built, seed 1's are gone
        assert (_row(table, kind)["runs"], _row(table, kind)["done"], _row(table, kind)["to run"]) == (2, 1, 1)

    longer = dataclasses.replace(sweep[0], budget=(("world_model_steps", 100_000),))  # another plan model, same IDM
    table = cost_table([longer], set(), built((own, {"diffuser", "inverse_dynamics"})),
                       pd.DataFrame({"method": [], "phase_seconds": []}), profile)
    assert _row(table, "shared: DD's plan model")["to run"] == 1
    assert _row(table, "shared: DD's IDM")["to run"] == 0
