"""Decision Diffuser: plans start at the observation; one sampler call acts for every environment."""

import numpy as np
import pytest
import torch

from algorithms.decision_diffuser import (DDInverseDynamicsConfig, DDOfficialConfig, DDOfficialInverseDynamicsConfig,
                                          DDPolicy, DecisionDiffuser, DecisionDiffuserConfig)
from algorithms.inverse_dynamics import InverseDynamics
from benchmark.artifacts import StateWindows
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions

CONFIG = DecisionDiffuserConfig(horizon=8, width=16)


def model(config: DecisionDiffuserConfig = CONFIG, obs_dim: int = 11) -> DecisionDiffuser:
    torch.manual_seed(0)
    return DecisionDiffuser(config, obs_dim, torch.zeros(obs_dim), torch.ones(obs_dim)).eval()


def test_first_plan_state_equals_the_observation():
    observations = torch.randn(4, 11) * 3
    plans = model().plan(observations, rtg=0.7, generator=torch.Generator().manual_seed(0))
    assert plans.shape == (4, 8, 11) and torch.equal(plans[:, 0], observations)


def test_policy_acts_for_all_envs_with_one_sampler_call_per_step(monkeypatch):
    dd = model()
    calls = []
    sample = dd.diffusion.sample

    def counting(*args, **kwargs):
        calls.append(len(args[1]))
        return sample(*args, **kwargs)

    monkeypatch.setattr(dd.diffusion, "sample", counting)
    idm = InverseDynamics(DDInverseDynamicsConfig(hidden=(32,)), 11, 3).eval()
    policy = DDPolicy(dd, idm, StateNormalizer.identity(11), torch.Generator().manual_seed(0))
    for _ in range(2):
        actions = policy(torch.randn(5, 11))
    assert calls == [5, 5] and actions.shape == (5, 3) and actions.abs().max() <= 1.0
    assert len(policy.call_seconds) == 2


def test_state_windows_pad_past_the_episode_end():
    n = 6
    observations = np.arange(n, dtype=np.float32)[:, None]
    terminals = np.array([False, False, True, False, False, False])
    timeouts = np.array([False, False, False, False, False, True])
    data = Transitions(observations, np.zeros((n, 1), np.float32), np.zeros(n, np.float32), observations + 0.5,
                       terminals, timeouts)
    states, weight = StateWindows(data, 4, torch.device("cpu")).gather(torch.tensor([1, 4]))
    # row 1: s1, s2, then the terminal's next state 2.5 (known), then its absorbing repeat (known)
    assert states[0, :, 0].tolist() == [1.0, 2.0, 2.5, 2.5] and weight[0].tolist() == [1, 1, 1, 1]
    # row 4: s4, s5, the timeout's next state 5.5 (known), then unknown padding
    assert states[1, :, 0].tolist() == [4.0, 5.0, 5.5, 5.5] and weight[1].tolist() == [1, 1, 1, 0]


@pytest.mark.parametrize("config, idm_config", [(DecisionDiffuserConfig(), DDInverseDynamicsConfig()),
                                                (DDOfficialConfig(), DDOfficialInverseDynamicsConfig())],
                         ids=["dd-dwm", "dd-official"])
def test_action_latency(benchmark, config, idm_config):
    """Seconds per environment step for 10 episodes at once (`--benchmark-enable` to time it)."""
    official = isinstance(config, DDOfficialConfig)
    if official and benchmark.disabled:
        pytest.skip("the official preset's 200-step chain takes minutes per action on one CPU thread: "
                    "run with --benchmark-enable to time it")
    torch.set_num_threads(1)
    dd = model(config, obs_dim=11)
    idm = InverseDynamics(idm_config, 11, 3).eval()
    policy = DDPolicy(dd, idm, StateNormalizer.identity(11), torch.Generator().manual_seed(0))
    observations = torch.randn(10, 11)
    actions = benchmark.pedantic(policy, args=(observations,), rounds=1 if official else 5)
    assert actions.shape == (10, 3)
