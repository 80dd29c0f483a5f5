"""The behaviour policies' portable actions (algorithms/portable.py): the same bits on every CPU, and the same
policy as the ordinary forward pass."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from algorithms.portable import portable_linear, portable_mlp
from algorithms.sac import TanhGaussianActor

ROOT = Path(__file__).parents[1]
# Prints the hash of 64 portable actions of a hopper-sized actor: run under other kernels, it must not change.
ACTIONS_SCRIPT = """
import hashlib, torch
from algorithms.sac import TanhGaussianActor
actor = TanhGaussianActor(11, 3, (256, 256))
with torch.no_grad():  # weights and states from integer arithmetic: no kernel choice in them
    for p in actor.parameters():
        p.copy_((torch.arange(p.numel()) * 7919 % 2001 / 1000.0 - 1.0).view(p.shape) * 0.15)
obs = (torch.arange(704).reshape(64, 11) * 7919 % 1000 / 1000.0 - 0.5) * 6
actions = actor.sample_portable(obs, torch.Generator().manual_seed(2))
print(hashlib.sha256(actions.numpy().tobytes()).hexdigest())
"""


def test_portable_linear_is_the_layer_computed_in_float64():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [0.25, 0.0, -0.5]]))
        layer.bias.copy_(torch.tensor([1.0, -2.0]))
    x = torch.tensor([[2.0, 1.0, 0.5]])
    out = portable_linear(x, layer)  # [1 - 1 + 1 + 1, 0.5 + 0 - 0.25 - 2]
    assert out.dtype == torch.float64 and out.tolist() == [[2.0, -1.75]]

    wide = nn.Linear(37, 5)  # an odd width pads the pairwise tree
    x = torch.randn(4, 37)
    assert torch.allclose(portable_linear(x, wide), wide(x).double(), atol=1e-5)
    assert torch.allclose(portable_linear(x, wide), x.double() @ wide.weight.double().T + wide.bias.double(), atol=1e-12)


def test_portable_mlp_follows_the_network_and_refuses_layers_it_cannot_compute_portably():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(6, 4)
    assert torch.allclose(portable_mlp(net, x), net(x).double(), atol=1e-5)
    with pytest.raises(TypeError, match="Dropout"):
        portable_mlp(nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1)), x)


def test_portable_actions_are_the_policys_tanh_gaussian():
    torch.manual_seed(0)
    actor = TanhGaussianActor(2, 2, (16,))
    obs = torch.tensor([[0.3, -0.7]]).expand(40_000, 2)
    actions = actor.sample_portable(obs, torch.Generator().manual_seed(0))
    mean, log_std = actor(obs[:1])
    u = torch.atanh(actions.double().clamp(-1 + 1e-12, 1 - 1e-12))
    assert actions.dtype == torch.float32 and actions.abs().max() < 1
    assert torch.allclose(u.mean(0), mean[0].double(), atol=4 * log_std.exp().max().item() / math.sqrt(40_000))
    assert torch.allclose(u.std(0), log_std[0].exp().double(), rtol=0.03)


@pytest.mark.slow
def test_portable_actions_have_the_same_bits_under_every_kernel_choice_of_this_cpu():
    """MKL_CBWR makes MKL take another processor's code path (AVX2, or the branch every x86-64 CPU shares);
    ATEN_CPU_CAPABILITY makes torch use its AVX2 or scalar kernels. Ordinary forward passes change under them."""
    def actions(**env: str) -> str:
        run = subprocess.run([sys.executable, "-c", ACTIONS_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT), **env}, check=True)
        return run.stdout.strip()

    here = actions()
    assert actions(MKL_CBWR="AVX2") == here
    assert actions(MKL_CBWR="COMPATIBLE", ATEN_CPU_CAPABILITY="avx2") == here
    assert actions(ATEN_CPU_CAPABILITY="default") == here
