"""A tanh-Gaussian policy's action whose every bit is the same on any x86-64 CPU, for the behaviour policies
that generate our datasets.

torch's CPU kernels differ by processor: matrix products go through BLAS, which picks its kernels by CPU
(MKL's AVX-512 path on Intel, another on AMD), and exp and tanh through MKL's vector math, whose last bit
depends on the same choice. A policy stepped through MuJoCo for a million steps turns one such bit into a
different dataset. Here every operation is an elementwise IEEE operation in a fixed order (products, then a
fixed pairwise tree of sums, in float64) or a call to the C library's exp and tanh; the action is rounded
to float32 at the end.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def portable_linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """layer(x) for x [B, in], in float64 without BLAS: [B, out]."""
    terms = x.double()[:, None, :] * layer.weight.double()[None]  # [B, out, in]
    while terms.shape[-1] > 1:
        if terms.shape[-1] % 2:
            terms = torch.cat([terms, torch.zeros_like(terms[..., :1])], dim=-1)
        terms = terms[..., 0::2] + terms[..., 1::2]
    return terms[..., 0] + layer.bias.double()


def portable_mlp(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """net(x) in float64 for an MLP of Linear and ReLU layers (algorithms.networks.mlp)."""
    for layer in net:
        if isinstance(layer, nn.Linear):
            x = portable_linear(x, layer)
        elif isinstance(layer, nn.ReLU):
            x = torch.relu(x)
        else:
            raise TypeError(f"portable_mlp supports Linear and ReLU layers, not {type(layer).__name__}")
    return x


def libm(function, x: torch.Tensor) -> torch.Tensor:
    """`function` (math.exp, math.tanh: the C library's) on each element of a small float64 tensor."""
    return torch.tensor([function(value) for value in x.flatten().tolist()], dtype=torch.float64).view(x.shape)


@torch.no_grad()
def portable_tanh_gaussian_action(net: nn.Sequential, obs: torch.Tensor, generator: torch.Generator,
                                  log_std_range: tuple[float, float]) -> torch.Tensor:
    """tanh(mean + exp(log_std) * noise) of a policy whose `net` outputs [mean, log_std]; float32 [B, act_dim]."""
    mean, log_std = portable_mlp(net, obs).chunk(2, dim=-1)
    noise = torch.randn(mean.shape, generator=generator, dtype=torch.float64)
    u = mean + libm(math.exp, log_std.clamp(*log_std_range)) * noise
    return libm(math.tanh, u).float()
