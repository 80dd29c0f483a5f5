"""The one table of hyperparameters: each component's defaults plus per-task settings, each with its source.

Defaults live on the config dataclasses (field metadata names the source). Where a paper or its
reference code tunes per task or per environment, the setting is in TASK_SETTINGS below, and nowhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchmark.grid.methods import METHODS, get_method
from benchmark.grid.profiles import BANK_DRAWS, PROFILES, QUICK_MODEL_BUDGETS
from benchmark.envs.tasks import all_tasks

CORL_IQL = ("iql",)  # IQL as CORL tunes it; the model-based methods use DWM's RL stage (algorithms/rl_stage.py)
DWM_T67 = "paper: DWM Table 6.7 (evaluation RTG sweep; the middle value)"
DIFFUSION_WORLD_MODELS = ("dwm-td3bc", "dwm-iql", "dawm-td3bc", "dawm-iql", "dawm-t-td3bc", "dawm-t-iql")
EVAL_RTG = (  # (tasks, RTG), DWM Table 6.7: for DWM's rollouts and for DWM's re-run of DD
    (("hopper-medium-v2", "hopper-medium-replay-v2", "walker2d-medium-v2", "walker2d-medium-replay-v2",
      "halfcheetah-medium-expert-v2"), 0.7),
    (("halfcheetah-medium-v2", "halfcheetah-medium-replay-v2"), 0.5),
    (("hopper-medium-expert-v2",), 0.8),
    (("walker2d-medium-expert-v2",), 0.9),
)


@dataclass(frozen=True)
class TaskSetting:
    component: str
    tasks: tuple[str, ...]
    values: dict[str, Any]
    source: str
    methods: tuple[str, ...] | None = None  # None: every method with this component


def env_tasks(env: str) -> tuple[str, ...]:
    return tuple(t.name for t in all_tasks() if t.env == env)


TASK_SETTINGS: tuple[TaskSetting, ...] = (
    TaskSetting("agent", ("hopper-medium-v2", "hopper-medium-replay-v2"),
                {"deterministic_actor": True, "tau": 0.001, "normalize_reward": True},
                "code: CORL configs/offline/iql/hopper/{medium,medium_replay}_v2.yaml", CORL_IQL),
    TaskSetting("agent", ("hopper-medium-expert-v2",), {"expectile": 0.5, "beta": 6.0},
                "code: CORL configs/offline/iql/hopper/medium_expert_v2.yaml", CORL_IQL),
    *(TaskSetting(component, env_tasks(env), {"rtg_scale": scale}, "paper: DWM App. D", methods)
      for component, methods in (("world_model", DIFFUSION_WORLD_MODELS), ("diffuser", None))
      for env, scale in (("hopper", 400.0), ("walker2d", 550.0), ("halfcheetah", 1200.0))),
    *(TaskSetting("bank", tasks, {"rtg": rtg}, DWM_T67) for tasks, rtg in EVAL_RTG),
    *(TaskSetting("diffuser", tasks, {"test_return": rtg}, DWM_T67 + ", as DWM's DD re-run", ("dd",))
      for tasks, rtg in EVAL_RTG),
)


@dataclass(frozen=True)
class ResolvedConfig:
    configs: dict[str, Any]  # component -> its config dataclass
    sources: dict[str, dict[str, str]]  # component -> field -> where its value comes from

    @property
    def agent(self) -> Any:
        return self.configs["agent"]

    def to_dict(self) -> dict:
        return {name: dataclasses.asdict(config) for name, config in self.configs.items()}

    def with_overrides(self, overrides, source_text: str) -> ResolvedConfig:
        """An ablation's changes, each (component, field, value), recorded as the field's source."""
        configs = dict(self.configs)
        sources = {name: dict(fields) for name, fields in self.sources.items()}
        changes: dict[str, dict] = {}
        for component, name, value in overrides:
            changes.setdefault(component, {})[name] = value
            sources[component][name] = source_text
        for component, values in changes.items():  # at once: a config's checks see the whole new setting
            configs[component] = dataclasses.replace(configs[component], **values)
        return ResolvedConfig(configs, sources)


def training_config(config) -> dict:
    """What of `config` the trained weights depend on: all but its SAMPLING_FIELDS (read only when sampling)."""
    return training_fields(type(config), dataclasses.asdict(config))


def training_fields(config_class: type, values: Mapping[str, Any]) -> dict:
    """`training_config` of a config given as plain values (a result file's `config` entry) and its class."""
    return {name: value for name, value in values.items() if name not in getattr(config_class, "SAMPLING_FIELDS", ())}


def _field_sources(config_class: type) -> dict[str, str]:
    return {f.name: f.metadata.get("source", "ours") for f in dataclasses.fields(config_class)}


def resolve(method: str, task: str) -> ResolvedConfig:
    configs, sources = {}, {}
    for component, config_class in get_method(method).components.items():
        values, field_sources = {}, _field_sources(config_class)
        for setting in TASK_SETTINGS:
            if (setting.component == component and task in setting.tasks
                    and (setting.methods is None or method in setting.methods)):
                values |= setting.values
                field_sources |= {name: setting.source for name in setting.values}
        configs[component], sources[component] = config_class(**values), field_sources
    return ResolvedConfig(configs, sources)


def table_rows() -> list[dict[str, str]]:
    """Every default (once per config class) and every per-task setting, for `python -m benchmark hparams`."""
    users: dict[type, list[str]] = {}
    for method in METHODS.values():
        for config_class in method.components.values():
            users.setdefault(config_class, []).append(method.name)
    rows = []
    for config_class, methods in users.items():
        for f in dataclasses.fields(config_class):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            rows.append({"config": config_class.__name__, "methods": ", ".join(methods), "tasks": "all",
                         "field": f.name, "value": repr(default), "source": f.metadata.get("source", "ours")})
    for setting in TASK_SETTINGS:
        methods = setting.methods or tuple(m.name for m in METHODS.values() if setting.component in m.components)
        for name, value in setting.values.items():
            rows.append({"config": setting.component, "methods": ", ".join(methods), "tasks": ", ".join(setting.tasks),
                         "field": name, "value": repr(value), "source": setting.source})
    dwm_methods = ", ".join(m.name for m in METHODS.values() if m.pipeline == "dwm")
    for profile in PROFILES.values():
        rows.append({"config": f"Profile {profile.name}", "methods": dwm_methods, "tasks": "all",
                     "field": "bank_samples_per_row", "value": repr(profile.bank_samples_per_row),
                     "source": BANK_DRAWS})
    quick = PROFILES["quick"]
    for name in ("world_model_steps", "idm_steps", "one_step_model_steps"):
        spenders = ", ".join(m.name for m in METHODS.values() if name in quick.budgets(m.pipeline))
        rows.append({"config": "Profile quick", "methods": spenders, "tasks": "all", "field": name,
                     "value": repr(getattr(quick, name)), "source": QUICK_MODEL_BUDGETS})
    return rows
