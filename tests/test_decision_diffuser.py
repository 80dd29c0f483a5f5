"""Decision Diffuser: plans start at the observation; one sampler call acts for every environment."""

import dataclasses

import numpy as np
import pytest
import torch

from algorithms.decision_diffuser import (DDInverseDynamicsConfig, DDOfficialConfig, DDOfficialInverseDynamicsConfig,
                                          DDPolicy, DecisionDiffuser, DecisionDiffuserConfig, PlanBatch)
from algorithms.inverse_dynamics import InverseDynamics
from benchmark.run.artifacts import StateWindows
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions

CONFIG = DecisionDiffuserConfig(horizon=8, width=16)


def model(config: DecisionDiffuserConfig = CONFIG, obs_dim: int = 11) -> DecisionDiffuser:
    torch.manual_seed(0)
    return DecisionDiffuser(config, obs_dim, np.random.default_rng(0).normal(size=(100, obs_dim))).eval()


def test_first_plan_state_equals_the_observation():
    observations = torch.randn(4, 11) * 3
    plans = model().plan(observations, rtg=0.7, generator=torch.Generator().manual_seed(0))
    assert plans.shape == (4, 8, 11) and torch.equal(plans[:, 0], observations)


def test_policy_acts_for_all_envs_with_one_sampler_call_per_step(monkeypatch):
    dd = model()
    calls = []
    sample = dd.diffusion.sample

    def counting(*args, **kwargs):
        calls.append(len(args[1]))
        return sample(*args, **kwargs)

    monkeypatch.setattr(dd.diffusion, "sample", counting)
    idm = InverseDynamics(DDInverseDynamicsConfig(hidden=(32,)), 11, 3).eval()
    policy = DDPolicy(dd, idm, StateNormalizer.identity(11), torch.Generator().manual_seed(0))
    for _ in range(2):
        actions = policy(torch.randn(5, 11))
    assert calls == [5, 5] and actions.shape == (5, 3) and actions.abs().max() <= 1.0
    assert len(policy.call_seconds) == 2


def test_state_windows_pad_past_the_episode_end():
    n = 6
    observations = np.arange(n, dtype=np.float32)[:, None]
    terminals = np.array([False, False, True, False, False, False])
    timeouts = np.array([False, False, False, False, False, True])
    data = Transitions(observations, np.zeros((n, 1), np.float32), np.zeros(n, np.float32), observations + 0.5,
                       terminals, timeouts)
    states, weight = StateWindows(data, 4, torch.device("cpu")).gather(torch.tensor([1, 4]))
    # row 1: s1, s2, then the terminal's next state 2.5 (known), then its absorbing repeat (known)
    assert states[0, :, 0].tolist() == [1.0, 2.0, 2.5, 2.5] and weight[0].tolist() == [1, 1, 1, 1]
    # row 4: s4, s5, the timeout's next state 5.5 (known), then unknown padding
    assert states[1, :, 0].tolist() == [4.0, 5.0, 5.5, 5.5] and weight[1].tolist() == [1, 1, 1, 0]


def test_dd_plans_in_z_scored_states_like_the_world_model_and_clipping_needs_the_cdf():
    from algorithms.diffusion.normalizer import ZScore
    from algorithms.world_model import DiffusionWorldModelConfig

    dd = model(DecisionDiffuserConfig(horizon=8, width=16))
    assert isinstance(dd.normalizer, ZScore) and not dd.diffusion.clip_denoised
    assert DecisionDiffuserConfig().normalizer == DiffusionWorldModelConfig().normalizer
    with pytest.raises(ValueError, match="cdf normalizer only"):
        DecisionDiffuserConfig(clip_denoised=True)


def test_a_sweep_over_sampling_settings_reuses_the_plan_model_and_a_training_setting_does_not(tmp_path):
    from algorithms.diffusion.gaussian import SamplerSettings
    from benchmark.run.artifacts import decision_diffuser

    rng = np.random.default_rng(0)
    n = 40
    observations = rng.normal(size=(n, 3)).astype(np.float32)
    data = Transitions(observations, rng.uniform(-1, 1, (n, 2)).astype(np.float32), rng.normal(size=n).astype(
        np.float32), np.roll(observations, -1, 0), np.arange(n) % 10 == 9, np.zeros(n, bool))

    def trained(config):
        return decision_diffuser(data, config, steps=2, seed=0, device=torch.device("cpu"), cache=tmp_path)[1]

    base = DecisionDiffuserConfig(horizon=4, width=8, batch_size=4)
    first = trained(base)
    swept = trained(dataclasses.replace(base, test_return=0.9, sampler=SamplerSettings(steps=5, guidance=1.6)))
    retrained = trained(dataclasses.replace(base, normalizer="cdf", clip_denoised=True))
    assert swept.path == first.path and swept.sha256 == first.sha256
    assert "test_return" not in first.meta["config"] and "sampler" not in first.meta["config"]
    assert retrained.path != first.path and retrained.meta["config"]["normalizer"] == "cdf"


def test_dd_official_preset_has_the_official_codes_settings():
    from algorithms.diffusion.normalizer import EmpiricalCDF

    config = DDOfficialConfig()
    assert (config.horizon, config.diffusion_steps, config.width, config.width_mults) == (100, 200, 128, (1, 4, 8))
    assert config.predict_epsilon and config.clip_denoised and config.normalizer == "cdf"
    assert (config.batch_size, config.gradient_accumulation, config.ema_start) == (32, 2, 2000)
    dd = model(config, obs_dim=11)
    assert isinstance(dd.normalizer, EmpiricalCDF) and dd.diffusion.clip_denoised and dd.diffusion.step_offset == -1
    widths = [(layer.in_features, layer.out_features) for layer in dd.denoiser.rtg_encoder
              if isinstance(layer, torch.nn.Linear)]
    assert widths == [(1, 128), (128, 512), (512, 128)]  # the returns MLP: dim -> 4 dim -> dim


def test_dwm_rerun_preset_updates_on_as_many_windows_as_dd_code():
    """DD's code averages two micro-batches of 32 per update; the re-run preset takes the 64 in one pass."""
    rerun, official = DecisionDiffuserConfig(), DDOfficialConfig()
    assert rerun.batch_size * rerun.gradient_accumulation == official.batch_size * official.gradient_accumulation == 64


def test_dd_official_network_sees_steps_199_to_0():
    from algorithms.diffusion.gaussian import GaussianDiffusion, SamplerSettings

    seen = []

    def recording(x, steps, condition, drop):
        seen.append(int(steps[0]))
        return torch.zeros_like(x)

    diffusion = GaussianDiffusion(200, predict_epsilon=True, clip_denoised=True, step_offset=-1)
    diffusion.sample(recording, torch.zeros(1, 2, 1), torch.zeros(1, 2, 1, dtype=torch.bool), {},
                     SamplerSettings(steps=200, guidance=1.0))
    assert seen == list(range(199, -1, -1))


def test_ema_copies_the_live_model_until_its_start_then_averages():
    config = DecisionDiffuserConfig(horizon=4, width=8, ema_start=20, ema_every=10)
    dd = DecisionDiffuser(config, 2, np.random.default_rng(0).normal(size=(50, 2)))
    batch = PlanBatch(torch.randn(config.batch_size, 4, 2), torch.ones(config.batch_size, 4),
                      torch.rand(config.batch_size))
    for _ in range(10):
        dd.update(batch)
    assert all(torch.equal(e, p) for e, p in zip(dd.ema.parameters(), dd.denoiser.parameters()))  # copied at 10
    for _ in range(20):
        dd.update(batch)
    assert not all(torch.equal(e, p) for e, p in zip(dd.ema.parameters(), dd.denoiser.parameters()))  # EMA at 20+


def test_gradient_accumulation_takes_micro_batches_in_one_optimiser_step(monkeypatch):
    config = DecisionDiffuserConfig(horizon=4, width=8, gradient_accumulation=2)
    dd = DecisionDiffuser(config, 2, np.random.default_rng(0).normal(size=(50, 2)))
    sizes, losses = [], iter([torch.tensor(2.0, requires_grad=True), torch.tensor(4.0, requires_grad=True)])
    monkeypatch.setattr(dd, "loss", lambda b: (sizes.append(len(b.states)), next(losses))[1])
    steps = []
    monkeypatch.setattr(dd.optimizer, "step", lambda: steps.append(1))
    out = dd.update(PlanBatch(torch.randn(64, 4, 2), torch.ones(64, 4), torch.rand(64)))
    assert sizes == [32, 32] and steps == [1] and out["loss"] == pytest.approx(3.0)  # (2 + 4) / 2


def test_dd_official_idm_is_a_plain_mlp_on_cdf_normalised_actions():
    actions = np.random.default_rng(0).uniform(-0.5, 0.8, size=(200, 3))
    idm = InverseDynamics(DDOfficialInverseDynamicsConfig(), 11, 3, actions=actions)
    with torch.no_grad():
        idm.net[-1].weight.zero_()
        idm.net[-1].bias.fill_(3.0)  # a mean of 3: no tanh squashes it
    assert torch.all(idm(torch.zeros(1, 2, 11))[0] == 3.0)
    inferred = idm.infer(torch.zeros(1, 2, 11))  # normalised 3 -> clipped to the data's largest action
    assert torch.allclose(inferred, torch.as_tensor(actions.max(0), dtype=torch.float32))
