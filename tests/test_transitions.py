"""Flat and segment views against a hand-made dataset of three episodes.

Observations are one-dimensional and encode (episode, step) as 10 * episode + step, so every
expected value below can be read off by hand.
  episode 1: s=10,11,12 -> final 13, ends in a true terminal
  episode 2: s=20,21 -> final 22, cut by the time limit
  episode 3: s=30,31 -> final 32, cut by the end of the data (neither flag set)
"""

import numpy as np
import pytest

from benchmark.data.transitions import Transitions


@pytest.fixture
def data():
    obs = np.array([10, 11, 12, 20, 21, 30, 31], dtype=np.float32)[:, None]
    next_obs = np.array([11, 12, 13, 21, 22, 31, 32], dtype=np.float32)[:, None]
    return Transitions(
        observations=obs, actions=obs / 100, rewards=np.array([1, 2, 3, 4, 5, 6, 7], dtype=np.float32),
        next_observations=next_obs,
        terminals=np.array([0, 0, 1, 0, 0, 0, 0], dtype=bool),
        timeouts=np.array([0, 0, 0, 0, 1, 0, 0], dtype=bool))


def test_episodes(data):
    starts, ends = data.episode_bounds()
    assert starts.tolist() == [0, 3, 5] and ends.tolist() == [3, 5, 7]
    assert data.episode_returns().tolist() == [6, 9, 13]
    assert data.episode_ends.tolist() == [0, 0, 1, 0, 1, 0, 1]


def test_segment_inside_an_episode(data):
    batch = data.segments(2).gather(np.array([0]))
    assert batch.observations[0, :, 0].tolist() == [10, 11, 12]
    assert batch.rewards[0].tolist() == [1, 2]
    assert batch.real[0].tolist() == [True, True] and not batch.absorbing.any()


def test_segment_past_a_terminal_is_absorbing(data):
    batch = data.segments(3).gather(np.array([1]))
    assert batch.observations[0, :, 0].tolist() == [11, 12, 13, 13]
    assert batch.actions[0, :, 0].tolist() == pytest.approx([0.11, 0.12, 0.0])
    assert batch.rewards[0].tolist() == [2, 3, 0]
    assert batch.real[0].tolist() == [True, True, False]
    assert batch.absorbing[0].tolist() == [False, False, True]


def test_segment_past_a_timeout_is_padding_not_absorbing(data):
    batch = data.segments(3).gather(np.array([4, 6]))
    assert batch.observations[0, :, 0].tolist() == [21, 22, 22, 22]
    assert batch.observations[1, :, 0].tolist() == [31, 32, 32, 32]
    assert batch.real.tolist() == [[True, False, False], [True, False, False]]
    assert not batch.absorbing.any()


def test_concatenate_never_merges_episodes(data):
    joined = Transitions.concatenate([data, data])
    assert joined.size == 14
    assert joined.episode_bounds()[0].tolist() == [0, 3, 5, 7, 10, 12]
    assert joined.timeouts[6] and not data.timeouts[6]


def test_checksum_names_the_content(data):
    same = Transitions(**{k: getattr(data, k).copy() for k in data.__dataclass_fields__})
    assert same.checksum() == data.checksum()
    changed = Transitions(**{**{k: getattr(data, k) for k in data.__dataclass_fields__},
                             "rewards": data.rewards + 1})
    assert changed.checksum() != data.checksum()
