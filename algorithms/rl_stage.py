"""TD3+BC and IQL as DWM's RL stage sets them (App. D): one setting for every task, shared by DWM, its one-step
baselines and DAWM, so the model-based methods differ from each other only in how world-model samples reach
the agent. The model-free TD3+BC and IQL keep CORL's settings, per-task deviations included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from algorithms.agent import source
from algorithms.iql import IQLConfig
from algorithms.td3_bc import TD3BCConfig

DWM_RL = "paper: DWM App. D (RL stage)"
DAWM_TOO = ("; DAWM's agents too: DAWM names none, and DAWM vs DWM should differ in one component (ours; on our "
            "hopper-medium, quick, seed 0, IQL without a world model ends at 39.2 with CORL's hopper setting and at "
            "72.4, best 92.9, with this one)")


@dataclass(frozen=True)
class RLStageTD3BCConfig(TD3BCConfig):
    batch_size: int = field(default=128, metadata=source(DWM_RL + DAWM_TOO))


@dataclass(frozen=True)
class RLStageIQLConfig(IQLConfig):
    batch_size: int = field(default=128, metadata=source(DWM_RL + DAWM_TOO))
    tau: float = field(default=0.005, metadata=source(DWM_RL + ": EMA w 0.005" + DAWM_TOO))
    deterministic_actor: bool = field(default=False, metadata=source(
        DWM_RL + ": a stochastic (Tanh-Normal) policy, here CORL's Gaussian actor (tanh mean)" + DAWM_TOO))
    normalize_reward: bool = field(default=True, metadata=source(DWM_RL + ": reward normalisation for IQL" +
                                                                 DAWM_TOO))
