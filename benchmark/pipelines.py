"""How each family of methods turns a dataset into an agent and a batch sampler.

- model_free: the agent samples the real data.
- dwm: the agent's critic target runs through the diffusion world model's rollouts (Diffusion-MVE).
- dawm: the same rollouts become synthetic transitions (IDM actions); the agent samples real + synthetic.
The world model, the rollout bank and the IDM are cached artefacts shared across methods (artifacts.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from algorithms.buffer import MixedSampler, ReplayBuffer
from algorithms.iql import IQL, IQLConfig
from algorithms.mve import MVEIQL, MVETD3BC, MVEIQLConfig, MVETD3BCConfig
from algorithms.td3_bc import TD3BC, TD3BCConfig
from benchmark.artifacts import inverse_dynamics, world_model
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions
from benchmark.hyperparams import ResolvedConfig
from benchmark.model_based import BankRolloutSource, n_rollouts_for, synthetic_buffer, synthetic_transitions
from benchmark.profiles import Profile
from benchmark.rollout_bank import CHUNK_ROLLOUTS, BankSpec, RolloutBank, Rollouts

AGENTS = {TD3BCConfig: TD3BC, IQLConfig: IQL, MVETD3BCConfig: MVETD3BC, MVEIQLConfig: MVEIQL}
Report = Callable[[int, int], None]


@dataclass
class Context:
    env: str
    seed: int
    profile: Profile
    steps: int  # the agent's gradient steps
    resolved: ResolvedConfig
    data: Transitions
    normalizer: StateNormalizer
    reward_scale: float
    real: ReplayBuffer
    device: torch.device
    cache: Path
    report: Callable[[str], Report]  # phase name -> (step, total) callback


@dataclass
class Setup:
    agent: Any
    sampler: Any  # .sample(batch_size, generator) -> Batch
    artifacts: dict = field(default_factory=dict)  # provenance of every cached artefact used
    timings: dict = field(default_factory=dict)  # seconds per phase (cache hits are near zero)


def model_free(ctx: Context) -> Setup:
    agent_class = AGENTS[type(ctx.resolved.agent)]
    agent = agent_class(ctx.resolved.agent, ctx.data.obs_dim, ctx.data.act_dim, ctx.device, ctx.steps)
    return Setup(agent, ctx.real)


def _rollouts(ctx: Context, n_rollouts: int, setup: Setup) -> Rollouts:
    configs = ctx.resolved.configs
    tick = time.perf_counter()
    model, artifact = world_model(ctx.data, configs["world_model"], ctx.profile.world_model_steps, ctx.seed,
                                  ctx.device, ctx.cache, ctx.report("world model"))
    setup.timings["world_model"] = time.perf_counter() - tick
    spec = BankSpec(artifact.sha256, configs["world_model"].sampler, configs["bank"].rtg, ctx.seed,
                    ctx.data.checksum(), configs["world_model"].max_horizon, min(CHUNK_ROLLOUTS, ctx.data.size))
    bank = RolloutBank(ctx.cache, spec, ctx.data)
    tick = time.perf_counter()
    bank.ensure(model, n_rollouts, ctx.device, ctx.report("rollouts"))
    setup.timings["rollouts"] = time.perf_counter() - tick
    setup.artifacts["world_model"] = {"sha256": artifact.sha256, "key": artifact.meta["key"],
                                      "steps": artifact.meta["steps"], "train_time_s": artifact.meta["train_time_s"],
                                      "final_loss": artifact.meta["loss_curve"][-1][1]}
    setup.artifacts["rollout_bank"] = {"key": spec.key, "rollouts": n_rollouts, "rtg": spec.rtg}
    return bank.load(n_rollouts)


def dwm(ctx: Context) -> Setup:
    setup = Setup(None, ctx.real)
    rollouts = _rollouts(ctx, ctx.data.size, setup)
    source = BankRolloutSource(rollouts, ctx.data, ctx.env, ctx.normalizer, ctx.reward_scale, ctx.device)
    agent_class = AGENTS[type(ctx.resolved.agent)]
    setup.agent = agent_class(ctx.resolved.agent, ctx.data.obs_dim, ctx.data.act_dim, ctx.device, ctx.steps, source)
    return setup


def dawm(ctx: Context) -> Setup:
    configs = ctx.resolved.configs
    augmentation = configs["augmentation"]
    setup = Setup(None, None)
    rollouts = _rollouts(ctx, n_rollouts_for(augmentation.synthetic_volume, ctx.data.size, augmentation.horizon),
                         setup)
    tick = time.perf_counter()
    idm, artifact = inverse_dynamics(ctx.data, ctx.normalizer, configs["idm"], ctx.profile.idm_steps, ctx.seed,
                                     ctx.device, ctx.cache, ctx.report("inverse dynamics"))
    setup.timings["inverse_dynamics"] = time.perf_counter() - tick
    setup.artifacts["inverse_dynamics"] = {"sha256": artifact.sha256, "key": artifact.meta["key"],
                                           "steps": artifact.meta["steps"],
                                           "final_nll": artifact.meta["nll_curve"][-1][1]}
    tick = time.perf_counter()
    synthetic = synthetic_transitions(rollouts, ctx.data, ctx.env, idm, ctx.normalizer, augmentation.horizon,
                                      augmentation.synthetic_volume, ctx.seed, ctx.device)
    setup.timings["synthesis"] = time.perf_counter() - tick
    setup.artifacts["synthetic"] = {"transitions": synthetic.size, "terminals": int(synthetic.terminals.sum()),
                                    "checksum": synthetic.checksum()}
    setup.sampler = MixedSampler(ctx.real, synthetic_buffer(synthetic, ctx.normalizer, ctx.reward_scale, ctx.device),
                                 augmentation.real_ratio)
    agent_class = AGENTS[type(ctx.resolved.agent)]
    setup.agent = agent_class(ctx.resolved.agent, ctx.data.obs_dim, ctx.data.act_dim, ctx.device, ctx.steps)
    return setup


PIPELINES: dict[str, Callable[[Context], Setup]] = {"model_free": model_free, "dwm": dwm, "dawm": dawm}
