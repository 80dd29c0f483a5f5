"""The one-step Gaussian model: likelihood by hand, rollouts that stop at terminals, MVE with H=1 = TD."""

import math

import pytest
import torch

from algorithms.buffer import Batch
from algorithms.mve import MVETD3BC, OneStepTD3BCConfig
from algorithms.one_step_model import EnsembleLinear, OneStepModel, OneStepModelConfig
from benchmark.data.normalization import StateNormalizer
from benchmark.run.model_based import ModelRolloutSource
from benchmark.envs.termination import is_terminal
from tests.test_algorithms import BATCH, td3bc


def constant_model(delta: float, reward: float, obs_dim: int = 1, act_dim: int = 1, variance_logit: float = 0.0,
                   members: int = 1, **kwargs) -> OneStepModel:
    """Predicts (delta s, r) = (delta, reward) everywhere, with variance softplus(variance_logit)."""
    config = OneStepModelConfig(hidden=(), ensemble_size=members, elites=members, sample=False)
    model = OneStepModel(config, obs_dim, act_dim, (torch.zeros(obs_dim + act_dim), torch.ones(obs_dim + act_dim)),
                         (torch.zeros(obs_dim + 1), torch.ones(obs_dim + 1)), **kwargs)
    with torch.no_grad():
        for net, bias in ((model.mean_net, [delta] * obs_dim + [reward]), (model.variance_net, variance_logit)):
            net[0].weight.zero_()
            net[0].bias.copy_(torch.as_tensor(bias, dtype=torch.float32).expand_as(net[0].bias))
    return model


def test_likelihood_by_hand():
    model = constant_model(0.0, 0.0, variance_logit=math.log(math.e - 1))  # softplus -> variance 1 (+1e-6)
    states, actions = torch.zeros(1, 1, 1), torch.zeros(1, 1, 1)
    nll = model.nll(states, actions, torch.full((1, 1, 1), 2.0), torch.full((1, 1), 1.0))
    # targets (delta 2, reward 1); per dimension 0.5 log(2 pi) + 0.5 log 1 + 0.5 * err^2, averaged
    expected = 0.5 * math.log(2 * math.pi) + 0.5 * (4.0 + 1.0) / 2
    assert nll.item() == pytest.approx(expected, rel=1e-5)


def test_ensemble_runs_all_members_in_one_matmul():
    layer = EnsembleLinear(3, 2, 4)
    x = torch.randn(3, 5, 2)
    out = layer(x)
    assert out.shape == (3, 5, 4)
    assert torch.allclose(out[1], x[1] @ layer.weight[1] + layer.bias[1])


def test_rollouts_stop_at_predicted_terminals():
    obs_dim = 11
    model = constant_model(-0.3, 1.0, obs_dim=obs_dim, act_dim=3, is_terminal=lambda s: is_terminal("hopper", s))
    states = torch.zeros(2, obs_dim)
    states[:, 0] = torch.tensor([1.25, 2.0])  # each step lowers the height (and everything else) by 0.3
    states[:, 1] = torch.tensor([0.25, 0.6])  # the angle: -0.05 then -0.35 for row 0; 0.3 at once for row 1
    future, rewards, alive = model.rollout(states, torch.zeros(2, 3), 4, policy=lambda s: torch.zeros(len(s), 3))
    # row 0 falls at s_{t+2} (height 0.65, angle -0.35); row 1 at s_{t+1} (angle 0.3)
    assert alive.tolist() == [[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]]
    assert rewards.tolist() == [[1, 1, 0, 0], [1, 0, 0, 0]]
    assert torch.equal(future[0, 2], future[0, 1]) and torch.equal(future[0, 3], future[0, 1])  # frozen
    with pytest.raises(ValueError):
        model.rollout(states, torch.zeros(2, 3), 2, policy=None)


def test_one_step_mve_with_h1_equals_the_td_target():
    # BATCH: s' = s, r = [1, 2]; a deterministic model that predicts delta 0 and ... the batch's rewards differ
    # per row, so use a batch with equal rewards for the model to be exact
    batch = Batch(BATCH.observations, BATCH.actions, torch.tensor([1.0, 1.0]), BATCH.next_observations, BATCH.dones)
    source = ModelRolloutSource(constant_model(0.0, 1.0), StateNormalizer.identity(1), 1.0, torch.Generator())
    agent = MVETD3BC(OneStepTD3BCConfig(hidden=(), policy_noise=0.0, horizon=1), 1, 1, "cpu", 10, source)
    reference = td3bc()
    agent.actor_target.load_state_dict(reference.actor_target.state_dict())
    agent.critic_target.load_state_dict(reference.critic_target.state_dict())
    source.policy = agent.act
    assert agent.critic_target_values(batch).tolist() == pytest.approx(
        reference.critic_target_values(batch).tolist())


def test_one_step_model_never_trains_on_its_holdout_and_stops_early(tmp_path, monkeypatch):
    """MOPO/MBPO's protocol: min(20%, 1000) shuffled transitions held out; best weights per member (by held-out
    NLL, the likelihood DWM fits); a stop after `patience_epochs` passes over the training split without a 1% gain."""
    import numpy as np

    from benchmark.run.artifacts import one_step_model
    from tests.test_world_model import episode_data

    data = episode_data(n=300)
    trained_on = []
    update = OneStepModel.update

    def recording_update(self, states, actions, next_states, rewards):
        trained_on.append(states.reshape(-1, states.shape[-1]).clone())
        return update(self, states, actions, next_states, rewards)

    monkeypatch.setattr(OneStepModel, "update", recording_update)
    config = OneStepModelConfig(hidden=(8,), batch_size=16, validate_every=5, patience_epochs=2, lr=1e-3)
    model, artifact = one_step_model(data, config, steps=100_000, seed=0, device=torch.device("cpu"), cache=tmp_path)
    meta = artifact.meta
    assert meta["holdout_transitions"] == 60  # 20% of 300, under the cap of 1000
    holdout = np.random.default_rng(0).permutation(300)[:60]
    seen = torch.cat(trained_on).numpy()
    held_states = data.observations[holdout]
    assert not (seen[:, None, :] == held_states[None]).all(-1).any()  # no hold-out row in any training batch
    assert meta["stopped_early"] and meta["steps"] < 100_000 and len(trained_on) == meta["steps"]
    held = [torch.as_tensor(x[holdout]) for x in (data.observations, data.actions, data.next_observations,
                                                  data.rewards)]
    assert meta["holdout_metric"] == "nll"
    assert model.holdout_error(*held, "nll").tolist() == pytest.approx(meta["holdout_error"])  # best weights kept
    best = [row[2] for row in meta["loss_curve"]]  # [step, training loss, best held-out NLL] per validation
    last_gain = max(step for (step, _, value), before in zip(meta["loss_curve"], [np.inf] + best) if value < before)
    assert meta["steps"] == last_gain + 2 * 15  # 2 epochs of ceil(240 / 16) = 15 steps after the last gain


def test_one_step_model_trains_its_full_budget_by_default(tmp_path):
    """DWM trains its model for a fixed number of iterations: by default nothing stops it early, even where
    MOPO's 5-epoch patience would, and the weights kept are still the best on the hold-out."""
    from benchmark.run.artifacts import one_step_model
    from tests.test_world_model import episode_data

    data, steps = episode_data(n=300), 400
    small = dict(hidden=(8,), batch_size=16, validate_every=5, lr=1e-2)
    patient = OneStepModelConfig(**small, patience_epochs=5)
    _, stopped = one_step_model(data, patient, steps=steps, seed=0, device=torch.device("cpu"), cache=tmp_path)
    assert stopped.meta["stopped_early"] and stopped.meta["steps"] < steps  # MOPO's rule stops this one

    default = OneStepModelConfig(**small)
    assert default.patience_epochs is None
    _, full = one_step_model(data, default, steps=steps, seed=0, device=torch.device("cpu"), cache=tmp_path)
    assert not full.meta["stopped_early"] and full.meta["steps"] == steps
    assert [row[0] for row in full.meta["loss_curve"]] == list(range(5, steps + 1, 5))
    assert full.meta["holdout_error"] == pytest.approx([min(row[2] for row in full.meta["loss_curve"])])


@pytest.mark.parametrize("patience", [0, -1, 2.5, True])
def test_one_step_model_rejects_a_bad_patience(patience):
    with pytest.raises(ValueError, match="patience_epochs"):
        OneStepModelConfig(patience_epochs=patience)
