"""A trainable conditional diffusion model: denoiser, its EMA copy for sampling, schedule and optimiser.

The world model and Decision Diffuser subclass it and differ only in what a row of x holds, what is
inpainted and what conditions the denoiser.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace

import torch
from torch import nn

from algorithms.diffusion.gaussian import GaussianDiffusion
from algorithms.optim import adam


class DiffusionModel(nn.Module):
    """`normalizer` maps raw rows [..., C] to what is denoised (and back with `invert`). `config` names the
    training settings: diffusion_steps, predict_epsilon, clip_denoised, step_offset, lr, ema_decay, ema_every,
    ema_start (until then the EMA copies the live weights, as Diffuser's trainer does) and
    gradient_accumulation (an update takes a batch of that many micro-batches, each loss divided by it)."""

    def __init__(self, denoiser: nn.Module, normalizer: nn.Module, config):
        super().__init__()
        self.denoiser, self.normalizer = denoiser, normalizer
        self.ema = copy.deepcopy(denoiser).requires_grad_(False)
        self.diffusion = GaussianDiffusion(config.diffusion_steps, config.predict_epsilon, config.clip_denoised,
                                           config.step_offset)
        self.optimizer = adam(self.denoiser.parameters(), config.lr)
        self.ema_decay, self.ema_every, self.ema_start = config.ema_decay, config.ema_every, config.ema_start
        self.accumulation, self.step = config.gradient_accumulation, 0

    def loss(self, batch) -> torch.Tensor:
        raise NotImplementedError

    def update(self, batch) -> dict[str, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for micro_batch in _split(batch, self.accumulation):
            loss = self.loss(micro_batch) / self.accumulation
            loss.backward()
            total = total + loss.detach()
        self.optimizer.step()
        self.step += 1
        if self.step % self.ema_every == 0:
            with torch.no_grad():
                for ema, live in zip(self.ema.parameters(), self.denoiser.parameters()):
                    if self.step < self.ema_start:
                        ema.copy_(live)
                    else:
                        ema.lerp_(live, 1 - self.ema_decay)
        return {"loss": total}


def _split(batch, parts: int) -> list:
    """A dataclass of [B, ...] tensors as `parts` dataclasses of [B / parts, ...] tensors, in order."""
    if parts == 1:
        return [batch]
    chunks = {f.name: getattr(batch, f.name).chunk(parts) for f in fields(batch)
              if getattr(batch, f.name) is not None}
    return [replace(batch, **{name: chunk[i] for name, chunk in chunks.items()}) for i in range(parts)]
