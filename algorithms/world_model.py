"""World models behind one interface, and the diffusion world model DWM and DAWM share.

The diffusion world model generates x = (r_t, s_{t+1}, r_{t+1}, ..., s_{t+T-1}, r_{t+T-1}) given s_t, a_t and
a return-to-go, as DWM does: future states and rewards only, never future actions. Rows of x are
[s_{t+h}, r_{t+h}]; row 0's state is s_t, fixed (inpainted) at every denoising step; every reward is modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import ClassVar, Protocol

import torch

from algorithms.agent import source
from algorithms.diffusion.conditioning import ConditionedDenoiser
from algorithms.diffusion.gaussian import SamplerSettings
from algorithms.diffusion.model import DiffusionModel
from algorithms.diffusion.normalizer import check_clipping, make_normalizer

DWM = "paper: DWM (Ding et al. 2024) App. D"


class WorldModel(Protocol):
    def sample(self, states: torch.Tensor, actions: torch.Tensor, rtg: torch.Tensor, horizon: int,
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """states [B, obs], actions [B, act], rtg [B] -> future states [B, H, obs] (s_{t+1..t+H}),
        rewards [B, H] (r_t..r_{t+H-1}); raw units in and out."""


@dataclass(frozen=True)
class DiffusionWorldModelConfig:
    # read only when sampling: the trained weights do not depend on it (it stays out of the model's cache key; the
    # rollout bank, whose content does, keys it itself)
    SAMPLING_FIELDS: ClassVar[tuple[str, ...]] = ("sampler",)

    sequence_length: int = field(default=8, metadata=source(DWM + " (T=8; H=7 rollouts)"))
    diffusion_steps: int = field(default=5, metadata=source(DWM + " (K=5)"))
    normalizer: str = field(default="zscore", metadata=source(
        "ours, measured: DWM names no normaliser for its world model (its thesis names a CDF normaliser only for "
        "its SynthER baseline; of its code ancestors DD uses a CDF, Diffuser a Gaussian). At the quick budget "
        "(50k steps, K=5; python -m ablations.idm_accuracy --world-model-variants cdf eps cdf-eps, "
        "results/model_quality.md) the z-score gives 1-step / 7-step state errors of 0.051 / 0.162 data stds on "
        "hopper-medium and 0.175 / 0.378 on walker2d-medium; DD's CDF normaliser with clipped x0 gives 0.311 / "
        "0.259 and 0.880 / 0.902, and with epsilon prediction as well (the papers' combination) 0.367 / 0.296 "
        "and 1.676 / 1.670. The CDF's median error per dimension is no worse (walker2d-medium, 512 held-out rows, "
        "one-off check: 0.01-0.15 stds against 0.03-0.12), but samples landing in the sparse tails, where a small "
        "step in [-1, 1] is a large one in the state, dominate its RMSE (0.82 against 0.18; one dimension 2.67 "
        "against 0.09); 'cdf' stays a setting"))
    clip_denoised: bool = field(default=False, metadata=source(
        "ours: clipping x0 to [-1, 1] belongs to the CDF normaliser (DD's code); meaningless for a z-score"))
    predict_epsilon: bool = field(default=False, metadata=source(
        "ours, measured: predict x0, as Diffuser does. At the quick budget (50k steps) epsilon prediction gives "
        "1-step state errors of 0.767 (hopper-medium) and 21.6 (walker2d-medium) data stds under the "
        "z-score, against 0.051 and 0.175 with x0, and 0.367 and 1.676 under the CDF, against 0.311 and 0.880 "
        "(results/model_quality.md): with K=5 the cosine schedule's last step keeps alpha-bar ~ 1e-4, and an "
        "epsilon turned into x0 there is amplified ~100x"))
    width: int = field(default=32, metadata=source("ours: DWM names no width; Diffuser's default U-Net dim"))
    width_mults: tuple[int, ...] = field(default=(1, 2, 4), metadata=source(
        "ours: three resolutions fit T=8 (8 -> 4 -> 2)"))
    condition_dropout: float = field(default=0.25, metadata=source(DWM + " (p_uncond)"))
    rtg_discount: float = field(default=0.99, metadata=source(DWM))
    rtg_scale: float = field(default=400.0, metadata=source(DWM + " (per environment; 400 is Hopper's)"))
    rtg_to_episode_end: bool = field(default=True, metadata=source(
        "ours: DWM sec. 6.3 defines the full-episode return-to-go (its Alg. 17 sums a T-window); the dataset "
        "maxima DWM's Fig. 6.6 plots (0.35-0.68) match full-episode returns, not 8-step windows"))
    lr: float = field(default=1e-4, metadata=source(DWM))
    batch_size: int = field(default=64, metadata=source(DWM))
    ema_decay: float = field(default=0.995, metadata=source(DWM))
    ema_every: int = field(default=10, metadata=source(DWM))
    ema_start: int = field(default=0, metadata=source("ours: DWM names none (Diffuser's trainer starts at 2000)"))
    gradient_accumulation: int = field(default=1, metadata=source(DWM + " (batch 64)"))
    step_offset: int = field(default=0, metadata=source("ours: steps 1..K reach the network as they are"))
    sampler: SamplerSettings = field(default_factory=SamplerSettings, metadata=source(DWM + " (N=3, alpha=0.5)"))

    def __post_init__(self):
        check_clipping(self.normalizer, self.clip_denoised)

    @property
    def max_horizon(self) -> int:
        return self.sequence_length - 1


@dataclass(frozen=True)
class WindowBatch:
    """Training windows in raw units: T states from s_t, the T rewards r_t..r_{t+T-1}, a_t and the RTG (or, for
    training, the states and rewards already normalised: x0)."""

    states: torch.Tensor | None  # [B, T, obs]
    rewards: torch.Tensor | None  # [B, T]
    state_weight: torch.Tensor  # [B, T] 1 where the state is known (real, or exact absorbing padding)
    reward_weight: torch.Tensor  # [B, T]
    actions: torch.Tensor  # [B, act] a_t
    rtg: torch.Tensor  # [B], already divided by the environment's return scale
    x0: torch.Tensor | None = None  # [B, T, obs + 1] states and rewards normalised once for all batches (training)

    def select(self, rows: torch.Tensor) -> WindowBatch:
        """The windows starting at `rows`, every field from the same rows."""
        return WindowBatch(*(None if getattr(self, f.name) is None else getattr(self, f.name)[rows]
                             for f in fields(self)))


class DiffusionWorldModel(DiffusionModel):
    """p(r_t, s_{t+1}, ..., s_{t+T-1}, r_{t+T-1} | s_t, a_t, RTG): trained on windows, sampled with the EMA weights.

    `rows` [N, obs + 1] are the data's (s, r) pairs the per-dimension normaliser is fitted to.
    """

    def __init__(self, config: DiffusionWorldModelConfig, obs_dim: int, act_dim: int, rows):
        super().__init__(ConditionedDenoiser(obs_dim + 1, act_dim, config.width, config.width_mults),
                         make_normalizer(config.normalizer, rows), config)
        self.config, self.obs_dim, self.act_dim = config, obs_dim, act_dim

    def _encode(self, states: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        """states [B, T, obs], rewards [B, T] -> x [B, T, obs + 1], normalised."""
        return self.normalizer(torch.cat([states, rewards[..., None]], dim=-1))

    def _decode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, T, obs + 1] -> states [B, T, obs], rewards [B, T], raw units."""
        raw = self.normalizer.invert(x)
        return raw[..., : self.obs_dim], raw[..., self.obs_dim]

    def _fixed(self, batch: int, device: torch.device) -> torch.Tensor:
        fixed = torch.zeros(batch, self.config.sequence_length, self.obs_dim + 1, dtype=torch.bool, device=device)
        fixed[:, 0, : self.obs_dim] = True
        return fixed

    def encoded(self, windows: WindowBatch, chunk: int = 65_536) -> WindowBatch:
        """The windows with their states and rewards normalised once (x0), the raw ones dropped: training
        batches then skip the per-batch encoding (for the CDF normaliser, a search per value)."""
        with torch.no_grad():
            x0 = torch.cat([self._encode(windows.states[i: i + chunk], windows.rewards[i: i + chunk])
                            for i in range(0, len(windows.states), chunk)])
        return replace(windows, states=None, rewards=None, x0=x0)

    def loss(self, batch: WindowBatch) -> torch.Tensor:
        x0 = batch.x0 if batch.x0 is not None else self._encode(batch.states, batch.rewards)
        weight = torch.cat([batch.state_weight[..., None].expand(-1, -1, self.obs_dim),
                            batch.reward_weight[..., None]], dim=-1)
        drop = torch.rand(len(x0), device=x0.device) < self.config.condition_dropout
        condition = {"action": batch.actions, "rtg": batch.rtg}
        return self.diffusion.training_loss(self.denoiser, x0, condition, self._fixed(len(x0), x0.device), weight,
                                            drop)

    @torch.no_grad()
    def sample(self, states: torch.Tensor, actions: torch.Tensor, rtg: torch.Tensor, horizon: int,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not 1 <= horizon <= self.config.max_horizon:
            raise ValueError(f"horizon must be in 1..{self.config.max_horizon} for sequence length "
                             f"{self.config.sequence_length}, got {horizon}")
        batch, T = len(states), self.config.sequence_length
        values = torch.zeros(batch, T, self.obs_dim + 1, device=states.device)
        values[:, 0] = self._encode(states[:, None], torch.zeros(batch, 1, device=states.device))[:, 0]
        rtg = torch.as_tensor(rtg, dtype=torch.float32, device=states.device).expand(batch)
        x = self.diffusion.sample(self.ema, values, self._fixed(batch, states.device),
                                  {"action": actions, "rtg": rtg}, self.config.sampler, generator)
        future_states, rewards = self._decode(x)
        return future_states[:, 1: horizon + 1], rewards[:, :horizon]
