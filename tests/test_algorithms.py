"""TD3+BC and IQL losses and targets against values computed by hand.

The networks are made linear (no hidden layers) with chosen weights so every number is checkable:
actors output tanh(atanh(0.5)) = 0.5 everywhere; critics are Q(s, a) = w_s * s + w_a * a + b.
"""

import copy
import math

import pytest
import torch

from algorithms.buffer import Batch, MixedSampler, ReplayBuffer
from algorithms.iql import IQL, IQLConfig, expectile_loss
from algorithms.td3_bc import TD3BC, TD3BCConfig
from benchmark.grid.hyperparams import resolve


def set_linear(sequential: torch.nn.Sequential, weight: list[float], bias: float) -> None:
    with torch.no_grad():
        sequential[0].weight.copy_(torch.tensor([weight]))
        sequential[0].bias.fill_(bias)


def half_actor(actor) -> None:
    set_linear(actor.net, [0.0], math.atanh(0.5))


BATCH = Batch(observations=torch.tensor([[1.0], [3.0]]), actions=torch.tensor([[0.0], [1.0]]),
              rewards=torch.tensor([1.0, 2.0]), next_observations=torch.tensor([[1.0], [3.0]]),
              dones=torch.tensor([0.0, 1.0]))


def td3bc() -> TD3BC:
    agent = TD3BC(TD3BCConfig(hidden=(), policy_noise=0.0), 1, 1, "cpu", total_steps=10)
    for actor in (agent.actor, agent.actor_target):
        half_actor(actor)
    for critic in (agent.critic, agent.critic_target):
        set_linear(critic.q1, [1.0, 2.0], 0.0)  # Q1 = s + 2a
        set_linear(critic.q2, [1.0, 0.0], 1.0)  # Q2 = s + 1
    return agent


def test_td3bc_critic_target():
    # row 0: min(1 + 2*0.5, 1 + 1) = 2 -> 1 + 0.99 * 2 = 2.98; row 1 is terminal -> 2
    assert td3bc().critic_target_values(BATCH).tolist() == pytest.approx([2.98, 2.0])


def test_td3bc_target_noise_is_clipped_and_actions_bounded():
    agent = TD3BC(TD3BCConfig(hidden=(), policy_noise=10.0, noise_clip=0.5), 1, 1, "cpu", total_steps=10)
    half_actor(agent.actor_target)
    set_linear(agent.critic_target.q1, [0.0, 1.0], 0.0)  # Q = a, so the target reveals the action
    set_linear(agent.critic_target.q2, [0.0, 1.0], 0.0)
    batch = Batch(torch.zeros(4096, 1), torch.zeros(4096, 1), torch.zeros(4096), torch.zeros(4096, 1),
                  torch.zeros(4096))
    actions = agent.critic_target_values(batch) / 0.99
    assert actions.min() >= 0.0 - 1e-6 and actions.max() <= 1.0 + 1e-6  # 0.5 +- 0.5, clamped to [-1, 1]
    assert (actions < 0.01).any() and (actions > 0.99).any()


def test_td3bc_actor_loss():
    # pi = 0.5; Q1(s, pi) = s + 1 = [2, 4]; lambda = 2.5 / 3; -lambda * 3 + mean([0.25, 0.25]) = -2.25
    loss, lmbda = td3bc().actor_loss(BATCH)
    assert lmbda.item() == pytest.approx(2.5 / 3)
    assert loss.item() == pytest.approx(-2.25)


def test_td3bc_updates_the_actor_every_second_step():
    agent = td3bc()
    actor_before = agent.actor.net[0].bias.clone()
    agent.update(BATCH)
    assert torch.equal(agent.actor.net[0].bias, actor_before)
    agent.update(BATCH)
    assert not torch.equal(agent.actor.net[0].bias, actor_before)


def test_td3bc_training_follows_corls_update_step_for_step():
    """300 updates on random batches against CORL's td3_bc.py update written out here from its equations (two
    critics with their own Adam, target smoothing noise clipped, actor and targets every second step); the
    same noise is fed to both. Agreement to float rounding rules out a fault in the agent."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    agent = TD3BC(TD3BCConfig(hidden=(32, 32)), 5, 3, "cpu", total_steps=300)
    agent.actor_optimizer = torch.optim.Adam(agent.actor.parameters(), lr=3e-4)  # CORL's plain Adam
    agent.critic_optimizer = torch.optim.Adam(agent.critic.parameters(), lr=3e-4)
    actor, q1, q2 = (copy.deepcopy(m) for m in (agent.actor.net, agent.critic.q1, agent.critic.q2))
    targets = [copy.deepcopy(m) for m in (actor, q1, q2)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=3e-4) for m in (actor, q1, q2)]
    generator, noise = torch.Generator().manual_seed(1), []
    agent._noise = lambda like: noise[-1]
    for step in range(1, 301):
        s, s2 = torch.randn(64, 5, generator=generator), torch.randn(64, 5, generator=generator)
        a = torch.rand(64, 3, generator=generator) * 2 - 1
        r, done = torch.randn(64, generator=generator), (torch.rand(64, generator=generator) < 0.05).float()
        noise.append(torch.randn(64, 3, generator=generator))
        agent.update(Batch(s, a, r, s2, done))
        with torch.no_grad():
            next_action = (targets[0](s2) + (noise[-1] * 0.2).clamp(-0.5, 0.5)).clamp(-1, 1)
            next_sa = torch.cat([s2, next_action], 1)
            target = r[:, None] + (1 - done[:, None]) * 0.99 * torch.min(targets[1](next_sa), targets[2](next_sa))
        sa = torch.cat([s, a], 1)
        critic_loss = F.mse_loss(q1(sa), target) + F.mse_loss(q2(sa), target)
        optimizers[1].zero_grad(), optimizers[2].zero_grad()
        critic_loss.backward()
        optimizers[1].step(), optimizers[2].step()
        if step % 2 == 0:
            pi = actor(s)
            q = q1(torch.cat([s, pi], 1))
            actor_loss = -2.5 / q.abs().mean().detach() * q.mean() + F.mse_loss(pi, a)
            optimizers[0].zero_grad()
            actor_loss.backward()
            optimizers[0].step()
            with torch.no_grad():
                for target_net, net in zip(targets, (actor, q1, q2)):
                    for t, p in zip(target_net.parameters(), net.parameters()):
                        t.copy_(0.995 * t + 0.005 * p)
    pairs = [(agent.actor.net, actor), (agent.critic.q1, q1), (agent.critic.q2, q2),
             (agent.actor_target.net, targets[0]), (agent.critic_target.q1, targets[1])]
    for ours, reference in pairs:
        for p, r in zip(ours.parameters(), reference.parameters()):
            torch.testing.assert_close(p, r, rtol=1e-5, atol=1e-5)


def iql(deterministic: bool) -> IQL:
    agent = IQL(IQLConfig(hidden=(), deterministic_actor=deterministic), 1, 1, "cpu", total_steps=4)
    half_actor(agent.actor)
    set_linear(agent.critic_target.q1, [1.0, 0.0], 0.0)  # Q1 = s
    set_linear(agent.critic_target.q2, [0.0, 0.0], 5.0)  # Q2 = 5
    set_linear(agent.value.net, [0.0], 1.0)  # V = 1
    return agent


def test_expectile_loss():
    # weights 0.7 for the positive and 0.3 for the negative difference: (0.7 * 1 + 0.3 * 4) / 2
    assert expectile_loss(torch.tensor([1.0, -2.0]), 0.7).item() == pytest.approx(0.95)


def test_iql_value_loss_and_advantage():
    # target Q = min(s, 5) = [1, 3]; advantage = [0, 2]; loss = (0 + 0.7 * 4) / 2
    loss, advantage = iql(False).value_loss(BATCH)
    assert advantage.tolist() == pytest.approx([0.0, 2.0])
    assert loss.item() == pytest.approx(1.4)


def test_iql_q_targets():
    # V = 1 at the next state: 1 + 0.99 * 1 and, terminal, 2
    assert iql(False).q_targets(BATCH).tolist() == pytest.approx([1.99, 2.0])


def test_iql_deterministic_actor_loss():
    # weights = [exp(0), min(exp(6), 100)] = [1, 100]; squared errors [0.25, 0.25] -> (0.25 + 25) / 2
    loss = iql(True).actor_loss(BATCH, torch.tensor([0.0, 2.0]))
    assert loss.item() == pytest.approx(12.625)


def test_iql_gaussian_actor_loss():
    # -log N(a; 0.5, 1) = 0.5 log(2 pi) + 0.125 for both rows -> (1 + 100) * 1.0439385 / 2
    nll = 0.5 * math.log(2 * math.pi) + 0.125
    loss = iql(False).actor_loss(BATCH, torch.tensor([0.0, 2.0]))
    assert loss.item() == pytest.approx(101 * nll / 2, rel=1e-6)


def test_iql_actor_learning_rate_follows_a_cosine_to_zero():
    agent = iql(False)
    for _ in range(4):
        agent.update(BATCH)
    assert agent.actor_optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("agent_class, config", [(TD3BC, TD3BCConfig(hidden=(8,))), (IQL, IQLConfig(hidden=(8,)))])
def test_checkpoint_round_trip_continues_identically(agent_class, config):
    def fresh():
        torch.manual_seed(0)
        return agent_class(config, 1, 1, "cpu", total_steps=10)

    agent = fresh()
    agent.update(BATCH)
    state = copy.deepcopy(agent.state_dict())  # state dicts hold references to live tensors
    torch.manual_seed(1)
    expected = agent.update(BATCH)
    restored = fresh()
    restored.load_state_dict(state)
    torch.manual_seed(1)
    assert restored.update(BATCH) == expected and restored.step == 2


def test_iql_hopper_settings_come_from_corl_per_task_configs():
    medium = resolve("iql", "hopper-medium-v2")
    assert medium.agent.deterministic_actor and medium.agent.tau == 0.001 and medium.agent.normalize_reward
    assert "CORL" in medium.sources["agent"]["tau"]
    expert = resolve("iql", "hopper-medium-expert-v2").agent
    assert (expert.expectile, expert.beta, expert.deterministic_actor) == (0.5, 6.0, False)
    assert resolve("iql", "walker2d-medium-v2").agent == IQLConfig()


@pytest.mark.parametrize("dawm, dwm", [("dawm-td3bc", "dwm-td3bc"), ("dawm-t-iql", "dwm-iql"), ("dawm-iql", "dwm-iql")])
@pytest.mark.parametrize("task", ["hopper-medium-v2", "hopper-medium-expert-v2", "walker2d-medium-v2"])
def test_dawm_and_dwm_agents_differ_only_in_the_world_model_target(dawm, dwm, task):
    """DAWM names no agent settings: it takes DWM's RL stage, so DAWM vs DWM changes one component, even on the
    hopper tasks where CORL tunes the model-free IQL otherwise."""
    ours, theirs = resolve(dawm, task).agent, resolve(dwm, task).agent
    mve_only = {"horizon", "lam"}
    assert {f: getattr(theirs, f) for f in vars(theirs) if f not in mve_only} == vars(ours)
    assert resolve(dawm, task).sources["agent"]["batch_size"].startswith("paper: DWM App. D")


def test_mixed_batches_hold_the_real_share_and_none_synthetic_at_ratio_one():
    def buffer(value: float, size: int) -> ReplayBuffer:
        return ReplayBuffer(torch.full((size, 2), value).numpy(), torch.zeros(size, 1).numpy(),
                            torch.full((size,), value).numpy(), torch.zeros(size, 2).numpy(), torch.zeros(size).numpy(),
                            "cpu")

    real, synthetic = buffer(1.0, 10), buffer(-1.0, 80)
    half = MixedSampler(real, synthetic, 0.5).sample(8, torch.Generator().manual_seed(0))
    assert half.rewards.tolist() == [1.0] * 4 + [-1.0] * 4
    only_real = MixedSampler(real, synthetic, 1.0).sample(8, torch.Generator().manual_seed(0))
    assert only_real.rewards.tolist() == [1.0] * 8 and only_real.observations.shape == (8, 2)
    # the synthetic share draws nothing at ratio one: DAWM on the real data alone samples the real buffer itself
    real = ReplayBuffer(torch.randn(10, 2).numpy(), torch.randn(10, 1).numpy(), torch.randn(10).numpy(),
                        torch.randn(10, 2).numpy(), torch.zeros(10).numpy(), "cpu")
    mixed, mixed_draws = MixedSampler(real, synthetic, 1.0), torch.Generator().manual_seed(1)
    alone_draws = torch.Generator().manual_seed(1)
    for _ in range(3):  # successive batches: the same rows, the generators in step
        assert torch.equal(mixed.sample(8, mixed_draws).observations, real.sample(8, alone_draws).observations)
    with pytest.raises(ValueError, match="real_ratio must be in"):
        MixedSampler(real, synthetic, 1.5)


def test_buffer_sampling_is_seeded():
    buffer = ReplayBuffer(torch.arange(10.0)[:, None].numpy(), torch.zeros(10, 1).numpy(), torch.arange(10.0).numpy(),
                          torch.zeros(10, 1).numpy(), torch.zeros(10).numpy(), "cpu")
    first = buffer.sample(5, torch.Generator().manual_seed(3))
    second = buffer.sample(5, torch.Generator().manual_seed(3))
    assert torch.equal(first.rewards, second.rewards)
    assert torch.equal(first.observations[:, 0], first.rewards)  # rows stay aligned


def test_model_based_settings_come_from_the_one_table():
    dwm = resolve("dwm-iql", "halfcheetah-medium-v2")
    assert dwm.configs["bank"].rtg == 0.5 and "Table 6.7" in dwm.sources["bank"]["rtg"]
    assert dwm.configs["world_model"].rtg_scale == 1200.0
    assert (dwm.agent.batch_size, dwm.agent.lam, dwm.agent.normalize_reward) == (128, 0.95, True)
    assert not resolve("dwm-iql", "hopper-medium-v2").agent.deterministic_actor  # CORL's tuning is IQL's only,
    assert not resolve("dawm-iql", "hopper-medium-v2").agent.deterministic_actor  # not DAWM-IQL's (DWM's RL stage)
    assert resolve("dawm-td3bc", "hopper-medium-v2").configs["augmentation"].synthetic_volume == 8.0
    assert resolve("dawm-t-td3bc", "hopper-medium-v2").configs["augmentation"].synthetic_volume == 1.0
    assert resolve("dwm-td3bc", "walker2d-medium-expert-v2").configs["bank"].rtg == 0.9
