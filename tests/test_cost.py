"""`run --dry-run`'s cost: a run's own work per run, the models a task and seed share once."""

import pandas as pd

from benchmark.grid.cost import PER_SECOND, cost_table
from benchmark.grid.profiles import get_profile
from benchmark.grid.runspec import RunSpec


def _row(table: pd.DataFrame, name: str) -> dict:
    (row,) = table[table["method"] == name].to_dict("records")
    return row


def test_shared_models_are_priced_once_per_task_and_seed_and_not_when_a_finished_run_built_them():
    profile = get_profile("quick")

    def spec(task, method, overrides=()):
        return RunSpec(f"{task}-medium-v2", method, 0, "quick", overrides=overrides, variant="v" if overrides else "")

    built = spec("hopper", "dwm-td3bc")
    specs = [built, spec("hopper", "dwm-iql"), spec("hopper", "dawm-td3bc"), spec("walker2d", "dwm-td3bc"),
             spec("hopper", "dwm-iql", (("agent", "tau", 0.01),)),  # an agent override shares the world model
             spec("hopper", "dwm-iql", (("world_model", "width", 64),))]  # this one needs its own
    measured = pd.DataFrame({"method": ["dwm-td3bc"], "phase_seconds": [
        {"data": 2.0, "world_model": 2000.0, "rollouts": 1800.0, "train": 700.0, "eval": 18.0, "total": 4520.0}]})
    table = cost_table(specs, {built}, measured, profile)

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
    built = RunSpec("hopper-medium-v2", "dawm-t-td3bc", 0, "quick")  # 1/8 x 1M rows / H=7: 142,858 rollouts
    grown = RunSpec("hopper-medium-v2", "dawm-td3bc", 0, "quick")  # 8 x 1M / 7: 1,142,858
    table = cost_table([built, grown], {built}, pd.DataFrame({"method": [], "phase_seconds": []}), profile)
    bank = _row(table, "shared: rollout bank")
    assert (bank["runs"], bank["done"], bank["to run"]) == (1, 0, 1)
    assert bank["core-hours left"] == round((1_142_858 - 142_858) / PER_SECOND["rollouts"] / 3600, 1)
