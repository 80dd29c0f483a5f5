"""No update reads a value back to the host: on a GPU each read waits for the device (CUDA-free proxy: count
the project's own calls of the tensor methods that would synchronise; torch's internals, such as Adam reading
its CPU step counter, are not device reads)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms.buffer import ReplayBuffer
from algorithms.inverse_dynamics import InverseDynamics, InverseDynamicsConfig
from algorithms.iql import IQL, IQLConfig
from algorithms.one_step_model import OneStepModel, OneStepModelConfig
from algorithms.sac import SAC, SACConfig
from algorithms.td3_bc import TD3BC, TD3BCConfig
from algorithms.world_model import DiffusionWorldModel, DiffusionWorldModelConfig
from benchmark.run.artifacts import window_batches
from tests.test_world_model import episode_data

SYNCING = ("item", "tolist", "numpy", "cpu", "__float__", "__int__", "__bool__")
PROJECT = tuple(str(Path(__file__).resolve().parents[1] / part) for part in ("algorithms", "benchmark"))


@pytest.fixture
def host_reads(monkeypatch):
    reads = []
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(PROJECT):
                reads.append(f"{_name} in {caller}:{sys._getframe(1).f_lineno}")
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counting)
    return reads


def _batch(obs_dim=11, act_dim=3):
    data = episode_data(n=64)
    buffer = ReplayBuffer(data.observations, data.actions, data.rewards, data.next_observations, data.terminals, "cpu")
    return data, buffer.sample(32, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["td3bc", "iql", "sac", "dwm-iql", "onestep-td3bc", "idm", "one_step",
                                  "world_model"])
def test_updates_never_read_back_to_the_host(name, host_reads):
    data, batch = _batch()
    if name in ("td3bc", "iql", "sac"):
        agent = {"td3bc": lambda: TD3BC(TD3BCConfig(hidden=(16,)), 11, 3, "cpu", 10),
                 "iql": lambda: IQL(IQLConfig(hidden=(16,)), 11, 3, "cpu", 10),
                 "sac": lambda: SAC(SACConfig(hidden=(16,)), 11, 3)}[name]()
        update = lambda: agent.update(batch)  # noqa: E731
    elif name == "dwm-iql":
        from algorithms.mve import MVEIQL, MVEIQLConfig
        from benchmark.data.normalization import StateNormalizer
        from benchmark.run.model_based import BankRolloutSource
        from benchmark.run.rollout_bank import Rollouts, start_rows

        rows, samples = start_rows(0, data.size, range(2 * data.size))
        states = np.repeat(data.observations[rows, None], 7, axis=1)
        source = BankRolloutSource(Rollouts(rows, samples, states, np.ones((len(rows), 7), np.float32)), data,
                                   "hopper", StateNormalizer.identity(11), 1.0, torch.device("cpu"),
                                   torch.Generator().manual_seed(0))
        agent = MVEIQL(MVEIQLConfig(hidden=(16,)), 11, 3, "cpu", 10, source)
        update = lambda: agent.update(batch)  # noqa: E731
    elif name == "onestep-td3bc":
        from algorithms.mve import MVETD3BC, OneStepTD3BCConfig
        from benchmark.data.normalization import StateNormalizer
        from benchmark.run.model_based import ModelRolloutSource

        model = OneStepModel(OneStepModelConfig(hidden=(16,)), 11, 3, (torch.zeros(14), torch.ones(14)),
                             (torch.zeros(12), torch.ones(12)))
        source = ModelRolloutSource(model, StateNormalizer.identity(11), 1.0, torch.Generator().manual_seed(0))
        agent = MVETD3BC(OneStepTD3BCConfig(hidden=(16,)), 11, 3, "cpu", 10, source)
        source.policy = agent.act
        update = lambda: agent.update(batch)  # noqa: E731
    elif name == "idm":
        idm = InverseDynamics(InverseDynamicsConfig(hidden=(16,)), 11, 3)
        update = lambda: idm.update(torch.randn(32, 3, 11), batch.actions)  # noqa: E731
    elif name == "one_step":
        model = OneStepModel(OneStepModelConfig(hidden=(16,)), 11, 3, (torch.zeros(14), torch.ones(14)),
                             (torch.zeros(12), torch.ones(12)))
        update = lambda: model.update(batch.observations[None], batch.actions[None],  # noqa: E731
                                      batch.next_observations[None], batch.rewards[None])
    else:
        config = DiffusionWorldModelConfig(width=8)
        model = DiffusionWorldModel(config, 11, 3, np.concatenate([data.observations, data.rewards[:, None]], 1))
        windows = window_batches(data, config, torch.device("cpu")).select(torch.arange(16))
        update = lambda: model.update(windows)  # noqa: E731
    for _ in range(2):  # TD3+BC's actor steps every second update
        log = update()
    host_reads.clear()
    for _ in range(2):
        log = update()
    assert host_reads == [] and all(isinstance(value, torch.Tensor) for value in log.values())
