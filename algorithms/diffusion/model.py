"""A trainable conditional diffusion model: denoiser, its EMA copy for sampling, schedule and optimiser.

The world model and Decision Diffuser subclass it and differ only in what a row of x holds, what is
inpainted and what conditions the denoiser.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from algorithms.diffusion.gaussian import GaussianDiffusion


class DiffusionModel(nn.Module):
    def __init__(self, denoiser: nn.Module, n_steps: int, predict_epsilon: bool, lr: float, ema_decay: float,
                 ema_every: int):
        super().__init__()
        self.denoiser = denoiser
        self.ema = copy.deepcopy(denoiser).requires_grad_(False)
        self.diffusion = GaussianDiffusion(n_steps, predict_epsilon)
        self.optimizer = torch.optim.Adam(self.denoiser.parameters(), lr=lr)
        self.ema_decay, self.ema_every, self.step = ema_decay, ema_every, 0

    def loss(self, batch) -> torch.Tensor:
        raise NotImplementedError

    def update(self, batch) -> dict[str, float]:
        loss = self.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        if self.step % self.ema_every == 0:
            with torch.no_grad():
                for ema, live in zip(self.ema.parameters(), self.denoiser.parameters()):
                    ema.lerp_(live, 1 - self.ema_decay)
        return {"loss": loss.item()}
