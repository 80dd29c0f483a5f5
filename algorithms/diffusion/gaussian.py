"""Discrete-time Gaussian diffusion with inpainting, classifier-free guidance and strided, low-temperature sampling.

A denoiser is any module called as ``denoiser(x, steps, condition, drop)``: ``condition`` a dict of [B, ...]
tensors, ``drop`` [B] bool, True where the guided condition is replaced by its null embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from algorithms.agent import source
from algorithms.diffusion.schedule import cosine_alphas_cumprod, strided_steps

Denoiser = Callable[[torch.Tensor, torch.Tensor, dict, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SamplerSettings:
    steps: int = field(default=3, metadata=source("paper: DWM (stride sampling, N=3)"))
    temperature: float = field(default=0.5, metadata=source("paper: DWM, DD (low-temperature sampling)"))
    guidance: float = field(default=1.2, metadata=source("ours: DWM gives no value; DD's official code uses 1.2"))


def guided_prediction(denoiser: Denoiser, x: torch.Tensor, steps: torch.Tensor, condition: dict,
                      guidance: float) -> torch.Tensor:
    """uncond + w * (cond - uncond), both from one forward pass on a doubled batch; w = 1 is the conditional."""
    batch = len(x)
    if guidance == 1.0:
        return denoiser(x, steps, condition, torch.zeros(batch, dtype=torch.bool, device=x.device))
    drop = torch.cat([torch.zeros(batch, dtype=torch.bool, device=x.device),
                      torch.ones(batch, dtype=torch.bool, device=x.device)])
    doubled = {name: torch.cat([value, value]) for name, value in condition.items()}
    conditional, unconditional = denoiser(torch.cat([x, x]), torch.cat([steps, steps]), doubled, drop).chunk(2)
    return unconditional + guidance * (conditional - unconditional)


class GaussianDiffusion(nn.Module):
    """The schedule and the two procedures on it: the denoising loss and the sampler.

    ``fixed`` [B, T, C] bool marks inpainted entries: they hold their given values at every step and are
    left out of the loss, which is also weighted by ``weight`` (0 for padding the data does not know).
    ``clip_denoised`` clamps every x0 estimate to [-1, 1], the range of a CDF-normalised x (Diffuser, DD).
    Diffusion steps run 1..K (alpha-bar_0 = 1 is clean data); the network sees step + ``step_offset``
    (Diffuser's code numbers the same noise levels 0..K-1: offset -1).
    """

    def __init__(self, n_steps: int, predict_epsilon: bool = True, clip_denoised: bool = False, step_offset: int = 0):
        super().__init__()
        self.n_steps, self.predict_epsilon, self.clip_denoised = n_steps, predict_epsilon, clip_denoised
        self.step_offset = step_offset
        self.register_buffer("alphas_cumprod", cosine_alphas_cumprod(n_steps))

    def training_loss(self, denoiser: Denoiser, x0: torch.Tensor, condition: dict, fixed: torch.Tensor,
                      weight: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
        steps = torch.randint(1, self.n_steps + 1, (len(x0),), device=x0.device)
        alpha_bar = self.alphas_cumprod[steps][:, None, None]
        noise = torch.randn(x0.shape, dtype=x0.dtype, device=x0.device)  # by shape: not x0's memory layout
        x_noisy = torch.where(fixed, x0, alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise)
        prediction = denoiser(x_noisy, steps + self.step_offset, condition, drop)
        target = noise if self.predict_epsilon else x0
        weight = weight * ~fixed
        return ((prediction - target).pow(2) * weight).sum() / weight.sum().clamp(min=1.0)

    @torch.no_grad()
    def sample(self, denoiser: Denoiser, values: torch.Tensor, fixed: torch.Tensor, condition: dict,
               settings: SamplerSettings, generator: torch.Generator | None = None,
               visited: list[int] | None = None) -> torch.Tensor:
        """x0 [B, T, C] with the fixed entries of ``values`` kept; N network calls (2N rows with guidance).
        ``visited``: the descending steps to visit, ending at 0 (default: strided_steps(K, N))."""
        visited = visited or strided_steps(self.n_steps, settings.steps)
        noise = torch.randn(values.shape, generator=generator, device=values.device)
        x = torch.where(fixed, values, settings.temperature * noise)
        for t, s in zip(visited[:-1], visited[1:]):
            steps = torch.full((len(x),), t + self.step_offset, device=x.device, dtype=torch.long)
            prediction = guided_prediction(denoiser, x, steps, condition, settings.guidance)
            x0 = self._x0(x, t, prediction)
            if self.clip_denoised:
                x0 = x0.clamp(-1.0, 1.0)
            if s == 0:
                x = x0
            else:
                a_t, a_s = self.alphas_cumprod[t], self.alphas_cumprod[s]
                a_ts = a_t / a_s  # alpha_{t|s}
                mean = (a_s.sqrt() * (1 - a_ts) * x0 + a_ts.sqrt() * (1 - a_s) * x) / (1 - a_t)
                std = ((1 - a_ts) * (1 - a_s) / (1 - a_t)).sqrt()
                noise = torch.randn(x.shape, generator=generator, device=x.device)
                x = mean + settings.temperature * std * noise
            x = torch.where(fixed, values, x)
        return x

    def _x0(self, x: torch.Tensor, t: int, prediction: torch.Tensor) -> torch.Tensor:
        if not self.predict_epsilon:
            return prediction
        alpha_bar = self.alphas_cumprod[t]
        return (x - (1 - alpha_bar).sqrt() * prediction) / alpha_bar.sqrt()
