import time

import h5py
import numpy as np
import pytest

from benchmark.data import DataSpec, load_dataset
from benchmark.data.d4rl_hdf5 import Hdf5FormatError, read_d4rl_hdf5
from benchmark.data.minari_io import write_dataset
from benchmark.data.tiny import collect_random_episodes
from benchmark.errors import DatasetNotFoundError, UnknownNameError, UsageError
from benchmark.envs.tasks import ENVS, parse_task


def test_tiny_local_dataset_is_minari_with_d4rl_scores(tiny_hopper):
    import minari

    ds = minari.load_dataset(tiny_hopper)
    assert ds.total_steps == 5000
    assert ds.storage.metadata["ref_max_score"] == pytest.approx(3234.3)
    assert ds.storage.metadata["ref_min_score"] == pytest.approx(-20.272305)
    loaded = load_dataset(parse_task("hopper-tiny"), DataSpec("local"))
    assert loaded.transitions.size == 5000 and loaded.transitions.observations.dtype == np.float32
    assert loaded.eval_env_id == "Hopper-v5" and len(loaded.checksum) == 64
    # next_observations chain inside episodes
    t = loaded.transitions
    inside = ~t.episode_ends[:-1]
    np.testing.assert_array_equal(t.next_observations[:-1][inside], t.observations[1:][inside])


def _fake_minari_release(name: str, seed: int) -> None:
    info = ENVS["hopper"]
    write_dataset(f"mujoco/hopper/{name}-v0", collect_random_episodes("hopper", 300, seed), info.gym_id,
                  ref_min_score=info.ref_min_score, ref_max_score=info.ref_max_score,
                  algorithm_name="random", description="test stand-in for a Minari release")


def test_minari_medium_expert_is_medium_plus_expert(minari_root):
    _fake_minari_release("medium", 1)
    _fake_minari_release("expert", 2)
    medium = load_dataset(parse_task("hopper-medium-v2"), DataSpec("minari"))
    combined = load_dataset(parse_task("hopper-medium-expert-v2"), DataSpec("minari"))
    assert combined.dataset_id == "mujoco/hopper/medium-v0+mujoco/hopper/expert-v0"
    assert combined.transitions.size == 600
    np.testing.assert_array_equal(combined.transitions.observations[:300], medium.transitions.observations)


def test_minari_has_no_medium_replay():
    with pytest.raises(UsageError, match="no medium-replay"):
        load_dataset(parse_task("walker2d-medium-replay-v2"), DataSpec("minari"))


def test_missing_minari_dataset_names_three_ways():
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(parse_task("walker2d-medium-v2"), DataSpec("minari"))
    text = str(error.value)
    assert "--download" in text and "--source local" in text and "--source d4rl-hdf5" in text


def test_offline_download_fails_fast_with_one_message():
    started = time.monotonic()
    with pytest.raises(DatasetNotFoundError, match="HF_HUB_OFFLINE"):
        load_dataset(parse_task("walker2d-expert-v2"), DataSpec("minari", download=True))
    assert time.monotonic() - started < 5


def test_missing_local_dataset_names_three_ways(tmp_path, monkeypatch):
    monkeypatch.setattr("benchmark.data.recipe.BEHAVIOUR_DIR", tmp_path)
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(parse_task("halfcheetah-medium-v2"), DataSpec("local"))
    assert "local/halfcheetah/medium-v1" in str(error.value) and "halfcheetah_medium-v2.hdf5" in str(error.value)


def test_unknown_source():
    with pytest.raises(UnknownNameError, match="d4rl-hdf5"):
        DataSpec("d4rl")


def _write_hdf5(path, n=6, obs_dim=11, act_dim=3, next_obs=True, **override):
    obs = np.arange(n * obs_dim, dtype=np.float64).reshape(n, obs_dim)
    arrays = {"observations": obs, "actions": np.zeros((n, act_dim)), "rewards": np.arange(n, dtype=np.float64),
              "terminals": np.array([0, 1, 0, 0, 0, 0][:n]), "timeouts": np.array([0, 0, 0, 1, 0, 0][:n])}
    if next_obs:
        arrays["next_observations"] = obs + 0.5
    arrays.update(override)
    with h5py.File(path, "w") as file:
        for key, value in arrays.items():
            if value is not None:
                file[key] = value
    return path


def test_hdf5_rows_and_statistics_equal_corls(tmp_path, monkeypatch):
    """CORL trains on d4rl.qlearning_dataset: timeout rows and the file's last row dropped, s' = the next row."""
    from benchmark.data.normalization import StateNormalizer, reward_scale

    n = 13
    terminals, timeouts = np.zeros(n), np.zeros(n)
    terminals[2], timeouts[[6, 9]] = 1, 1
    path = _write_hdf5(tmp_path / "a.hdf5", n=n, rewards=np.arange(1.0, n + 1), terminals=terminals, timeouts=timeouts)
    t = read_d4rl_hdf5(path, 11, 3)
    kept = [0, 1, 2, 3, 4, 5, 7, 8, 10, 11]
    obs = np.arange(n * 11, dtype=np.float64).reshape(n, 11)
    assert t.rewards.tolist() == [r + 1 for r in kept]
    assert t.terminals.tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert t.timeouts.tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 0, 1]  # rows 5, 8 and 11 end where a row was dropped
    np.testing.assert_array_equal(t.next_observations[[0, 3, 5, 9]], obs[[1, 4, 6, 12]])  # the next row
    np.testing.assert_array_equal(t.next_observations[2], obs[2] + 0.5)  # a terminal's own s' from the file
    normalizer = StateNormalizer.fit(t.observations)  # CORL's compute_mean_std on the same rows
    np.testing.assert_allclose(normalizer.mean, obs[kept].mean(0), rtol=1e-6)
    np.testing.assert_allclose(normalizer.std, obs[kept].std(0) + 1e-3, rtol=1e-6)

    # CORL's return_reward_range with max_episode_steps = 3 on rewards 1 2 3 | 4 5 6 | 8 9 11 | 12: windows end at
    # the terminal (row 2) or every 3 kept rows, the trailing unterminated one (12) is ignored: 6, 15, 28
    monkeypatch.setattr("benchmark.data.normalization.MAX_EPISODE_STEPS", 3)
    assert reward_scale(t, "corl") == pytest.approx(3 / (28 - 6))
    # true episodes: [0 1 2] terminal, [3 4 5] at the time limit, [7 8] and [10 11] cut: returns 6 and 15
    assert reward_scale(t, "episodes") == pytest.approx(3 / (15 - 6))


def test_hdf5_without_next_observations_drops_timeout_rows(tmp_path):
    # rows: 0, 1 (terminal), 2, 3 (timeout: dropped), 4, 5 (last row: no next state, dropped)
    t = read_d4rl_hdf5(_write_hdf5(tmp_path / "b.hdf5", next_obs=False), 11, 3)
    assert t.rewards.tolist() == [0, 1, 2, 4]
    assert t.terminals.tolist() == [0, 1, 0, 0]
    assert t.timeouts.tolist() == [0, 0, 1, 1]  # row 2 now ends its episode
    assert t.next_observations[2, 0] == 33  # observation of row 3


def test_hdf5_missing_key_is_named(tmp_path):
    path = _write_hdf5(tmp_path / "c.hdf5", timeouts=None)
    with pytest.raises(Hdf5FormatError, match=r"missing key 'timeouts' \(expected an array of shape \[6\]\)"):
        read_d4rl_hdf5(path, 11, 3)


def test_hdf5_wrong_shape_is_named(tmp_path):
    path = _write_hdf5(tmp_path / "d.hdf5", actions=np.zeros((6, 4)))
    with pytest.raises(Hdf5FormatError, match=r"'actions' has shape \[6, 4\], expected \[6, 3\]"):
        read_d4rl_hdf5(path, 11, 3)


def test_d4rl_source_reads_the_d4rl_file_name(tmp_path):
    _write_hdf5(tmp_path / "hopper_medium_replay-v2.hdf5")
    loaded = load_dataset(parse_task("hopper-medium-replay-v2"), DataSpec("d4rl-hdf5", hdf5_dir=str(tmp_path)))
    assert loaded.dataset_id == "d4rl/hopper_medium_replay-v2.hdf5" and loaded.eval_env_id == "Hopper-v4"
