"""The two views every method reads the data through: flat transitions and fixed-length segments.

Timeout semantics. ``terminals[i]`` is True when the environment reached a true terminal state after
step i (the hopper fell): no value is bootstrapped from ``next_observations[i]``. ``timeouts[i]`` is
True when the episode was cut after step i for any other reason (the time limit, or the end of the
data): ``next_observations[i]`` is the real next state and targets bootstrap from it. An episode
ends at a terminal or a timeout; the last row always ends one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Transitions:
    observations: np.ndarray  # [N, obs_dim] float32
    actions: np.ndarray  # [N, act_dim] float32
    rewards: np.ndarray  # [N] float32
    next_observations: np.ndarray  # [N, obs_dim] float32
    terminals: np.ndarray  # [N] bool
    timeouts: np.ndarray  # [N] bool

    def __post_init__(self):
        n = len(self.observations)
        if n == 0:
            raise ValueError("a dataset needs at least one transition")
        for name in ("actions", "rewards", "next_observations", "terminals", "timeouts"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, observations {n}")
        if self.next_observations.shape != self.observations.shape:
            raise ValueError("next_observations and observations differ in shape")
        if self.rewards.ndim != 1 or self.terminals.ndim != 1 or self.timeouts.ndim != 1:
            raise ValueError("rewards, terminals and timeouts must be one-dimensional")

    @property
    def size(self) -> int:
        return len(self.observations)

    @property
    def obs_dim(self) -> int:
        return self.observations.shape[1]

    @property
    def act_dim(self) -> int:
        return self.actions.shape[1]

    @property
    def episode_ends(self) -> np.ndarray:
        """[N] bool: step i is the last of its episode."""
        ends = self.terminals | self.timeouts
        ends[-1] = True
        return ends

    def episode_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start (inclusive) and end (exclusive) row of every episode, in order."""
        ends = np.flatnonzero(self.episode_ends) + 1
        starts = np.concatenate([[0], ends[:-1]])
        return starts, ends

    def episode_returns(self) -> np.ndarray:
        starts, _ = self.episode_bounds()
        return np.add.reduceat(self.rewards.astype(np.float64), starts)

    def returns_to_go(self, discount: float, terminal_penalty: float = 0.0) -> np.ndarray:
        """[N] float64: sum_k discount^k r_{t+k} to the end of each row's episode (no bootstrap at timeouts);
        `terminal_penalty` is added to the reward of a true terminal step (Decision Diffuser's labels)."""
        rtg, running = np.empty(self.size), 0.0
        rewards, ends = self.rewards.astype(np.float64) + terminal_penalty * self.terminals, self.episode_ends
        for i in range(self.size - 1, -1, -1):
            running = rewards[i] + (0.0 if ends[i] else discount * running)
            rtg[i] = running
        return rtg

    def history_rows(self, length: int) -> np.ndarray:
        """[N, length] rows t-length..t-1 of each row's episode, oldest first; the episode's first row repeats
        where the history runs past its start."""
        starts, ends = self.episode_bounds()
        first = np.repeat(starts, ends - starts)  # [N]
        rows = np.arange(self.size)[:, None] - np.arange(length, 0, -1)[None]
        return np.maximum(rows, first[:, None])

    def take_episodes(self, episodes: np.ndarray) -> Transitions:
        """The given episodes (indices into episode_bounds()), in that order, each still ending an episode."""
        starts, ends = self.episode_bounds()
        episodes = np.asarray(episodes, dtype=np.int64)
        if len(episodes) == 0:
            raise ValueError("take_episodes needs at least one episode")
        rows = np.concatenate([np.arange(starts[e], ends[e]) for e in episodes])
        fields = {name: getattr(self, name)[rows] for name in ("observations", "actions", "rewards",
                                                                "next_observations", "terminals", "timeouts")}
        last = np.cumsum(ends[episodes] - starts[episodes]) - 1
        fields["timeouts"][last] |= ~fields["terminals"][last]
        return Transitions(**fields)

    def split_episodes(self, held_out_fraction: float, seed: int) -> tuple[Transitions, Transitions]:
        """(train, held out): whole episodes chosen at random (seeded), at least one on each side."""
        n_episodes = len(self.episode_bounds()[0])
        if n_episodes < 2:
            raise ValueError("holding out episodes needs at least two of them")
        order = np.random.default_rng(seed).permutation(n_episodes)
        n_held = min(n_episodes - 1, max(1, round(held_out_fraction * n_episodes)))
        return self.take_episodes(np.sort(order[n_held:])), self.take_episodes(np.sort(order[:n_held]))

    def checksum(self) -> str:
        """sha256 over every array, so a result names exactly the data it was trained on."""
        digest = hashlib.sha256()
        for array in (self.observations, self.actions, self.rewards, self.next_observations,
                      self.terminals, self.timeouts):
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    @staticmethod
    def concatenate(parts: list[Transitions]) -> Transitions:
        """Join datasets; each part's last row ends an episode, so episodes never merge."""
        fields = {}
        for name in ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts"):
            fields[name] = np.concatenate([getattr(p, name) for p in parts])
        offset = 0
        for part in parts:
            offset += part.size
            if not fields["terminals"][offset - 1]:
                fields["timeouts"][offset - 1] = True
        return Transitions(**fields)

    def segments(self, length: int) -> Segments:
        return Segments(self, length)


@dataclass(frozen=True)
class SegmentBatch:
    """Windows s_t .. s_{t+L} with the L actions and rewards between them."""

    observations: np.ndarray  # [B, L + 1, obs_dim]
    actions: np.ndarray  # [B, L, act_dim]
    rewards: np.ndarray  # [B, L]
    real: np.ndarray  # [B, L] bool: transition h (a_h, r_h, s_{h+1}) is in the data
    absorbing: np.ndarray  # [B, L] bool: padding after a true terminal, exact as an absorbing state


class Segments:
    """Windows of ``length`` transitions starting at every row of the data.

    Padding rule: a window may run past the end of its episode. Past the end, states repeat the
    episode's final observation and actions and rewards are zero; ``real`` is False there. After a
    true terminal that padding is the exact absorbing state (``absorbing`` True); after a timeout it
    is unknown, and models should mask it out of their losses.
    """

    def __init__(self, transitions: Transitions, length: int):
        if length < 1:
            raise ValueError(f"segment length must be positive, got {length}")
        self.data, self.length = transitions, length
        starts, ends = transitions.episode_bounds()
        counts = ends - starts
        self._episode_end = np.repeat(ends, counts)  # [N] exclusive end row of each row's episode
        self._episode_terminal = np.repeat(transitions.terminals[ends - 1], counts)  # [N]

    def __len__(self) -> int:
        return self.data.size

    def gather(self, starts: np.ndarray) -> SegmentBatch:
        data, length = self.data, self.length
        starts = np.asarray(starts)
        end = self._episode_end[starts][:, None]  # [B, 1]
        rows = starts[:, None] + np.arange(length)  # [B, L]
        real = rows < end
        rows = np.minimum(rows, end - 1)
        final_obs = data.next_observations[end[:, 0] - 1]  # [B, obs_dim]
        observations = np.empty((len(starts), length + 1, data.obs_dim), dtype=data.observations.dtype)
        observations[:, :length] = np.where(real[..., None], data.observations[rows], final_obs[:, None])
        observations[:, length] = final_obs
        observations[:, 1:][real] = data.next_observations[rows][real]
        actions = np.where(real[..., None], data.actions[rows], 0.0).astype(data.actions.dtype)
        rewards = np.where(real, data.rewards[rows], 0.0).astype(data.rewards.dtype)
        absorbing = ~real & self._episode_terminal[starts][:, None]
        return SegmentBatch(observations, actions, rewards, real, absorbing)
