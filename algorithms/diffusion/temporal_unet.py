"""Janner et al.'s temporal U-Net: residual 1D-convolution blocks (GroupNorm, Mish) over the time axis.

The diffusion-step embedding is built here; any further conditioning arrives as one vector per sample and
is concatenated to it, so the world model and Decision Diffuser bring their own condition encoders.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, steps: torch.Tensor) -> torch.Tensor:  # [B] -> [B, dim]
        half = self.dim // 2
        frequencies = torch.exp(-math.log(10_000) * torch.arange(half, device=steps.device) / (half - 1))
        angles = steps.float()[:, None] * frequencies[None]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


def conv_block(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2),
                         nn.GroupNorm(8, out_channels), nn.Mish())


class ResidualTemporalBlock(nn.Module):
    """Two conv blocks; the embedding is projected and added between them; 1x1 conv on the skip path."""

    def __init__(self, in_channels: int, out_channels: int, embed_dim: int, kernel: int = 5):
        super().__init__()
        self.first, self.second = conv_block(in_channels, out_channels, kernel), conv_block(out_channels,
                                                                                             out_channels, kernel)
        self.embed = nn.Sequential(nn.Mish(), nn.Linear(embed_dim, out_channels))
        self.skip = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:  # x [B, C, T]
        h = self.first(x) + self.embed(embedding)[..., None]
        return self.second(h) + self.skip(x)


class TemporalUnet(nn.Module):
    """eps or x0 prediction for x [B, T, transition_dim]; T must be divisible by 2^(len(dim_mults) - 1)."""

    def __init__(self, transition_dim: int, cond_dim: int, dim: int = 32, dim_mults: tuple[int, ...] = (1, 2, 4),
                 kernel: int = 5):
        super().__init__()
        self.levels = len(dim_mults)
        widths = [transition_dim, *(dim * m for m in dim_mults)]
        self.step_embedding = nn.Sequential(SinusoidalEmbedding(dim), nn.Linear(dim, dim * 4), nn.Mish(),
                                            nn.Linear(dim * 4, dim))
        embed_dim = dim + cond_dim
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        pairs = list(zip(widths[:-1], widths[1:]))
        for i, (width_in, width_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            self.down.append(nn.ModuleList([
                ResidualTemporalBlock(width_in, width_out, embed_dim, kernel),
                ResidualTemporalBlock(width_out, width_out, embed_dim, kernel),
                nn.Conv1d(width_out, width_out, 3, stride=2, padding=1) if not last else nn.Identity()]))
        middle = widths[-1]
        self.middle = nn.ModuleList([ResidualTemporalBlock(middle, middle, embed_dim, kernel),
                                     ResidualTemporalBlock(middle, middle, embed_dim, kernel)])
        for width_in, width_out in reversed(pairs[1:]):  # the finest level's skip is not used, as in Diffuser
            self.up.append(nn.ModuleList([
                ResidualTemporalBlock(width_out * 2, width_in, embed_dim, kernel),
                ResidualTemporalBlock(width_in, width_in, embed_dim, kernel),
                nn.ConvTranspose1d(width_in, width_in, 4, stride=2, padding=1)]))
        self.head = nn.Sequential(conv_block(dim, dim, kernel), nn.Conv1d(dim, transition_dim, 1))

    def forward(self, x: torch.Tensor, steps: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """x [B, T, C], steps [B] (diffusion step), condition [B, cond_dim] -> [B, T, C]."""
        if x.shape[1] % 2 ** (self.levels - 1):
            raise ValueError(f"sequence length {x.shape[1]} is not divisible by {2 ** (self.levels - 1)}")
        embedding = torch.cat([self.step_embedding(steps), condition], dim=-1)
        h, skips = x.transpose(1, 2), []
        for first, second, downsample in self.down:
            h = second(first(h, embedding), embedding)
            skips.append(h)
            h = downsample(h)
        for block in self.middle:
            h = block(h, embedding)
        for first, second, upsample in self.up:
            h = torch.cat([h, skips.pop()], dim=1)
            h = upsample(second(first(h, embedding), embedding))
        return self.head(h).transpose(1, 2)
