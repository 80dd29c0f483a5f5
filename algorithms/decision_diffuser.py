"""Decision Diffuser (Ajay et al., 2023): diffusion over state plans with return guidance, actions from an IDM.

A plan is H states from the current observation (inpainted at every denoising step), conditioned on a
return-to-go with classifier-free guidance; the action is the inverse dynamics model's on (s_t, s^_{t+1}).
Two presets: `DecisionDiffuserConfig` is DWM's re-run (the Table 2 row), `DDOfficialConfig` the official code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from algorithms.agent import source
from algorithms.diffusion.conditioning import ConditionedDenoiser
from algorithms.diffusion.gaussian import SamplerSettings
from algorithms.diffusion.model import DiffusionModel
from algorithms.diffusion.normalizer import check_clipping, make_normalizer
from algorithms.inverse_dynamics import InverseDynamics, InverseDynamicsConfig

DWM_DD = "paper: DWM sec. 6.8.2 (its DD re-run)"
DD_CODE = "code: decision-diffuser config/locomotion_config.py"


@dataclass(frozen=True)
class DecisionDiffuserConfig:
    # read only when planning: a sweep over them reuses the trained plan model (they stay out of its cache key)
    SAMPLING_FIELDS: ClassVar[tuple[str, ...]] = ("sampler", "test_return")

    horizon: int = field(default=32, metadata=source(DWM_DD + ", T=32"))
    diffusion_steps: int = field(default=5, metadata=source(DWM_DD + ", K=5"))
    sampler: SamplerSettings = field(default_factory=SamplerSettings, metadata=source(
        DWM_DD + ", N=3; temperature 0.5 and guidance 1.2 from " + DD_CODE))
    width: int = field(default=32, metadata=source("ours: DWM gives no width; as our world model"))
    width_mults: tuple[int, ...] = field(default=(1, 2, 4), metadata=source("ours: as our world model"))
    normalizer: str = field(default="zscore", metadata=source(
        "ours, measured: as the world model (see its field; DWM's re-run names no normaliser, DD's code uses a CDF). "
        "hopper-medium, quick, seed 0, test return 0.7: with DD's CDF and clipped x0 the plan model scored 17.9 and "
        "its planned s_t+1 lay 0.315 data stds (RMSE) from the data's, with the z-score 34.5 and 0.174. The CDF "
        "stretches small errors in the sparse tails: noise of 0.01 in [-1, 1] moves hopper's 8th state dimension "
        "by 0.27 stds; 'cdf' stays a setting (dd-official uses it)"))
    clip_denoised: bool = field(default=False, metadata=source(
        "ours: clipping x0 to [-1, 1] belongs to the CDF normaliser (DD's code); a z-score has no such range"))
    predict_epsilon: bool = field(default=False, metadata=source(
        "ours: x0 with K=5 steps, as the world model (see its field); the official preset predicts epsilon"))
    condition_dropout: float = field(default=0.25, metadata=source(DD_CODE))
    rtg_discount: float = field(default=0.99, metadata=source(DD_CODE))
    rtg_scale: float = field(default=400.0, metadata=source("paper: DWM App. D (per environment; Hopper's)"))
    terminal_penalty: float = field(default=-100.0, metadata=source(DD_CODE + " (termination_penalty)"))
    test_return: float = field(default=0.7, metadata=source(DWM_DD + ": DWM's evaluation RTG sweep"))
    lr: float = field(default=2e-4, metadata=source(DD_CODE))
    batch_size: int = field(default=64, metadata=source(
        "ours, from " + DD_CODE + ": its update averages 2 micro-batches of 32 (gradient_accumulate_every=2), "
        "64 windows, also DWM's world-model batch; DWM's re-run names no batch. One pass over the 64 takes less "
        "CPU time than two of 32"))
    ema_decay: float = field(default=0.995, metadata=source(DD_CODE))
    ema_every: int = field(default=10, metadata=source(DD_CODE))
    ema_start: int = field(default=2000, metadata=source(
        "code: decision-diffuser utils/training.py (step_start_ema: the EMA copies the model until step 2000)"))
    gradient_accumulation: int = field(default=1, metadata=source("ours: batch_size holds DD's two micro-batches"))
    rtg_embedding_mult: int = field(default=4, metadata=source(
        "code: decision-diffuser models/temporal.py (returns_mlp: dim -> 4 dim -> dim)"))
    step_offset: int = field(default=0, metadata=source("ours: steps 1..K, as our world model"))

    def __post_init__(self):
        check_clipping(self.normalizer, self.clip_denoised)


@dataclass(frozen=True)
class DDOfficialConfig(DecisionDiffuserConfig):
    horizon: int = field(default=100, metadata=source(DD_CODE))
    diffusion_steps: int = field(default=200, metadata=source(DD_CODE + " (n_diffusion_steps)"))
    sampler: SamplerSettings = field(default_factory=lambda: SamplerSettings(steps=200), metadata=source(
        DD_CODE + ": the full chain, temperature 0.5, guidance 1.2"))
    width: int = field(default=128, metadata=source(DD_CODE + " (dim)"))
    width_mults: tuple[int, ...] = field(default=(1, 4, 8), metadata=source(DD_CODE + " (dim_mults)"))
    batch_size: int = field(default=32, metadata=source(DD_CODE))
    test_return: float = field(default=0.9, metadata=source(DD_CODE + " (test_ret, hopper)"))
    normalizer: str = field(default="cdf", metadata=source(DD_CODE + " (CDFNormalizer)"))
    clip_denoised: bool = field(default=True, metadata=source(DD_CODE + " (clip_denoised=True)"))
    predict_epsilon: bool = field(default=True, metadata=source(DD_CODE))
    gradient_accumulation: int = field(default=2, metadata=source(DD_CODE + " (gradient_accumulate_every)"))
    step_offset: int = field(default=-1, metadata=source(
        "code: decision-diffuser models/diffusion.py (the network sees t = 199..0 for our steps 200..1)"))


@dataclass(frozen=True)
class DDInverseDynamicsConfig(InverseDynamicsConfig):
    history: int = field(default=0, metadata=source("paper: DD, a_t = f(s_t, s_{t+1})"))
    hidden: tuple[int, ...] = field(default=(1024, 1024), metadata=source(DWM_DD + ": 3-layer MLP, 1024 units"))
    dropout: float = field(default=0.1, metadata=source(DWM_DD))
    objective: str = field(default="mse", metadata=source("code: decision-diffuser (MSE on real actions)"))


@dataclass(frozen=True)
class DDOfficialInverseDynamicsConfig(DDInverseDynamicsConfig):
    hidden: tuple[int, ...] = field(default=(256, 256), metadata=source(DD_CODE + " (hidden_dim)"))
    dropout: float = field(default=0.0, metadata=source(DD_CODE))
    squash: bool = field(default=False, metadata=source(
        "code: decision-diffuser models/diffusion.py (inv_model: Linear-ReLU-Linear-ReLU-Linear, no tanh)"))
    action_normalizer: str | None = field(default="cdf", metadata=source(
        "code: decision-diffuser datasets/sequence.py (actions CDF-normalised; the IDM regresses them)"))
    state_inputs: str = field(default="plan", metadata=source(
        "code: decision-diffuser (the IDM reads the diffused, CDF-normalised s_t and s_t+1)"))


@dataclass(frozen=True)
class PlanBatch:
    states: torch.Tensor | None  # [B, H, obs] raw, s_t first (None when x0 holds them normalised)
    weight: torch.Tensor  # [B, H] 1 where the state is known
    rtg: torch.Tensor  # [B] normalised return-to-go at s_t
    x0: torch.Tensor | None = None  # [B, H, obs] the states normalised from tables encoded once (training)


class DecisionDiffuser(DiffusionModel):
    """`observations` [N, obs] are the data's states the per-dimension normaliser is fitted to."""

    def __init__(self, config: DecisionDiffuserConfig, obs_dim: int, observations):
        super().__init__(ConditionedDenoiser(obs_dim, None, config.width, config.width_mults,
                                             config.rtg_embedding_mult),
                         make_normalizer(config.normalizer, observations), config)
        self.config, self.obs_dim = config, obs_dim

    def _fixed(self, batch: int, device: torch.device) -> torch.Tensor:
        fixed = torch.zeros(batch, self.config.horizon, self.obs_dim, dtype=torch.bool, device=device)
        fixed[:, 0] = True
        return fixed

    def loss(self, batch: PlanBatch) -> torch.Tensor:
        x0 = batch.x0 if batch.x0 is not None else self.normalizer(batch.states)
        drop = torch.rand(len(x0), device=x0.device) < self.config.condition_dropout
        weight = batch.weight[..., None].expand_as(x0)
        return self.diffusion.training_loss(self.denoiser, x0, {"rtg": batch.rtg}, self._fixed(len(x0), x0.device),
                                            weight, drop)

    @torch.no_grad()
    def plan(self, states: torch.Tensor, rtg: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """states [E, obs] raw -> plans [E, H, obs] raw, the first state equal to `states`."""
        values = torch.zeros(len(states), self.config.horizon, self.obs_dim, device=states.device)
        values[:, 0] = self.normalizer(states)
        rtg_values = torch.full((len(states),), rtg, device=states.device)
        x = self.diffusion.sample(self.ema, values, self._fixed(len(states), states.device), {"rtg": rtg_values},
                                  self.config.sampler, generator)
        plans = self.normalizer.invert(x)
        plans[:, 0] = states  # exact, not through the normalisation round trip
        return plans


class DDPolicy:
    """Acts for E environments at once: one sampler call per step, then the IDM on (s_t, s^_{t+1}).

    Keeps the time spent per call, which result files report (DWM compares DD's inference cost with its own).
    """

    def __init__(self, model: DecisionDiffuser, idm: InverseDynamics, normalize, generator: torch.Generator):
        self.model, self.idm, self.normalize, self.generator = model, idm, normalize, generator
        self.call_seconds: list[float] = []

    @torch.no_grad()
    def __call__(self, observations: torch.Tensor) -> torch.Tensor:
        tick = time.perf_counter()
        plans = self.model.plan(observations, self.model.config.test_return, self.generator)
        actions = self.idm.infer(self.normalize(plans[:, :2]))
        self.call_seconds.append(time.perf_counter() - tick)
        return actions
