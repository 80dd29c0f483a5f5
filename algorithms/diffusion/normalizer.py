"""Per-dimension normalisers of what a diffusion model denoises, held as buffers of the model.

`EmpiricalCDF` is Diffuser's and Decision Diffuser's CDFNormalizer (and DWM's, by its text): each dimension
is mapped through the data's empirical CDF to [-1, 1] (knots at the distinct values, their cumulative
frequencies, linear in between; inputs clipped to the data's range), so the sampler can clip its x0
estimates to [-1, 1] and generated values stay within the data's range. `ZScore` is the mean/std
alternative.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

NORMALIZERS = ("cdf", "zscore")


class ZScore(nn.Module):
    def __init__(self, data: np.ndarray, eps: float = 1e-3):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(data.mean(0), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(data.std(0) + eps, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def invert(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std + self.mean

    def to_dict(self) -> dict:
        return {"kind": "zscore", "mean": self.mean.tolist(), "std": self.std.tolist()}


class EmpiricalCDF(nn.Module):
    def __init__(self, data: np.ndarray):
        """data [N, D]: each column's distinct values and cumulative frequencies become its knots."""
        super().__init__()
        columns = [np.unique(column, return_counts=True) for column in np.asarray(data, dtype=np.float64).T]
        length = max(len(values) for values, _ in columns)
        knots, cumulative = np.empty((len(columns), length)), np.empty((len(columns), length))
        for d, (values, counts) in enumerate(columns):
            # pad with the maximum at cumulative frequency 1: the last segment stays flat at the top
            knots[d] = np.pad(values, (0, length - len(values)), mode="edge")
            cumulative[d] = np.pad(np.cumsum(counts) / counts.sum(), (0, length - len(values)), mode="edge")
        self.register_buffer("knots", torch.as_tensor(knots, dtype=torch.float32))  # [D, K]
        self.register_buffer("cumulative", torch.as_tensor(cumulative, dtype=torch.float32))  # [D, K]

    @staticmethod
    def _interpolate(x: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """Piecewise-linear y(x) per dimension: x [..., D], xs and ys [D, K] non-decreasing; x within xs' range."""
        shape = x.shape
        flat = x.reshape(-1, shape[-1]).T.contiguous()  # [D, M]
        upper = torch.searchsorted(xs, flat, right=True).clamp(1, xs.shape[1] - 1)
        x0, x1 = xs.gather(1, upper - 1), xs.gather(1, upper)
        y0, y1 = ys.gather(1, upper - 1), ys.gather(1, upper)
        width = x1 - x0
        fraction = torch.where(width > 0, (flat - x0) / width.clamp(min=1e-12), torch.ones_like(flat))
        return (y0 + fraction.clamp(0, 1) * (y1 - y0)).T.reshape(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., D] raw -> [..., D] in [-1, 1]."""
        x = torch.maximum(torch.minimum(x, self.knots[:, -1]), self.knots[:, 0])
        return 2 * self._interpolate(x, self.knots, self.cumulative) - 1

    def invert(self, y: torch.Tensor) -> torch.Tensor:
        """[..., D] in [-1, 1] -> raw, within the data's range (values below the lowest knot's frequency clip)."""
        p = (y + 1) / 2
        p = torch.maximum(torch.minimum(p, self.cumulative[:, -1]), self.cumulative[:, 0])
        return self._interpolate(p, self.cumulative, self.knots)

    def to_dict(self) -> dict:
        """A summary for result files (the knots themselves live in the model's weights)."""
        return {"kind": "cdf", "min": self.knots[:, 0].tolist(), "max": self.knots[:, -1].tolist(),
                "knots": self.knots.shape[1]}


def check_clipping(normalizer: str, clip_denoised: bool) -> None:
    """A config's guard: clipping x0 to [-1, 1] only means something for the CDF's range."""
    if clip_denoised and normalizer != "cdf":
        raise ValueError("clip_denoised clamps x0 to [-1, 1], the range of the cdf normalizer only")


def make_normalizer(kind: str, data: np.ndarray) -> nn.Module:
    if kind == "cdf":
        return EmpiricalCDF(data)
    if kind == "zscore":
        return ZScore(data)
    raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {kind!r}")
