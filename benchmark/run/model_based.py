"""Where MVE agents get their rollouts (the bank for DWM, the one-step model for its baselines), and DAWM's
synthetic transitions from the bank."""

from __future__ import annotations

import numpy as np
import torch

from algorithms.buffer import Batch, ReplayBuffer
from algorithms.inverse_dynamics import InverseDynamics
from algorithms.mve import Rollout
from algorithms.one_step_model import OneStepModel
from benchmark.run.artifacts import idm_contexts
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions
from benchmark.run.rollout_bank import Rollouts
from benchmark.envs.termination import alive_mask

SYNTHESIS_BATCH = 65_536


class BankRolloutSource:
    """Diffusion-MVE's rollouts: for each sampled dataset row, one of the bank's S rollouts of that row, drawn
    afresh for every batch.

    DWM samples a new rollout per critic batch; drawing among S stored samples per row keeps the model's noise
    in the targets (each stored sample is reused about batches x batch size / (S N) times instead of S times
    that with one sample per row).
    """

    def __init__(self, rollouts: Rollouts, data: Transitions, env: str, normalizer: StateNormalizer,
                 reward_scale: float, device: torch.device, generator: torch.Generator):
        self.samples_per_row = int(rollouts.samples.max()) + 1
        if len(rollouts.rows) != self.samples_per_row * data.size:
            raise ValueError("Diffusion-MVE needs whole passes of the bank: every dataset row the same number of times")
        index = np.full((self.samples_per_row, data.size), -1, dtype=np.int64)
        index[rollouts.samples, rollouts.rows] = np.arange(len(rollouts.rows))
        self.index = torch.as_tensor(index, device=device)  # [S, N] -> rollout
        states = torch.as_tensor(rollouts.states, device=device)  # [S N, H, obs] raw
        terminals = torch.as_tensor(data.terminals[rollouts.rows], device=device)
        self.alive = alive_mask(env, states, terminals)  # [S N, H + 1]
        self.states = normalizer(states)
        self.rewards = torch.as_tensor(rollouts.rewards, device=device) * reward_scale
        self.generator = generator

    def __call__(self, batch: Batch, horizon: int) -> Rollout:
        sample = torch.randint(0, self.samples_per_row, batch.rows.shape, device=batch.rows.device,
                               generator=self.generator)
        chosen = self.index[sample, batch.rows]  # [B]
        return Rollout(self.states[chosen, :horizon], self.rewards[chosen, :horizon],
                       self.alive[chosen, : horizon + 1])


class ModelRolloutSource:
    """Standard MVE: the one-step model rolled out from (s_t, a_t) with the agent's current policy, every batch.

    `policy` (normalised states -> actions) is set once the agent exists. A real terminal at t ends the
    rollout after its first step, as for the bank's rollouts.
    """

    def __init__(self, model: OneStepModel, normalizer: StateNormalizer, reward_scale: float,
                 generator: torch.Generator):
        self.model, self.normalizer, self.reward_scale, self.generator = model, normalizer, reward_scale, generator
        self.policy = None

    def __call__(self, batch: Batch, horizon: int) -> Rollout:
        states, rewards, alive = self.model.rollout(
            self.normalizer.invert(batch.observations), batch.actions, horizon,
            lambda raw: self.policy(self.normalizer(raw)), self.generator)
        alive[:, 1:] *= (1.0 - batch.dones)[:, None]
        return Rollout(self.normalizer(states), rewards * self.reward_scale, alive)


@torch.no_grad()
def synthetic_transitions(rollouts: Rollouts, data: Transitions, env: str, idm: InverseDynamics,
                          normalizer: StateNormalizer, horizon: int, volume: float, seed: int,
                          device: torch.device) -> Transitions:
    """Every rollout step h < H as (s_h, a_h, r_h, s_{h+1}): s_0 and a_0 are the real s_t and a_t the rollout was
    conditioned on, a_h for h >= 1 is the IDM's mean on (s_{h-m..h-1}, s_h, s_{h+1}) with real states before
    s_t as history. A step whose s_h is past a terminal is dropped; then volume x N transitions are kept,
    chosen at random (seeded) where there are more."""
    m = idm.config.history
    parts = []
    for start in range(0, len(rollouts.rows), SYNTHESIS_BATCH):
        rows = rollouts.rows[start: start + SYNTHESIS_BATCH]
        states = torch.as_tensor(rollouts.states[start: start + SYNTHESIS_BATCH, :horizon], device=device)
        rewards = torch.as_tensor(rollouts.rewards[start: start + SYNTHESIS_BATCH, :horizon], device=device)
        history = data.observations[data.history_rows(m)[rows]] if m else np.zeros((len(rows), 0, data.obs_dim))
        first = torch.as_tensor(np.concatenate([history, data.observations[rows, None]], axis=1),
                                dtype=torch.float32, device=device)  # [B, m + 1, obs]
        sequence = torch.cat([first, states], dim=1)  # [B, m + 1 + H, obs]: ..., s_t, s_{t+1}, ..., s_{t+H}
        inferred = idm.infer(idm_contexts(normalizer(sequence), m).flatten(0, 1)).view(len(rows), -1, data.act_dim)
        actions = torch.cat([torch.as_tensor(data.actions[rows, None], device=device), inferred[:, 1:horizon]], 1)
        alive = alive_mask(env, states, torch.as_tensor(data.terminals[rows], device=device))  # [B, H + 1]
        keep = alive[:, :horizon].bool()  # s_h not past a terminal
        parts.append({
            "observations": sequence[:, m: m + horizon][keep], "actions": actions[keep], "rewards": rewards[keep],
            "next_observations": states[keep], "terminals": (alive[:, 1:] == 0)[keep],
        })
    fields = {name: torch.cat([p[name] for p in parts]).cpu().numpy() for name in parts[0]}
    total, wanted = len(fields["rewards"]), int(round(volume * data.size))
    chosen = np.sort(np.random.default_rng(seed).permutation(total)[:wanted])
    fields = {name: value[chosen] for name, value in fields.items()}
    return Transitions(**fields, timeouts=~fields["terminals"])


def synthetic_buffer(transitions: Transitions, normalizer: StateNormalizer, reward_scale: float,
                     device: torch.device) -> ReplayBuffer:
    return ReplayBuffer(normalizer(transitions.observations), transitions.actions,
                        transitions.rewards * reward_scale, normalizer(transitions.next_observations),
                        transitions.terminals, device)
