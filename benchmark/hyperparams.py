"""The one table of hyperparameters: each method's defaults plus per-task settings, each with its source.

Defaults live on the config dataclasses (field metadata names the source). Where a paper or its
reference code tunes per task, the setting is in TASK_SETTINGS below, and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from benchmark.methods import get_method


@dataclass(frozen=True)
class TaskSetting:
    method: str
    tasks: tuple[str, ...]
    values: dict[str, Any]
    source: str


TASK_SETTINGS: tuple[TaskSetting, ...] = (
    TaskSetting("iql", ("hopper-medium-v2", "hopper-medium-replay-v2"),
                {"deterministic_actor": True, "tau": 0.001, "normalize_reward": True},
                "code: CORL configs/offline/iql/hopper/{medium,medium_replay}_v2.yaml"),
    TaskSetting("iql", ("hopper-medium-expert-v2",), {"expectile": 0.5, "beta": 6.0},
                "code: CORL configs/offline/iql/hopper/medium_expert_v2.yaml"),
)


@dataclass(frozen=True)
class ResolvedConfig:
    config: Any  # the method's config dataclass
    sources: dict[str, str]  # field -> where its value comes from


def resolve(method: str, task: str) -> ResolvedConfig:
    config_class = get_method(method).config
    sources = {f.name: f.metadata.get("source", "ours") for f in dataclasses.fields(config_class)}
    values: dict[str, Any] = {}
    for setting in TASK_SETTINGS:
        if setting.method == method and task in setting.tasks:
            values |= setting.values
            sources |= {name: setting.source for name in setting.values}
    return ResolvedConfig(config_class(**values), sources)


def table_rows() -> list[dict[str, str]]:
    """Every default and every per-task setting, for `python -m benchmark hparams`."""
    from benchmark.methods import METHODS

    rows = []
    for method in METHODS.values():
        for f in dataclasses.fields(method.config):
            rows.append({"method": method.name, "tasks": "all", "field": f.name, "value": repr(f.default),
                         "source": f.metadata.get("source", "ours")})
    for setting in TASK_SETTINGS:
        for name, value in setting.values.items():
            rows.append({"method": setting.method, "tasks": ", ".join(setting.tasks), "field": name,
                         "value": repr(value), "source": setting.source})
    return rows
