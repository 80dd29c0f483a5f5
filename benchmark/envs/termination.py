"""The environments' termination rules on observations (gymnasium v5 healthy ranges), for model rollouts.

Model-generated states carry no terminal flag; these rules say where a real episode would have ended.
Hopper and Walker2d observations start with the torso height z and angle (qpos[1:3]).
"""

from __future__ import annotations

import torch


def _hopper(states: torch.Tensor) -> torch.Tensor:
    z, angle = states[..., 0], states[..., 1]
    healthy = (z > 0.7) & (angle.abs() < 0.2) & (states[..., 1:].abs() < 100).all(-1)
    return ~healthy


def _walker2d(states: torch.Tensor) -> torch.Tensor:
    z, angle = states[..., 0], states[..., 1]
    return ~((z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0))


def _never(states: torch.Tensor) -> torch.Tensor:
    return torch.zeros(states.shape[:-1], dtype=torch.bool, device=states.device)


TERMINATION = {"hopper": _hopper, "walker2d": _walker2d, "halfcheetah": _never}


def is_terminal(env: str, states: torch.Tensor) -> torch.Tensor:
    """states [..., obs] in raw units -> [...] bool: the state ends the episode."""
    return TERMINATION[env](states)


def alive_mask(env: str, states: torch.Tensor, first_done: torch.Tensor) -> torch.Tensor:
    """[B, H + 1] float: 1 while the rollout has not ended before reaching s_{t+h} (h = 0..H).

    states [B, H, obs] are s_{t+1..t+H}; first_done [B] marks a real terminal at t, which ends the rollout
    after its first step whatever the model generated.
    """
    ended = is_terminal(env, states)  # [B, H]
    ended[:, 0] |= first_done.bool()
    alive = (~ended).float().cumprod(dim=1)
    return torch.cat([torch.ones_like(alive[:, :1]), alive], dim=1)
