"""The methods a suite can run: CLI name -> the typed configs of its components and the pipeline that trains it.

Components: `agent` (TD3+BC / IQL, or their MVE forms), `world_model` (the diffusion world model DWM and
DAWM share, or the one-step model of the baselines), `bank` (how its rollouts are sampled), `idm` and
`augmentation` (DAWM's synthetic data), `diffuser` (Decision Diffuser's plan model, with its own `idm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from algorithms.agent import source
from algorithms.decision_diffuser import (DDInverseDynamicsConfig, DDOfficialConfig, DDOfficialInverseDynamicsConfig,
                                          DecisionDiffuserConfig)
from algorithms.inverse_dynamics import InverseDynamicsConfig
from algorithms.iql import IQLConfig
from algorithms.mve import MVEIQLConfig, MVETD3BCConfig, OneStepIQLConfig, OneStepTD3BCConfig
from algorithms.rl_stage import RLStageIQLConfig, RLStageTD3BCConfig
from algorithms.one_step_model import OneStepModelConfig
from algorithms.td3_bc import TD3BCConfig
from algorithms.world_model import DiffusionWorldModelConfig
from benchmark.errors import UnknownNameError

DAWM = "paper: DAWM (arXiv 2509.19538) as the project specification states it"


@dataclass(frozen=True)
class BankConfig:
    rtg: float = field(default=0.7, metadata=source(
        "paper: DWM Table 6.7, the middle of the evaluation-RTG sweep (normalised by the return scale)"))


@dataclass(frozen=True)
class AugmentationConfig:
    synthetic_volume: float = field(default=8.0, metadata=source(DAWM + ": 8x the real data"))
    real_ratio: float = field(default=0.5, metadata=source(
        "ours: DAWM gives no ratio; an even split keeps the real data's weight independent of the synthetic "
        "volume, so DAWM vs DAWM-T isolates the volume"))
    horizon: int = field(default=7, metadata=source(DAWM + ": H=7"))

    def rollouts(self, rows: int) -> int:
        """Rollouts that give `synthetic_volume` x `rows` in transitions (before dropping those past terminals)."""
        return math.ceil(self.synthetic_volume * rows / self.horizon)

    @property
    def draws_synthetic(self) -> bool:
        """Whether batches take synthetic transitions: at `real_ratio` 1 the world model, bank and IDM go unused."""
        return self.real_ratio < 1.0


@dataclass(frozen=True)
class DAWMTAugmentationConfig(AugmentationConfig):
    synthetic_volume: float = field(default=1.0, metadata=source(DAWM + ": DAWM-T uses 1/8 of DAWM's synthetic data"))


@dataclass(frozen=True)
class Method:
    name: str  # as typed on the command line and stored in result files
    label: str  # as the papers' tables print it
    pipeline: str  # model_free | dwm | dawm | one_step | dd (benchmark/run/pipelines.py)
    components: dict[str, type]
    # The code-compatibility version, recorded in every result file: bump it (here, for every method a change
    # touches) whenever a fix changes a method's numbers; reports leave out results of other versions.
    # 2: every network trains with fused Adam (algorithms/optim.py; float rounding differs from torch's loop).
    # 3 (one-step methods): the one-step model stops on its held-out NLL after 5 epochs without a gain.
    # 3 (DAWM methods): DAWM's agents take DWM's RL-stage settings (algorithms/rl_stage.py: batch 128; for IQL a
    #   Gaussian actor, target rate 0.005 and reward normalisation on every task), not CORL's per-task ones.
    # 3 (DD): DWM's re-run preset z-scores its plans like the world model (DD's CDF stays in dd-official).
    # 4 (one-step methods): the one-step model trains its full budget (DWM), no early stopping.
    # 4 (DD): the plan model's update takes 64 windows, DD's code's 32 x 2 micro-batches (was 32: half of it).
    version: int = 2


def _dwm(agent: type) -> dict[str, type]:
    return {"agent": agent, "world_model": DiffusionWorldModelConfig, "bank": BankConfig}


def _dawm(agent: type, augmentation: type = AugmentationConfig) -> dict[str, type]:
    return {**_dwm(agent), "idm": InverseDynamicsConfig, "augmentation": augmentation}


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("td3bc", "TD3+BC", "model_free", {"agent": TD3BCConfig}),
        Method("iql", "IQL", "model_free", {"agent": IQLConfig}),
        Method("dwm-td3bc", "DWM-TD3BC", "dwm", _dwm(MVETD3BCConfig)),
        Method("dwm-iql", "DWM-IQL", "dwm", _dwm(MVEIQLConfig)),
        Method("dawm-td3bc", "DAWM-TD3BC", "dawm", _dawm(RLStageTD3BCConfig), version=3),
        Method("dawm-iql", "DAWM-IQL", "dawm", _dawm(RLStageIQLConfig), version=3),
        Method("dawm-t-td3bc", "DAWM-T-TD3BC", "dawm", _dawm(RLStageTD3BCConfig, DAWMTAugmentationConfig), version=3),
        Method("dawm-t-iql", "DAWM-T-IQL", "dawm", _dawm(RLStageIQLConfig, DAWMTAugmentationConfig), version=3),
        Method("onestep-td3bc", "OneStep-TD3BC", "one_step",
               {"agent": OneStepTD3BCConfig, "world_model": OneStepModelConfig}, version=4),
        Method("onestep-iql", "OneStep-IQL", "one_step", {"agent": OneStepIQLConfig, "world_model": OneStepModelConfig},
               version=4),
        Method("dd", "DD", "dd", {"diffuser": DecisionDiffuserConfig, "idm": DDInverseDynamicsConfig}, version=4),
        Method("dd-official", "DD (official)", "dd", {"diffuser": DDOfficialConfig,
                                                      "idm": DDOfficialInverseDynamicsConfig}),
    )
}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownNameError("method", name, METHODS) from None
