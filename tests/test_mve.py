"""Model-based value expansion targets, termination masks and the DWM agents against hand computations."""

import pytest
import torch

from algorithms.buffer import Batch
from algorithms.mve import MVEIQL, MVETD3BC, MVEIQLConfig, MVETD3BCConfig, Rollout, mve_target
from benchmark.envs.termination import alive_mask, is_terminal
from tests.test_algorithms import BATCH, half_actor, set_linear, td3bc


def test_mve_target_by_hand():
    rewards, values = torch.tensor([[1.0, 2.0]]), torch.tensor([[10.0, 20.0]])
    alive = torch.ones(1, 3)
    # G1 = 1 + 0.5 * 10 = 6; G2 = 1 + 0.5 * 2 + 0.25 * 20 = 7
    assert mve_target(rewards, values, alive, 0.5).item() == pytest.approx(7.0)
    assert mve_target(rewards, values, alive, 0.5, lam=0.5).item() == pytest.approx(0.5 * 6 + 0.5 * 7)
    # terminal reached at s_{t+1}: only r_t counts
    assert mve_target(rewards, values, torch.tensor([[1.0, 0.0, 0.0]]), 0.5, lam=0.5).item() == pytest.approx(1.0)


def test_termination_rules():
    hopper = torch.zeros(3, 11)
    hopper[:, 0] = torch.tensor([1.2, 0.6, 1.2])  # height
    hopper[2, 1] = 0.3  # angle
    assert is_terminal("hopper", hopper).tolist() == [False, True, True]
    assert not is_terminal("halfcheetah", torch.zeros(2, 17)).any()
    states = torch.zeros(2, 3, 11)
    states[..., 0] = 1.2
    states[0, 1, 0] = 0.1  # falls at s_{t+2}
    alive = alive_mask("hopper", states, torch.tensor([0.0, 1.0]))  # row 1: real terminal at t
    assert alive.tolist() == [[1, 1, 0, 0], [1, 0, 0, 0]]


class RealNextState:
    """A one-step 'rollout' that is the real transition: MVE with H=1 must equal the one-step TD target."""

    def __call__(self, batch: Batch, horizon: int) -> Rollout:
        assert horizon == 1
        alive = torch.stack([torch.ones_like(batch.dones), 1 - batch.dones], dim=1)
        return Rollout(batch.next_observations[:, None], batch.rewards[:, None], alive)


def test_mve_td3bc_with_one_real_step_equals_td3bc():
    config = MVETD3BCConfig(hidden=(), policy_noise=0.0, horizon=1)
    agent = MVETD3BC(config, 1, 1, "cpu", 10, RealNextState())
    reference = td3bc()
    agent.actor_target.load_state_dict(reference.actor_target.state_dict())
    agent.critic_target.load_state_dict(reference.critic_target.state_dict())
    assert agent.critic_target_values(BATCH).tolist() == pytest.approx([2.98, 2.0])


def test_mve_iql_lambda_return():
    class TwoSteps:
        def __call__(self, batch, horizon):
            return Rollout(torch.zeros(2, 2, 1), torch.tensor([[1.0, 1.0], [1.0, 1.0]]),
                           torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))

    agent = MVEIQL(MVEIQLConfig(hidden=(), horizon=2, lam=0.5, discount=0.5), 1, 1, "cpu", 10, TwoSteps())
    half_actor(agent.actor)
    set_linear(agent.value.net, [0.0], 4.0)  # V = 4
    # row 0: G1 = 1 + 0.5 * 4 = 3, G2 = 1 + 0.5 + 0.25 * 4 = 2.5 -> 2.75; row 1 ends after r_t: 1
    assert agent.q_targets(BATCH).tolist() == pytest.approx([2.75, 1.0])
