"""Trained-once artefacts: the diffusion world model and the inverse dynamics model of a (task, seed, profile).

Each is cached under a content hash of (its config, the dataset checksum, its step budget, the seed), so
DWM-*, DAWM-* and the ablations train it once and share it; concurrent runs wait for the first trainer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from algorithms.inverse_dynamics import InverseDynamics, InverseDynamicsConfig
from algorithms.world_model import DiffusionWorldModel, DiffusionWorldModelConfig, WindowBatch
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions
from benchmark.locks import file_lock
from benchmark.results import write_json_atomic

DEFAULT_CACHE = Path(".cache")
Report = Callable[[int, int], None]  # (step, total)


@dataclass(frozen=True)
class Artifact:
    path: Path  # the weights
    sha256: str  # of the weights file: what result files and rollout banks name
    meta: dict


def content_key(**parts) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cached(folder: Path, train) -> Artifact:
    """Load folder/weights.pt, or train it under a lock (train() -> (state_dict, meta)) and save it atomically."""
    weights = folder / "weights.pt"
    with file_lock(folder / ".lock"):
        if not weights.exists():
            state, meta = train()
            temporary = weights.with_suffix(".tmp")
            torch.save(state, temporary)
            os.replace(temporary, weights)
            write_json_atomic(folder / "meta.json", meta)
    return Artifact(weights, _sha256(weights), json.loads((folder / "meta.json").read_text()))


def window_batches(data: Transitions, config: DiffusionWorldModelConfig, device: torch.device) -> WindowBatch:
    """Every window of the data as one WindowBatch on the device (sampled by index while training)."""
    segments = data.segments(config.max_horizon).gather(np.arange(data.size))
    if config.rtg_to_episode_end:
        rtg = data.returns_to_go(config.rtg_discount)
    else:
        powers = config.rtg_discount ** np.arange(config.max_horizon)
        rtg = (segments.rewards * powers).sum(1)
    known_state = np.concatenate([np.ones_like(segments.real[:, :1]), segments.real | segments.absorbing], axis=1)
    reward_known = segments.real | segments.absorbing

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)

    return WindowBatch(tensor(segments.observations), tensor(segments.rewards), tensor(known_state),
                       tensor(reward_known), tensor(data.actions), tensor(rtg / config.rtg_scale))


def world_model(data: Transitions, config: DiffusionWorldModelConfig, steps: int, seed: int,
                device: torch.device, cache: Path, report: Report | None = None) -> tuple[DiffusionWorldModel, Artifact]:
    key = content_key(kind="world_model", config=dataclasses.asdict(config), steps=steps, seed=seed,
                      data=data.checksum())
    folder = Path(cache) / "world_models" / key

    def build() -> DiffusionWorldModel:
        return DiffusionWorldModel(config, data.obs_dim, data.act_dim, data.observations.mean(0),
                                   data.observations.std(0) + 1e-3, float(data.rewards.mean()),
                                   float(data.rewards.std() + 1e-3)).to(device)

    def train():
        torch.manual_seed(seed)
        model, windows = build(), window_batches(data, config, device)
        generator, started, losses = torch.Generator(device).manual_seed(seed), time.perf_counter(), []
        for step in range(1, steps + 1):
            index = torch.randint(0, data.size, (config.batch_size,), device=device, generator=generator)
            loss = model.update(WindowBatch(*(getattr(windows, f.name)[index]
                                              for f in dataclasses.fields(WindowBatch))))["loss"]
            if step % max(1, steps // 100) == 0:
                losses.append([step, loss])
                if report is not None:
                    report(step, steps)
        meta = {"key": key, "config": dataclasses.asdict(config), "steps": steps,
                "seed": seed, "data_checksum": data.checksum(), "train_time_s": time.perf_counter() - started,
                "loss_curve": losses}
        return model.state_dict(), meta

    artifact = _cached(folder, train)
    model = build()
    model.load_state_dict(torch.load(artifact.path, map_location=device, weights_only=True))
    return model.eval(), artifact


def idm_contexts(states: torch.Tensor, history: int) -> torch.Tensor:
    """states [B, L, obs] -> the IDM's inputs for every step with m predecessors and a successor:
    [B, L - m - 1, m + 2, obs]."""
    return states.unfold(1, history + 2, 1).permute(0, 1, 3, 2)


def inverse_dynamics(data: Transitions, normalizer: StateNormalizer, config: InverseDynamicsConfig, steps: int,
                     seed: int, device: torch.device, cache: Path, report: Report | None = None,
                     ) -> tuple[InverseDynamics, Artifact]:
    key = content_key(kind="inverse_dynamics", config=dataclasses.asdict(config), steps=steps, seed=seed,
                      data=data.checksum(), normalizer=normalizer.to_dict())
    folder = Path(cache) / "inverse_dynamics" / key

    def train():
        torch.manual_seed(seed)
        model = InverseDynamics(config, data.obs_dim, data.act_dim).to(device)
        history = data.observations[data.history_rows(config.history)]  # [N, m, obs]
        contexts = np.concatenate([history, data.observations[:, None], data.next_observations[:, None]], axis=1)
        contexts = torch.as_tensor(normalizer(contexts), device=device)
        actions = torch.as_tensor(data.actions, device=device)
        generator, started, losses = torch.Generator(device).manual_seed(seed), time.perf_counter(), []
        for step in range(1, steps + 1):
            index = torch.randint(0, data.size, (config.batch_size,), device=device, generator=generator)
            nll = model.update(contexts[index], actions[index])["nll"]
            if step % max(1, steps // 100) == 0:
                losses.append([step, nll])
                if report is not None:
                    report(step, steps)
        meta = {"key": key, "config": dataclasses.asdict(config), "steps": steps, "seed": seed,
                "data_checksum": data.checksum(), "train_time_s": time.perf_counter() - started,
                "nll_curve": losses}
        return model.state_dict(), meta

    artifact = _cached(folder, train)
    model = InverseDynamics(config, data.obs_dim, data.act_dim).to(device)
    model.load_state_dict(torch.load(artifact.path, map_location=device, weights_only=True))
    return model.eval(), artifact
