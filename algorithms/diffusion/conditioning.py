"""The temporal U-Net with MLP encoders for its conditions: an optional action and a return-to-go.

Classifier-free guidance drops the return-to-go only (its embedding becomes zero); the action, where there
is one (the world model's a_t), is always given. Each encoder is a 3-layer MLP, as in DWM and DD.
"""

from __future__ import annotations

import torch
from torch import nn

from algorithms.diffusion.temporal_unet import TemporalUnet


def _encoder(in_dim: int, width: int, hidden_mult: int = 1) -> nn.Sequential:
    """in -> width -> hidden_mult x width -> width (DD's returns MLP has hidden_mult 4)."""
    return nn.Sequential(nn.Linear(in_dim, width), nn.Mish(), nn.Linear(width, hidden_mult * width), nn.Mish(),
                         nn.Linear(hidden_mult * width, width))


class ConditionedDenoiser(nn.Module):
    """denoiser(x, steps, {"rtg": [B], "action": [B, act]}, drop [B]) -> [B, T, C]."""

    def __init__(self, transition_dim: int, act_dim: int | None, width: int, width_mults: tuple[int, ...],
                 rtg_hidden_mult: int = 1):
        super().__init__()
        self.action_encoder = _encoder(act_dim, width) if act_dim else None
        self.rtg_encoder = _encoder(1, width, rtg_hidden_mult)
        cond_dim = width * (2 if act_dim else 1)
        self.unet = TemporalUnet(transition_dim, cond_dim, width, width_mults)

    def forward(self, x: torch.Tensor, steps: torch.Tensor, condition: dict, drop: torch.Tensor) -> torch.Tensor:
        embeddings = [self.rtg_encoder(condition["rtg"][:, None]) * (~drop)[:, None]]
        if self.action_encoder is not None:
            embeddings.insert(0, self.action_encoder(condition["action"]))
        return self.unet(x, steps, torch.cat(embeddings, dim=-1))
