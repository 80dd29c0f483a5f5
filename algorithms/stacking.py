"""Seeds as a batch dimension: S agents of one configuration trained as one, each network holding all S
members along a leading dimension (batched matmuls), so a GPU runs S small MLPs at the cost of about one.

Each member computes exactly what its own agent would (its losses are means over its own batch, the sum
over members only joins the backward passes; Adam is elementwise), up to the float rounding of batched
against plain matmuls. On a CPU it is not faster (machine-facts.md: 0.9-1.15x); the point is the GPU.
"""

from __future__ import annotations

import copy
from typing import ClassVar

import torch
from torch import nn

from algorithms.buffer import Batch


class StackedLinear(nn.Module):
    """S linear layers as one: x [S, ..., in] -> [S, ..., out]."""

    def __init__(self, members: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([m.weight.detach().T for m in members]).clone())  # [S, in, out]
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in members]).clone())  # [S, out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1, x.shape[-1])  # [S, N, in]
        out = torch.baddbmm(self.bias[:, None], flat, self.weight)
        return out.reshape(*x.shape[:-1], out.shape[-1])

    def member(self, i: int) -> nn.Linear:
        linear = nn.Linear(self.weight.shape[1], self.weight.shape[2], device=self.weight.device)
        with torch.no_grad():
            linear.weight.copy_(self.weight[i].T)
            linear.bias.copy_(self.bias[i])
        return linear


def stack_modules(members: list[nn.Module]) -> nn.Module:
    """A module of the members' class whose Linear layers hold every member, and whose other parameters (e.g.
    a log-std [act]) become [S, 1, ...] so they broadcast over a batch [S, B, ...]. Inputs gain a leading S."""
    stacked = copy.deepcopy(members[0])
    for name, module in list(stacked.named_modules()):
        parts = [dict(m.named_modules())[name] for m in members]
        if isinstance(module, nn.Linear):
            _replace(stacked, name, StackedLinear(parts))
            continue
        for param_name, _ in list(module.named_parameters(recurse=False)):
            values = torch.stack([getattr(part, param_name).detach() for part in parts])[:, None]
            setattr(module, param_name, nn.Parameter(values.clone()))
    return stacked


def member_module(stacked: nn.Module, i: int) -> nn.Module:
    """Member i of a stacked module, as a plain module of the original class (for acting and saving)."""
    single = copy.deepcopy(stacked)
    for name, module in list(single.named_modules()):
        if isinstance(module, StackedLinear):
            _replace(single, name, module.member(i))
            continue
        for param_name, value in list(module.named_parameters(recurse=False)):
            setattr(module, param_name, nn.Parameter(value.detach()[i, 0].clone()))
    return single


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def stack_batches(batches: list[Batch]) -> Batch:
    """Per-member batches [B, ...] -> one batch [S, B, ...]."""
    return Batch(*(torch.stack([getattr(b, f) for b in batches]) if getattr(batches[0], f) is not None else None
                   for f in Batch.__dataclass_fields__))


class Stackable:
    """An agent class that can train S members as one. It names its networks, builds its optimisers in
    `make_optimizers`, and reduces every loss with `batch_mean` so a member dimension passes through."""

    networks: ClassVar[tuple[str, ...]]
    members: int = 1

    def make_optimizers(self) -> None:
        raise NotImplementedError

    @classmethod
    def stack(cls, agents: list[Stackable]) -> Stackable:
        """One agent training `agents` (freshly built, each as its own run would build it) as members."""
        if any(agent.step for agent in agents):
            raise ValueError("stack agents before their first update: optimiser states are not merged")
        stacked = copy.copy(agents[0])
        for name in cls.networks:
            setattr(stacked, name, stack_modules([getattr(agent, name) for agent in agents]))
        stacked.generators = [g for agent in agents for g in getattr(agent, "generators", [])]
        stacked.members = len(agents)
        stacked.make_optimizers()
        return stacked

    def member_actor(self, i: int) -> nn.Module:
        return member_module(self.actor, i)


def batch_mean(x: torch.Tensor, event_dims: int = 0) -> torch.Tensor:
    """Mean over the batch dimension (and `event_dims` trailing ones): [..., B, *event] -> [...]. A single
    agent's losses come out as scalars; a stacked agent's as one per member, summed only for backward."""
    return x.mean(dim=tuple(range(-1 - event_dims, 0)))

