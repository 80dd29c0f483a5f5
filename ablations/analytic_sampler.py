"""Sampler quality on a target whose exact denoiser is closed form: x0 ~ 0.5 N(-1, 0.1^2) + 0.5 N(1, 0.1^2).

With the exact E[x0 | x_t] (or its epsilon), every error left is the sampler's own: its step subsequence, its
temperature. Quality = the share of samples within 3 standard deviations of a mode.
"""

from __future__ import annotations

import torch

from algorithms.diffusion.gaussian import GaussianDiffusion, SamplerSettings

MODES, MODE_STD = torch.tensor([-1.0, 1.0]), 0.1


class ExactMixtureDenoiser:
    """x_t | component k ~ N(sqrt(ab) mu_k, ab sigma^2 + 1 - ab), and x0 | x_t, k is Gaussian: E[x0 | x_t] in
    closed form."""

    def __init__(self, alphas_cumprod: torch.Tensor, predict_epsilon: bool):
        self.alphas_cumprod, self.predict_epsilon = alphas_cumprod, predict_epsilon

    def __call__(self, x, steps, condition, drop):
        ab = self.alphas_cumprod[steps][:, None, None, None]  # [B, 1, 1, 1]
        variance = ab * MODE_STD ** 2 + 1 - ab
        responsibility = torch.softmax(-(x[..., None] - ab.sqrt() * MODES) ** 2 / (2 * variance), dim=-1)
        posterior_mean = MODES + ab.sqrt() * MODE_STD ** 2 / variance * (x[..., None] - ab.sqrt() * MODES)
        x0 = (responsibility * posterior_mean).sum(-1)
        ab = ab[..., 0]
        return (x - ab.sqrt() * x0) / (1 - ab).sqrt() if self.predict_epsilon else x0


def share_near_a_mode(diffusion_steps: int, settings: SamplerSettings, predict_epsilon: bool,
                      visited: list[int] | None = None, samples: int = 20_000) -> float:
    """The sampler's quality with these settings (or this explicit step subsequence), seeded."""
    diffusion = GaussianDiffusion(diffusion_steps, predict_epsilon)
    x = diffusion.sample(ExactMixtureDenoiser(diffusion.alphas_cumprod, predict_epsilon), torch.zeros(samples, 1, 1),
                         torch.zeros(samples, 1, 1, dtype=torch.bool), {}, settings, torch.Generator().manual_seed(0),
                         visited=visited)
    return float(((x[..., None] - MODES).abs().min(-1).values < 3 * MODE_STD).float().mean())
