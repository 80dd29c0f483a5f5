"""What `python -m ablations.idm_accuracy` measures for one (task, seed, profile).

The diffusion world model, DAWM's IDM and the one-step model are trained (cached artefacts, the profile's
budgets, the methods' own configs) on the dataset minus 5% of its episodes, and measured on those held-out
episodes:
- idm: the IDM's action error on held-out real transitions, and on generated ones by rollout step h against
  the real a_{t+h}. At h = 0 that is the action the rollout was conditioned on, so the reference is exact;
  for h >= 1 it is the behaviour's action on the real trajectory, so the error includes how far the
  generated trajectory drifted from it. Rollouts conditioned on the held-out trajectory's own return-to-go
  ("real RTG") and on DAWM's fixed evaluation RTG (h = 0 only: later real actions belong to another future).
- dynamics: MuJoCo replays each transition from its state with its action; the simulated next state and
  reward are compared with the transition's own. Real (s, a) checks the oracle; real s with the IDM's action
  measures the IDM in state space; generated transitions use DAWM's actions (a_t at h = 0, the IDM after).
- k_step: the world model's state and reward error k steps after t against the held-out trajectory, next to
  the one-step model's, rolled out recursively with the dataset's own actions (the compounding-error curve).
State errors are RMSEs in units of the training data's per-dimension standard deviation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.run.artifacts import (artifact_summary, conditioning_rtg, idm_contexts, inverse_dynamics,
                                 one_step_model, world_model)
from benchmark.data import load_dataset
from algorithms.inverse_dynamics import InverseDynamics
from algorithms.one_step_model import OneStepModel
from algorithms.world_model import DiffusionWorldModel
from benchmark.data.normalization import StateNormalizer
from benchmark.data.sources import DataSpec
from benchmark.data.transitions import SegmentBatch, Transitions
from benchmark.grid.hyperparams import resolve
from benchmark.grid.profiles import get_profile
from benchmark.provenance import environment
from benchmark.run.seeding import RunSeeds
from benchmark.envs.simulator import Simulator
from benchmark.envs.tasks import parse_task
from benchmark.envs.termination import alive_mask, is_terminal

HELD_OUT_FRACTION = 0.05
TOLERANCE = 0.1  # an action "within tolerance": every dimension within 0.1 of the reference (actions in [-1, 1])
DIFFUSION_METHOD, ONE_STEP_METHOD = "dawm-td3bc", "onestep-td3bc"  # whose configs the models take
# Alternatives of the diffusion world model measured side by side: name -> fields over its config.
WORLD_MODEL_VARIANTS = {"": {},  # the default, whatever the hyperparameter table says it is
                        "cdf": {"normalizer": "cdf", "clip_denoised": True, "predict_epsilon": False},
                        "eps": {"normalizer": "zscore", "clip_denoised": False, "predict_epsilon": True},
                        "cdf-eps": {"normalizer": "cdf", "clip_denoised": True, "predict_epsilon": True}}
Report = Callable[[str], Callable[[int, int], None] | None]  # phase -> (step, total) callback


@dataclass(frozen=True)
class AccuracySpec:
    task: str
    seed: int
    profile: str
    data: DataSpec = field(default_factory=DataSpec)
    starts: int = 2048  # held-out rows the rollouts start from
    cache: str = ".cache"
    device: str = "cpu"
    world_model_variant: str = ""  # a key of WORLD_MODEL_VARIANTS

    def path(self, out: Path) -> Path:
        suffix = f"+{self.world_model_variant}" if self.world_model_variant else ""
        return Path(out) / self.profile / self.data.source / self.task / f"seed{self.seed}{suffix}.json"


def action_metrics(mean: torch.Tensor, variance: torch.Tensor, actions: torch.Tensor) -> dict[str, float]:
    """[N, act] IDM means and variances against reference actions: MSE (mean over dims), per-dimension RMSE,
    Gaussian log-likelihood per dimension (constant included) and the fraction within TOLERANCE."""
    error = mean - actions
    metrics = {"mse": (error ** 2).mean().item(),
               "log_likelihood": -F.gaussian_nll_loss(mean, actions, variance, full=True).item(),
               "within_tolerance": (error.abs() <= TOLERANCE).all(-1).float().mean().item()}
    rmse = (error ** 2).mean(0).sqrt()
    return metrics | {f"rmse_dim{i}": value.item() for i, value in enumerate(rmse)}


def state_reward_errors(states: np.ndarray, reference_states: np.ndarray, rewards: np.ndarray,
                        reference_rewards: np.ndarray, normalizer: StateNormalizer) -> dict[str, float]:
    """[N, obs] and [N]: state RMSE in data standard deviations, reward mean absolute error."""
    difference = normalizer(states).astype(np.float64) - normalizer(reference_states)
    return {"state_rmse": float(np.sqrt(np.mean(difference ** 2))),
            "reward_mae": float(np.mean(np.abs(rewards.astype(np.float64) - reference_rewards)))}


class Records(list):
    """Long-form measurements: one dict per (section, series, step, metric). A value that is not finite (a model
    whose samples blew up) is stored as null: strict JSON, shown as missing in reports."""

    def add(self, section: str, series: str, step: int | None, metrics: dict[str, float], count: int) -> None:
        self.extend({"section": section, "series": series, "step": step, "metric": name,
                     "value": value if math.isfinite(value) else None, "count": count}
                    for name, value in metrics.items())


def measure(spec: AccuracySpec, report: Report = lambda phase: None) -> dict:
    """Train (or load) the models and measure them; returns the measurement file's content."""
    started, device = time.perf_counter(), torch.device(spec.device)
    code_and_machine = environment(device)
    task, profile = parse_task(spec.task), get_profile(spec.profile)
    dataset = load_dataset(task, spec.data)
    seeds = RunSeeds.spawn(spec.seed)
    train, held = dataset.transitions.split_episodes(HELD_OUT_FRACTION, spec.seed)
    diffusion, one_step = resolve(DIFFUSION_METHOD, spec.task).configs, resolve(ONE_STEP_METHOD, spec.task).configs
    diffusion["world_model"] = replace(diffusion["world_model"], **WORLD_MODEL_VARIANTS[spec.world_model_variant])
    normalizer = StateNormalizer.fit(train.observations)
    cache = Path(spec.cache)
    wm, wm_artifact = world_model(train, diffusion["world_model"], profile.world_model_steps, seeds.artifacts,
                                  device, cache, report("world model"))
    idm, idm_artifact = inverse_dynamics(train, normalizer, diffusion["idm"], profile.idm_steps, seeds.artifacts,
                                         device, cache, report("inverse dynamics"))
    model, model_artifact = one_step_model(train, one_step["world_model"], profile.one_step_model_steps,
                                           seeds.artifacts, device, cache, lambda s: is_terminal(task.env, s),
                                           report("one-step model"))
    trained_s = time.perf_counter() - started
    records = measure_models(Models(wm, idm, model, normalizer, diffusion["bank"].rtg), held, task.env,
                             dataset.eval_env_id, spec.starts, seeds.draws, device)
    return {
        "schema": 1,
        "run": asdict(spec) | {"held_out_fraction": HELD_OUT_FRACTION, "tolerance": TOLERANCE,
                               "horizon": wm.config.max_horizon, "idm_history": idm.config.history},
        "dataset": {"id": dataset.dataset_id, "source": dataset.source, "checksum": dataset.checksum,
                    "train_transitions": train.size, "held_out_transitions": held.size,
                    "held_out_episodes": int(held.episode_ends.sum())},
        "artifacts": {name: artifact_summary(artifact) for name, artifact in
                      (("world_model", wm_artifact), ("inverse_dynamics", idm_artifact),
                       ("one_step_model", model_artifact))},
        "rtg": {"DAWM RTG": diffusion["bank"].rtg, "real RTG": "each held-out row's own, as in training"},
        "records": records,
        "wall_time_s": {"models": trained_s, "total": time.perf_counter() - started},
        "environment": code_and_machine,
    }


@dataclass(frozen=True)
class Models:
    world_model: DiffusionWorldModel
    idm: InverseDynamics
    one_step: OneStepModel
    normalizer: StateNormalizer  # the IDM's inputs; state errors are in its units
    dawm_rtg: float  # the fixed return-to-go DAWM's rollouts are conditioned on


@dataclass(frozen=True)
class Starts:
    """The real windows after the held-out rows t the rollouts start from, and the rollouts themselves."""

    window: SegmentBatch  # s_t .. s_{t+H} with the H real actions and rewards between them
    history: torch.Tensor  # [B, m + 1, obs]: s_{t-m} .. s_t, the IDM's context before the rollout
    alive: dict[str, torch.Tensor]  # RTG name -> [B, H] bool: generated s_h not past a terminal
    generated: dict[str, tuple[torch.Tensor, torch.Tensor]]  # RTG name -> states [B, H, obs], rewards [B, H]


def _tensor(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)


@torch.no_grad()
def measure_models(models: Models, held: Transitions, env: str, env_id: str, n_starts: int, seed: int,
                   device: torch.device) -> Records:
    """Every measurement of the module docstring, on the held-out episodes `held`."""
    wm, history = models.world_model, models.idm.config.history
    rng, generator = np.random.default_rng(seed), torch.Generator(device).manual_seed(seed)
    rows = np.sort(rng.choice(held.size, min(n_starts, held.size), replace=False))
    window = held.segments(wm.config.max_horizon).gather(rows)
    s_t, a_t = _tensor(window.observations[:, 0], device), _tensor(window.actions[:, 0], device)
    rtg = {"real RTG": _tensor(conditioning_rtg(held, wm.config)[rows], device),
           "DAWM RTG": torch.full((len(rows),), models.dawm_rtg, device=device)}
    generated = {name: wm.sample(s_t, a_t, value, wm.config.max_horizon, generator) for name, value in rtg.items()}
    first_done = torch.as_tensor(held.terminals[rows], device=device)
    starts = Starts(window, _tensor(np.concatenate([held.observations[held.history_rows(history)[rows]],
                                                    held.observations[rows, None]], axis=1), device),
                    {name: alive_mask(env, states, first_done)[:, :-1].bool() for name, (states, _) in
                     generated.items()}, generated)
    records = Records()
    real_mean, dawm_actions = _idm_accuracy(models, held, starts, records, device)
    simulator = Simulator(env_id, env)
    try:
        _dynamics_consistency(models, held, starts, real_mean, dawm_actions, simulator, rng, n_starts, records)
    finally:
        simulator.close()
    _k_step_errors(models, starts, generator, records, device)
    return records


def _idm_accuracy(models: Models, held: Transitions, starts: Starts, records: Records, device: torch.device,
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Returns the IDM's actions on every held-out row [N, act] and DAWM's actions per rollout [B, H, act]."""
    idm, normalizer, history = models.idm, models.normalizer, models.idm.config.history
    contexts = np.concatenate([held.observations[held.history_rows(history)], held.observations[:, None],
                               held.next_observations[:, None]], axis=1)  # [N, m + 2, obs]
    real_mean, real_variance = idm(_tensor(normalizer(contexts), device))
    records.add("idm", "real (held out)", None,
                action_metrics(real_mean, real_variance, _tensor(held.actions, device)), held.size)
    real = torch.as_tensor(starts.window.real, device=device)  # [B, H]: transition h is in the data
    reference = _tensor(starts.window.actions, device)  # [B, H, act]
    dawm_actions = {}
    for name, (states, _) in starts.generated.items():
        contexts = idm_contexts(normalizer(torch.cat([starts.history, states], dim=1)), history)  # [B, H, m+2, obs]
        mean, variance = (x.view(*contexts.shape[:2], -1) for x in idm(contexts.flatten(0, 1)))
        dawm_actions[name] = torch.cat([reference[:, :1], mean[:, 1:]], dim=1)  # a_t, then the IDM's
        for h in range(contexts.shape[1] if name == "real RTG" else 1):
            keep = real[:, h] & starts.alive[name][:, h]
            records.add("idm", f"generated, {name}", h,
                        action_metrics(mean[keep, h], variance[keep, h], reference[keep, h]), int(keep.sum()))
    return real_mean, dawm_actions


def _dynamics_consistency(models: Models, held: Transitions, starts: Starts, real_mean: torch.Tensor,
                          dawm_actions: dict[str, torch.Tensor], simulator: Simulator, rng: np.random.Generator,
                          n_rows: int, records: Records) -> None:
    rows = np.sort(rng.choice(held.size, min(n_rows, held.size), replace=False))
    observations = held.observations[rows]
    ok = simulator.restorable(observations)
    for series, actions in (("real (s, a)", held.actions[rows]), ("real s, IDM action", real_mean.cpu().numpy()[rows])):
        next_states, rewards = simulator.step(observations[ok], actions[ok])
        records.add("dynamics", series, None, state_reward_errors(
            next_states, held.next_observations[rows][ok], rewards, held.rewards[rows][ok], models.normalizer)
            | {"restorable": float(ok.mean())}, int(ok.sum()))
    s_t = starts.window.observations[:, :1]
    for name, (states, rewards) in starts.generated.items():
        states, rewards = states.cpu().numpy(), rewards.cpu().numpy()
        before = np.concatenate([s_t, states[:, :-1]], axis=1)  # s_h, h = 0..H-1
        alive, actions = starts.alive[name].cpu().numpy(), dawm_actions[name].cpu().numpy()
        for h in range(states.shape[1]):
            ok = simulator.restorable(before[:, h])
            keep = alive[:, h] & ok
            if not keep.any():
                continue
            next_states, sim_rewards = simulator.step(before[keep, h], actions[keep, h])
            records.add("dynamics", f"generated, {name}", h, state_reward_errors(
                next_states, states[keep, h], sim_rewards, rewards[keep, h], models.normalizer)
                | {"restorable": float(ok[alive[:, h]].mean())}, int(keep.sum()))


def _k_step_errors(models: Models, starts: Starts, generator: torch.Generator, records: Records,
                   device: torch.device) -> None:
    window = starts.window
    current, one_step_states, one_step_rewards = _tensor(window.observations[:, 0], device), [], []
    for h in range(window.actions.shape[1]):  # the dataset's own actions, recursively
        current, reward = models.one_step.step_once(current, _tensor(window.actions[:, h], device), generator)
        one_step_states.append(current)
        one_step_rewards.append(reward)
    predictions = {"diffusion world model": starts.generated["real RTG"],
                   "one-step model": (torch.stack(one_step_states, 1), torch.stack(one_step_rewards, 1))}
    for series, (states, rewards) in predictions.items():
        states, rewards = states.cpu().numpy(), rewards.cpu().numpy()
        for k in range(1, states.shape[1] + 1):
            keep = window.real[:, k - 1]
            records.add("k_step", series, k, state_reward_errors(
                states[keep, k - 1], window.observations[keep, k], rewards[keep, k - 1], window.rewards[keep, k - 1],
                models.normalizer), int(keep.sum()))
