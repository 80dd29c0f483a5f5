"""The one table of hyperparameters: each component's defaults plus per-task settings, each with its source.

Defaults live on the config dataclasses (field metadata names the source). Where a paper or its
reference code tunes per task or per environment, the setting is in TASK_SETTINGS below, and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from benchmark.methods import METHODS, get_method
from benchmark.tasks import all_tasks

CORL_IQL = ("iql", "dawm-iql", "dawm-t-iql")  # IQL as CORL tunes it, on real or real + synthetic data
DWM_T67 = "paper: DWM Table 6.7 (evaluation RTG sweep; the middle value)"


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
    TaskSetting("world_model", env_tasks("hopper"), {"rtg_scale": 400.0}, "paper: DWM App. D"),
    TaskSetting("world_model", env_tasks("walker2d"), {"rtg_scale": 550.0}, "paper: DWM App. D"),
    TaskSetting("world_model", env_tasks("halfcheetah"), {"rtg_scale": 1200.0}, "paper: DWM App. D"),
    TaskSetting("bank", ("hopper-medium-v2", "hopper-medium-replay-v2", "walker2d-medium-v2",
                         "walker2d-medium-replay-v2", "halfcheetah-medium-expert-v2"), {"rtg": 0.7}, DWM_T67),
    TaskSetting("bank", ("halfcheetah-medium-v2", "halfcheetah-medium-replay-v2"), {"rtg": 0.5}, DWM_T67),
    TaskSetting("bank", ("hopper-medium-expert-v2",), {"rtg": 0.8}, DWM_T67),
    TaskSetting("bank", ("walker2d-medium-expert-v2",), {"rtg": 0.9}, DWM_T67),
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
    return rows
