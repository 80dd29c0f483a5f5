"""Updates per second of the model-free agents (batch 256, CORL networks, one CPU thread).

Disabled timing by default (pyproject's --benchmark-disable runs each once as a test); measure with
`pytest tests/test_update_speed.py --benchmark-enable`.
"""

import pytest
import torch

from algorithms.buffer import ReplayBuffer
from algorithms.iql import IQL, IQLConfig
from algorithms.td3_bc import TD3BC, TD3BCConfig


@pytest.mark.parametrize("agent_class, config", [(TD3BC, TD3BCConfig()), (IQL, IQLConfig())], ids=["td3bc", "iql"])
def test_updates_per_second(benchmark, agent_class, config):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n, obs_dim, act_dim = 100_000, 17, 6
    buffer = ReplayBuffer(torch.randn(n, obs_dim).numpy(), torch.rand(n, act_dim).mul(2).sub(1).numpy(),
                          torch.randn(n).numpy(), torch.randn(n, obs_dim).numpy(), torch.zeros(n).numpy(), "cpu")
    agent = agent_class(config, obs_dim, act_dim, "cpu", total_steps=1_000_000)
    generator = torch.Generator().manual_seed(0)

    def update() -> dict[str, torch.Tensor]:
        return agent.update(buffer.sample(config.batch_size, generator))

    log = benchmark.pedantic(update, rounds=200, warmup_rounds=20)  # runs once when timing is disabled
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())
