"""How each family of methods turns a dataset into an agent and a batch sampler.

- model_free: the agent samples the real data.
- dwm: the agent's critic target runs through the diffusion world model's rollouts (Diffusion-MVE).
- dawm: the same rollouts become synthetic transitions (IDM actions); the agent samples real + synthetic.
- one_step: the same MVE agents as dwm, with a one-step Gaussian model rolled out with the policy.
- dd: no agent; Decision Diffuser plans at every environment step and an IDM acts.
The world models, the rollout bank and the IDMs are cached artefacts shared across methods (artifacts.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from algorithms.buffer import MixedSampler, ReplayBuffer
from algorithms.decision_diffuser import DDPolicy
from algorithms.iql import IQL, IQLConfig
from algorithms.mve import MVEIQL, MVETD3BC, MVEIQLConfig, MVETD3BCConfig, OneStepIQLConfig, OneStepTD3BCConfig
from algorithms.rl_stage import RLStageIQLConfig, RLStageTD3BCConfig
from algorithms.td3_bc import TD3BC, TD3BCConfig
from benchmark.run.artifacts import artifact_summary, decision_diffuser, inverse_dynamics, one_step_model, world_model
from benchmark.data.normalization import StateNormalizer, reward_scale
from benchmark.data.transitions import Transitions
from benchmark.grid.hyperparams import ResolvedConfig
from benchmark.run.model_based import BankRolloutSource, ModelRolloutSource, synthetic_buffer, synthetic_transitions
from benchmark.grid.profiles import Profile
from benchmark.run.rollout_bank import CHUNK_ROLLOUTS, BankSpec, RolloutBank, Rollouts
from benchmark.run.seeding import RunSeeds
from benchmark.envs.termination import is_terminal

TAKEN_AWAY = ("actor", "critic", "value")  # the networks kept next to a result (benchmark/run/evaluate.py loads them)
AGENTS = {TD3BCConfig: TD3BC, IQLConfig: IQL, RLStageTD3BCConfig: TD3BC, RLStageIQLConfig: IQL,
          MVETD3BCConfig: MVETD3BC, MVEIQLConfig: MVEIQL, OneStepTD3BCConfig: MVETD3BC, OneStepIQLConfig: MVEIQL}
Report = Callable[[int, int], None]


@dataclass
class Context:
    env: str
    seeds: RunSeeds
    profile: Profile
    steps: int  # the agent's gradient steps
    resolved: ResolvedConfig
    data: Transitions
    device: torch.device
    cache: Path
    report: Callable[[str], Report | None]  # phase name -> (step, total) callback
    reward_windows: str = "episodes"  # where IQL's reward scale finds returns (normalization.reward_scale)


@dataclass
class Setup:
    act: Callable[[torch.Tensor], torch.Tensor]  # raw observations [E, obs] -> actions [E, act]
    update: Callable[[torch.Generator], dict] | None  # one training step of the agent; None: nothing to train
    normalizer: StateNormalizer
    reward_scale: float = 1.0
    artifacts: dict = field(default_factory=dict)  # provenance of every cached artefact used
    timings: dict = field(default_factory=dict)  # seconds per phase (cache hits are near zero)
    inference: Callable[[], dict] = dict  # extra numbers about acting, for the result file
    state: Callable[[], dict] = dict  # everything training changes, for checkpoints
    load_state: Callable[[dict], None] = lambda state: None
    final_weights: Callable[[], dict] = dict  # the trained networks a user takes away (actor, critics, value)


@dataclass
class AgentData:
    """The real data as every agent reads it: normalised as its config says, in a device buffer."""

    normalizer: StateNormalizer
    reward_scale: float
    buffer: ReplayBuffer


def agent_data(ctx: Context) -> AgentData:
    config, data = ctx.resolved.agent, ctx.data
    normalizer = (StateNormalizer.fit(data.observations) if config.normalize_states
                  else StateNormalizer.identity(data.obs_dim))
    scale = reward_scale(data, ctx.reward_windows) if config.normalize_reward else 1.0
    buffer = ReplayBuffer(normalizer(data.observations), data.actions, data.rewards * scale,
                          normalizer(data.next_observations), data.terminals, ctx.device)
    return AgentData(normalizer, scale, buffer)


def _with_agent(ctx: Context, real: AgentData, sampler, setup: Setup, *agent_args) -> Any:
    """Put the agent the config's type names into `setup`: trained on `sampler`, acting on normalised states."""
    config = ctx.resolved.agent
    agent = AGENTS[type(config)](config, ctx.data.obs_dim, ctx.data.act_dim, ctx.device, ctx.steps, *agent_args)
    setup.act = lambda observations: agent.act(real.normalizer(observations))
    setup.update = lambda generator: agent.update(sampler.sample(config.batch_size, generator))
    setup.normalizer, setup.reward_scale = real.normalizer, real.reward_scale
    setup.state, setup.load_state = agent.state_dict, agent.load_state_dict
    setup.final_weights = lambda: {name: getattr(agent, name).state_dict() for name in TAKEN_AWAY
                                   if hasattr(agent, name)}
    return agent


def _empty_setup(normalizer: StateNormalizer) -> Setup:
    return Setup(act=None, update=None, normalizer=normalizer)


def model_free(ctx: Context) -> Setup:
    real, setup = agent_data(ctx), _empty_setup(None)
    _with_agent(ctx, real, real.buffer, setup)
    return setup


def _timed(setup: Setup, phase: str, work: Callable[[], Any]) -> Any:
    tick = time.perf_counter()
    value = work()
    setup.timings[phase] = time.perf_counter() - tick
    return value


def _rollouts(ctx: Context, n_rollouts: int, setup: Setup, horizon: int | None = None) -> Rollouts:
    """The bank's first n_rollouts (generated where missing), their first `horizon` steps."""
    configs = ctx.resolved.configs
    model, artifact = _timed(setup, "world_model", lambda: world_model(
        ctx.data, configs["world_model"], ctx.profile.world_model_steps, ctx.seeds.artifacts, ctx.device, ctx.cache,
        ctx.report("world model")))
    spec = BankSpec(artifact.sha256, configs["world_model"].sampler, configs["bank"].rtg, ctx.seeds.rollouts,
                    ctx.data.checksum(), configs["world_model"].max_horizon, min(CHUNK_ROLLOUTS, ctx.data.size))
    bank = RolloutBank(ctx.cache, spec, ctx.data)
    _timed(setup, "rollouts", lambda: bank.ensure(model, n_rollouts, ctx.device, ctx.report("rollouts")))
    setup.artifacts["world_model"] = artifact_summary(artifact)
    setup.artifacts["rollout_bank"] = {"key": spec.key, "rollouts": n_rollouts, "rtg": spec.rtg,
                                       **bank.generation(n_rollouts)}
    return bank.load(n_rollouts, horizon)


def dwm(ctx: Context) -> Setup:
    real, setup = agent_data(ctx), _empty_setup(None)
    rollouts = _rollouts(ctx, ctx.profile.bank_samples_per_row * ctx.data.size, setup)
    source = BankRolloutSource(rollouts, ctx.data, ctx.env, real.normalizer, real.reward_scale, ctx.device,
                               torch.Generator(ctx.device).manual_seed(ctx.seeds.draws))
    agent = _with_agent(ctx, real, real.buffer, setup, source)
    _checkpoint_with_draws(setup, agent, source.generator)
    return setup


def _checkpoint_with_draws(setup: Setup, agent: Any, generator: torch.Generator) -> None:
    """Checkpoints hold the rollout-draw generator too, so a resumed run draws what an uninterrupted one would."""
    def load_state(state: dict) -> None:
        agent.load_state_dict(state["agent"])
        generator.set_state(state["rollouts"])

    setup.state = lambda: {"agent": agent.state_dict(), "rollouts": generator.get_state()}
    setup.load_state = load_state


def dawm(ctx: Context) -> Setup:
    configs, real, setup = ctx.resolved.configs, agent_data(ctx), _empty_setup(None)
    augmentation = configs["augmentation"]
    if not augmentation.draws_synthetic:  # the real data alone: the same batches, no model trained for nothing
        _with_agent(ctx, real, real.buffer, setup)
        return setup
    rollouts = _rollouts(ctx, augmentation.rollouts(ctx.data.size), setup, augmentation.horizon)
    idm, artifact = _timed(setup, "inverse_dynamics", lambda: inverse_dynamics(
        ctx.data, real.normalizer, configs["idm"], ctx.profile.idm_steps, ctx.seeds.artifacts, ctx.device, ctx.cache,
        ctx.report("inverse dynamics")))
    setup.artifacts["inverse_dynamics"] = artifact_summary(artifact)
    synthetic = _timed(setup, "synthesis", lambda: synthetic_transitions(
        rollouts, ctx.data, ctx.env, idm, real.normalizer, augmentation.horizon, augmentation.synthetic_volume,
        ctx.seeds.synthesis, ctx.device))
    setup.artifacts["synthetic"] = {"transitions": synthetic.size, "terminals": int(synthetic.terminals.sum()),
                                    "checksum": synthetic.checksum()}
    sampler = MixedSampler(real.buffer, synthetic_buffer(synthetic, real.normalizer, real.reward_scale, ctx.device),
                           augmentation.real_ratio)
    _with_agent(ctx, real, sampler, setup)
    return setup


def one_step(ctx: Context) -> Setup:
    real, setup = agent_data(ctx), _empty_setup(None)
    model, artifact = _timed(setup, "world_model", lambda: one_step_model(
        ctx.data, ctx.resolved.configs["world_model"], ctx.profile.one_step_model_steps, ctx.seeds.artifacts,
        ctx.device, ctx.cache, lambda states: is_terminal(ctx.env, states), ctx.report("world model")))
    setup.artifacts["world_model"] = artifact_summary(artifact)
    source = ModelRolloutSource(model, real.normalizer, real.reward_scale,
                                torch.Generator(ctx.device).manual_seed(ctx.seeds.draws))
    agent = _with_agent(ctx, real, real.buffer, setup, source)
    source.policy = agent.act
    _checkpoint_with_draws(setup, agent, source.generator)
    return setup


def decision_diffuser_policy(ctx: Context) -> Setup:
    configs, data = ctx.resolved.configs, ctx.data
    setup = _empty_setup(None)
    model, artifact = _timed(setup, "diffuser", lambda: decision_diffuser(
        data, configs["diffuser"], ctx.profile.world_model_steps, ctx.seeds.artifacts, ctx.device, ctx.cache,
        ctx.report("diffuser")))
    # the IDM's inputs: z-scored states, or the plan model's own normalised states (the official code)
    normalizer = model.normalizer if configs["idm"].state_inputs == "plan" else StateNormalizer.fit(data.observations)
    setup.normalizer = normalizer
    idm, idm_artifact = _timed(setup, "inverse_dynamics", lambda: inverse_dynamics(
        data, normalizer, configs["idm"], ctx.profile.idm_steps, ctx.seeds.artifacts, ctx.device, ctx.cache,
        ctx.report("inverse dynamics")))
    setup.artifacts |= {"diffuser": artifact_summary(artifact), "inverse_dynamics": artifact_summary(idm_artifact)}
    policy = DDPolicy(model, idm, normalizer, torch.Generator(ctx.device).manual_seed(ctx.seeds.draws))
    setup.act = policy

    def inference() -> dict:
        seconds = np.asarray(policy.call_seconds)
        episodes = ctx.profile.eval_episodes
        return {"policy_calls": len(seconds), "batched_episodes": episodes,
                "seconds_per_step": float(seconds.mean()), "seconds_per_episode": float(seconds.sum() / episodes),
                "note": "one call acts for all evaluation episodes at once; per episode = total / episodes"}

    setup.inference = inference
    return setup


PIPELINES: dict[str, Callable[[Context], Setup]] = {
    "model_free": model_free, "dwm": dwm, "dawm": dawm, "one_step": one_step, "dd": decision_diffuser_policy}
