"""The diffusion world model, the IDM, the rollout bank and DAWM's synthetic transitions on tiny data."""

import dataclasses

import numpy as np
import pytest
import torch

from algorithms.inverse_dynamics import InverseDynamics, InverseDynamicsConfig
from algorithms.world_model import DiffusionWorldModel, DiffusionWorldModelConfig
from benchmark.run.artifacts import idm_contexts, window_batches, world_model, world_model_batches
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions
from benchmark.grid.methods import AugmentationConfig
from benchmark.run.model_based import BankRolloutSource, synthetic_transitions
from benchmark.run.rollout_bank import BankSpec, RolloutBank, Rollouts, start_rows

CONFIG = DiffusionWorldModelConfig(width=16)


def episode_data(n: int = 40, obs_dim: int = 11, terminal_every: int = 10) -> Transitions:
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(n, obs_dim)).astype(np.float32)
    observations[:, 0] = 1.25  # a healthy hopper height
    next_observations = np.roll(observations, -1, axis=0)
    terminals = (np.arange(n) % terminal_every) == terminal_every - 1
    return Transitions(observations, rng.uniform(-1, 1, (n, 3)).astype(np.float32),
                       rng.normal(size=n).astype(np.float32), next_observations, terminals, np.zeros(n, bool))


def test_returns_to_go_and_history_by_hand():
    data = Transitions(np.zeros((4, 1), np.float32), np.zeros((4, 1), np.float32),
                       np.array([1.0, 2.0, 3.0, 4.0], np.float32), np.zeros((4, 1), np.float32),
                       np.array([False, True, False, False]), np.array([False, False, False, True]))
    assert data.returns_to_go(0.5).tolist() == [1 + 0.5 * 2, 2, 3 + 0.5 * 4, 4]
    assert data.history_rows(2).tolist() == [[0, 0], [0, 0], [2, 2], [2, 2]]


def test_world_model_samples_the_interface_shapes(tmp_path):
    data = episode_data()
    model, artifact = world_model(data, CONFIG, steps=3, seed=0, device=torch.device("cpu"), cache=tmp_path)
    states, rewards = model.sample(torch.as_tensor(data.observations[:5]), torch.as_tensor(data.actions[:5]),
                                   torch.full((5,), 0.7), horizon=3)
    assert states.shape == (5, 3, 11) and rewards.shape == (5, 3)
    with pytest.raises(ValueError):
        model.sample(torch.as_tensor(data.observations[:5]), torch.as_tensor(data.actions[:5]), torch.zeros(5), 8)
    again, same = world_model(data, CONFIG, steps=3, seed=0, device=torch.device("cpu"), cache=tmp_path)
    assert same.sha256 == artifact.sha256  # cached, not retrained


def test_a_sampler_override_reuses_the_trained_world_model_and_samples_with_its_own_settings(tmp_path):
    from algorithms.diffusion.gaussian import SamplerSettings

    data = episode_data()
    cpu = torch.device("cpu")
    resampled = dataclasses.replace(CONFIG, sampler=SamplerSettings(steps=2, guidance=1.0))
    first, artifact = world_model(data, CONFIG, steps=2, seed=0, device=cpu, cache=tmp_path)
    again, reused = world_model(data, resampled, steps=2, seed=0, device=cpu, cache=tmp_path)
    _, retrained = world_model(data, dataclasses.replace(CONFIG, width=8), steps=2, seed=0, device=cpu, cache=tmp_path)
    assert reused.path == artifact.path and reused.sha256 == artifact.sha256
    assert "sampler" not in artifact.meta["config"] and retrained.path != artifact.path
    assert again.config.sampler == resampled.sampler and first.config.sampler == CONFIG.sampler
    banks = [BankSpec(artifact.sha256, config.sampler, 0.7, 0, data.checksum(), 7, 64) for config in (CONFIG, resampled)]
    assert banks[0].key != banks[1].key  # what a bank holds does depend on the sampler


def _model(data: Transitions, config: DiffusionWorldModelConfig = CONFIG) -> DiffusionWorldModel:
    rows = np.concatenate([data.observations, data.rewards[:, None]], axis=1)
    return DiffusionWorldModel(config, data.obs_dim, data.act_dim, rows)


def test_world_model_batches_take_every_field_from_the_same_rows():
    data = episode_data(n=200)
    model = _model(data)
    (batch,) = world_model_batches(data, CONFIG, torch.device("cpu"), model)(torch.Generator().manual_seed(0))
    rows = [int(np.flatnonzero((data.actions == a.numpy()).all(1))[0]) for a in batch.actions]  # actions are raw
    assert len(set(rows)) > 1
    states, rewards = model._decode(batch.x0)  # the batch holds them normalised
    np.testing.assert_allclose(rewards[:, 0].numpy(), data.rewards[rows], atol=1e-5)  # r_t
    np.testing.assert_allclose(states[:, 0].numpy(), data.observations[rows], atol=1e-5)  # s_t
    np.testing.assert_allclose(states[:, 1].numpy(), data.next_observations[rows], atol=1e-5)  # s_{t+1}
    rtg = data.returns_to_go(CONFIG.rtg_discount)[rows] / CONFIG.rtg_scale
    assert np.allclose(batch.rtg.numpy(), rtg, rtol=1e-6)


@pytest.mark.parametrize("normalizer", ["zscore", "cdf"])
def test_windows_normalised_once_train_exactly_as_per_batch_normalisation(normalizer):
    """Training batches carry x0 encoded once for all windows; a batch's loss is the same, bit for bit."""
    data, config = episode_data(n=200), dataclasses.replace(CONFIG, normalizer=normalizer)
    model = _model(data, config)
    raw = window_batches(data, config, torch.device("cpu"))
    encoded = model.encoded(raw)
    assert encoded.states is None and encoded.rewards is None
    rows = torch.tensor([3, 17, 150, 42])
    assert torch.equal(encoded.select(rows).x0, model._encode(raw.select(rows).states, raw.select(rows).rewards))

    def loss(batch):
        torch.manual_seed(0)
        return model.loss(batch)

    assert torch.equal(loss(encoded.select(rows)), loss(raw.select(rows)))


def test_every_reward_of_the_window_is_modelled_including_the_last(tmp_path):
    """DWM's x = (r_t, s_{t+1}, ..., s_{t+T-1}, r_{t+T-1}): T rewards. The last one used to be neither modelled nor
    inpainted, an unconstrained entry that drifted through the sampler."""
    data = episode_data(n=40, terminal_every=10)
    windows = window_batches(data, CONFIG, torch.device("cpu"))
    assert windows.rewards.shape == (40, 8) and windows.reward_weight.shape == (40, 8)
    assert windows.rewards[0, 7] == data.rewards[7] and windows.reward_weight[0, 7] == 1  # r_{t+7}, same episode
    assert windows.reward_weight[5, 4] == 1 and windows.rewards[5, 5] == 0  # past the terminal at row 9: absorbing
    model, _ = world_model(data, CONFIG, steps=1, seed=0, device=torch.device("cpu"), cache=tmp_path)
    batch = windows.select(torch.arange(8))
    changed = windows.select(torch.arange(8))
    changed.rewards[:, -1] += 5.0

    def loss(b):
        torch.manual_seed(0)
        return model.loss(b).item()

    assert loss(changed) > loss(batch)


def test_bank_is_deterministic_and_reused(tmp_path):
    data = episode_data()
    model, artifact = world_model(data, CONFIG, steps=2, seed=0, device=torch.device("cpu"), cache=tmp_path)
    spec = BankSpec(artifact.sha256, CONFIG.sampler, 0.7, 0, data.checksum(), CONFIG.max_horizon, chunk=16)
    bank = RolloutBank(tmp_path, spec, data)
    bank.ensure(model, 40, torch.device("cpu"))
    generation = bank.generation(40)  # three whole chunks, timed as they were generated
    assert generation["generated"] == 48 and generation["generation_time_s"] > 0
    first = bank.load(40)
    assert first.states.shape == (40, 7, 11) and sorted(first.rows.tolist()) == list(range(40))
    assert first.rows.tolist() != list(range(40)) and first.samples.tolist() == [0] * 40
    stamps = {p: p.stat().st_mtime_ns for p in bank.folder.glob("chunk_*.npz")}
    assert len(stamps) == 3  # ceil(40 / 16)
    bank.ensure(model, 40, torch.device("cpu"))
    assert bank.generation(40) == generation  # reused, not generated again
    assert {p: p.stat().st_mtime_ns for p in bank.folder.glob("chunk_*.npz")} == stamps
    other = RolloutBank(tmp_path / "elsewhere", spec, data)
    other.ensure(model, 40, torch.device("cpu"))
    assert np.array_equal(other.load(40).states, first.states)
    bank.ensure(model, 50, torch.device("cpu"))  # grows by one chunk
    grown_generation = bank.generation(50)
    assert grown_generation["generated"] == 64
    assert grown_generation["generation_time_s"] > generation["generation_time_s"]
    assert len(list(bank.folder.glob("chunk_*.npz"))) == 4
    grown = bank.load(50)
    assert np.array_equal(grown.rows[:40], first.rows) and np.array_equal(grown.states[:40], first.states)
    assert len(set(grown.rows[40:].tolist())) == 10 and grown.samples[40:].tolist() == [1] * 10  # a second pass
    first_step = bank.load(50, horizon=1)  # DAWM at H=1: one step of each rollout, the same values
    assert first_step.states.shape == (50, 1, 11) and first_step.rewards.shape == (50, 1)
    assert np.array_equal(first_step.states, grown.states[:, :1]) and np.array_equal(first_step.rewards,
                                                                                       grown.rewards[:, :1])
    assert np.array_equal(first_step.rows, grown.rows) and np.array_equal(first_step.samples, grown.samples)


def test_start_rows_are_a_uniform_draw_without_replacement():
    """DAWM-T (1x volume, H=7) on data made of two halves (say medium, then expert) starts from both in proportion;
    before, rollout j started at row j mod N, so 1/7 of the rows (all of the first half) were ever used."""
    n_rows = 14_000
    n_rollouts = AugmentationConfig(synthetic_volume=1.0, horizon=7).rollouts(n_rows)  # 2000
    rows, samples = start_rows(seed=3, n_rows=n_rows, rollouts=range(n_rollouts))
    assert len(set(rows.tolist())) == n_rollouts and not samples.any()
    assert abs((rows >= n_rows // 2).mean() - 0.5) < 0.04
    # DAWM (8x): more rollouts than rows wrap into fresh permutations, every row once per pass
    dawm_rollouts = AugmentationConfig(synthetic_volume=8.0, horizon=7).rollouts(n_rows)
    rows, samples = start_rows(seed=3, n_rows=n_rows, rollouts=range(dawm_rollouts))
    assert sorted(rows[:n_rows].tolist()) == list(range(n_rows)) and samples[n_rows:].tolist() == [1] * 2000
    assert len(set(rows[n_rows:].tolist())) == 2000 and not np.array_equal(rows[n_rows:], rows[:2000])
    assert np.array_equal(start_rows(3, n_rows, range(14_100, 14_200))[0], rows[14_100:14_200])  # any chunk alone


def test_inverse_dynamics_likelihood_by_hand():
    idm = InverseDynamics(InverseDynamicsConfig(history=0, hidden=()), obs_dim=1, act_dim=1)
    with torch.no_grad():
        idm.net[0].weight.zero_()
        idm.net[0].bias.copy_(torch.tensor([0.0, 0.0]))  # mean tanh(0) = 0, log-std 0
    nll = idm.nll(torch.zeros(1, 2, 1), torch.tensor([[0.5]]))
    assert nll.item() == pytest.approx(0.5 * np.log(2 * np.pi) + 0.5 * 0.25)


def test_idm_contexts_slide_over_the_sequence():
    states = torch.arange(5.0).view(1, 5, 1)
    contexts = idm_contexts(states, history=1)  # windows of 3
    assert contexts.shape == (1, 3, 3, 1) and contexts[0, :, :, 0].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]


def test_synthetic_transitions_real_first_action_idm_after_and_cut_at_terminals():
    data = episode_data(n=4, terminal_every=100)
    data.terminals[3] = True
    states = np.full((4, 3, 11), 0.0, np.float32)
    states[..., 0] = 1.25
    states[1, 1, 0] = 0.1  # rollout 1 falls at s_{t+2}
    rollouts = Rollouts(np.arange(4), np.zeros(4, np.int64), states, np.ones((4, 3), np.float32))
    idm = InverseDynamics(InverseDynamicsConfig(history=1, hidden=()), 11, 3)
    with torch.no_grad():
        idm.net[0].weight.zero_()
        idm.net[0].bias.fill_(0.5)  # every inferred action is tanh(0.5)
    synthetic = synthetic_transitions(rollouts, data, "hopper", idm, StateNormalizer.identity(11), horizon=3,
                                      volume=10.0, seed=0, device=torch.device("cpu"))
    # rows 0 and 2: 3 steps each; row 1: 2 steps (s_{t+2} terminal); row 3: 1 step (real terminal at t)
    assert synthetic.size == 3 + 2 + 3 + 1
    real_rows = np.isin(synthetic.actions, data.actions).all(1)
    assert real_rows.sum() == 4  # one real a_t per rollout
    assert np.allclose(synthetic.actions[~real_rows], np.tanh(0.5))
    assert synthetic.terminals.sum() == 2  # rollout 1 at its second step, rollout 3 at its first
    assert AugmentationConfig(synthetic_volume=8.0, horizon=7).rollouts(1000) == 1143


def test_bank_source_draws_one_of_the_rows_samples_per_batch():
    data = episode_data(n=6, terminal_every=3)
    rows, samples = start_rows(0, 6, range(12))  # two passes: two samples of every row
    states = np.zeros((12, 2, 11), np.float32)
    states[..., 0] = 1.25  # healthy
    states[:, :, 10] = (10 * rows + samples)[:, None]  # tag each rollout with (row, sample), a healthy value
    rewards = np.ones((12, 2), np.float32)
    source = BankRolloutSource(Rollouts(rows, samples, states, rewards), data, "hopper", StateNormalizer.identity(11),
                               2.0, torch.device("cpu"), torch.Generator().manual_seed(0))
    from algorithms.buffer import ReplayBuffer
    buffer = ReplayBuffer(data.observations, data.actions, data.rewards, data.next_observations, data.terminals, "cpu")
    seen = {}
    for _ in range(50):
        batch = buffer.sample(4, torch.Generator().manual_seed(1))  # the same rows every batch
        rollout = source(batch, 1)
        assert rollout.rewards.shape == (4, 1) and torch.all(rollout.rewards == 2.0)
        assert rollout.alive[:, 1].tolist() == (1 - batch.dones).tolist()
        tags = rollout.states[:, 0, 10].long()
        assert (tags // 10).tolist() == batch.rows.tolist()  # always a rollout of the sampled row
        for row, tag in zip(batch.rows.tolist(), tags.tolist()):
            seen.setdefault(row, set()).add(tag % 10)
    assert all(drawn == {0, 1} for drawn in seen.values())  # both samples of each row get drawn
    with pytest.raises(ValueError):
        BankRolloutSource(Rollouts(rows[:5], samples[:5], states[:5], rewards[:5]), data, "hopper",
                          StateNormalizer.identity(11), 1.0, torch.device("cpu"), torch.Generator())


def test_run_seeds_are_independent_streams_spawned_from_the_run_seed():
    from benchmark.run.seeding import RunSeeds

    seeds = RunSeeds.spawn(3)
    children = np.random.SeedSequence(3).spawn(6)
    assert seeds.init == int(children[0].generate_state(1)[0])
    assert seeds.synthesis == int(children[5].generate_state(1)[0])
    assert len(set(vars(seeds).values())) == 6 and RunSeeds.spawn(3) == seeds and RunSeeds.spawn(4) != seeds
    assert all(0 <= s < 2 ** 32 for s in vars(seeds).values())  # numpy's global seed takes 32 bits


class Killed(BaseException):
    """Stands for SIGKILL or a SLURM time limit in the middle of a training phase."""


@pytest.mark.parametrize("kind", ["world_model", "one_step_model"])
def test_a_killed_training_phase_resumes_to_the_uninterrupted_weights(kind, tmp_path, monkeypatch):
    from benchmark.run import artifacts
    from benchmark.run.resumable import TrainingCheckpoint
    from algorithms.one_step_model import OneStepModelConfig

    data = episode_data(n=200)
    train = {"world_model": lambda cache: artifacts.world_model(data, CONFIG, 40, 0, torch.device("cpu"), cache),
             "one_step_model": lambda cache: artifacts.one_step_model(
                 data, OneStepModelConfig(hidden=(16,), batch_size=8, validate_every=5, patience_epochs=100), 40, 0,
                 torch.device("cpu"), cache)}[kind]
    _, reference = train(tmp_path / "reference")

    save = TrainingCheckpoint.save

    def save_then_die(self, step, *args):
        save(self, step, *args)
        if step == 20:
            raise Killed

    monkeypatch.setattr(TrainingCheckpoint, "save", save_then_die)
    with pytest.raises(Killed):
        train(tmp_path / "cache")
    assert list((tmp_path / "cache").rglob(".*.training.pt"))  # the state of step 20 is on disk
    monkeypatch.setattr(TrainingCheckpoint, "save", save)
    _, resumed = train(tmp_path / "cache")
    assert resumed.sha256 == reference.sha256  # bit for bit the weights of the uninterrupted phase
    if kind == "world_model":
        assert resumed.meta["resumed_at_step"] == 20
    assert not list((tmp_path / "cache").rglob(".*.training.pt"))  # removed once the entry is saved


def test_snapshots_are_the_models_shorter_runs_end_with(tiny_hopper, tmp_path):
    """A budget sweep trains once and keeps snapshots; each equals a run of that budget (same weights)."""
    cpu = torch.device("cpu")
    from benchmark.data import DataSpec, load_dataset
    from benchmark.data.normalization import StateNormalizer
    from benchmark.envs.tasks import parse_task
    from benchmark.grid.hyperparams import resolve
    from benchmark.run.artifacts import inverse_dynamics, one_step_model, snapshot, world_model

    data = load_dataset(parse_task("hopper-tiny"), DataSpec()).transitions
    configs = resolve("dawm-td3bc", "hopper-medium-v2").configs
    one_step_config = dataclasses.replace(resolve("onestep-td3bc", "hopper-medium-v2").configs["world_model"],
                                          validate_every=4, patience_epochs=100)
    normalizer = StateNormalizer.fit(data.observations)
    trainers = {
        "world model": lambda steps, cache, **kw: world_model(data, configs["world_model"], steps, 0, cpu, cache,
                                                              **kw),
        "idm": lambda steps, cache, **kw: inverse_dynamics(data, normalizer, configs["idm"], steps, 0, cpu, cache,
                                                           **kw),
        "one-step": lambda steps, cache, **kw: one_step_model(data, one_step_config, steps, 0, cpu, cache, **kw)}
    for name, train in trainers.items():
        long, artifact = train(12, tmp_path / "sweep", snapshots=(4, 8))
        for steps in (4, 8):
            short, _ = train(steps, tmp_path / f"run-{steps}")
            earlier = snapshot(long, artifact, steps)
            for (key, a), (_, b) in zip(short.state_dict().items(), earlier.state_dict().items()):
                assert torch.equal(a, b), f"{name}: {key} after {steps} steps"
        assert not torch.equal(next(snapshot(long, artifact, 4).parameters()), next(long.parameters()))
