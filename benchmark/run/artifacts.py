"""Trained-once artefacts: the diffusion world model and the inverse dynamics model of a (task, seed, profile).

Each is cached under a content hash of (its config, the dataset checksum, its step budget, the seed), so
DWM-*, DAWM-* and the ablations train it once and share it; concurrent runs wait for the first trainer.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import pickle
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from algorithms.decision_diffuser import DecisionDiffuser, DecisionDiffuserConfig, PlanBatch
from algorithms.inverse_dynamics import InverseDynamics, InverseDynamicsConfig
from algorithms.one_step_model import OneStepModel, OneStepModelConfig, Termination
from algorithms.optim import OPTIMIZER
from algorithms.world_model import DiffusionWorldModel, DiffusionWorldModelConfig, WindowBatch
from benchmark.data.normalization import StateNormalizer
from benchmark.data.transitions import Transitions
from benchmark.grid.hyperparams import training_config
from benchmark.run.completion import set_aside
from benchmark.locks import file_lock
from benchmark.run.resumable import TrainingCheckpoint
from benchmark.results import save_durably, write_json_atomic

DEFAULT_CACHE = Path(".cache")
# Part of the world model's cache key. 2: every field of a training batch comes from the same rows (version 1
# drew rows per field, so actions, rewards and RTGs were unrelated to the states; its models ignored them).
# 3: the last row's reward r_{t+T-1} is modelled (DWM's x), no longer an unconstrained entry left to drift.
# (The normaliser and clipping are config fields, so their changes change the key by themselves.)
WORLD_MODEL_TRAINER = 3
# Part of the one-step model's cache key. 2: a real hold-out split with early stopping (1 validated on 1% of its
# own training data and trained for the full budget). 3: patience counts epochs, not validations (2 stopped
# after 5,000 steps without a 1% gain; OfflineRL-Kit waits 5 epochs, ~19k steps on 1M rows).
ONE_STEP_TRAINER = 3
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


def _cached(folder: Path, train: Callable[[TrainingCheckpoint], tuple[dict, dict]], load: Callable[[Path], Any],
            steps: int) -> tuple[Any, Artifact]:
    """The model of `folder` (weights.pt and meta.json), or train(checkpoint) -> (state_dict, meta[, files]) under
    a lock, resumable from its training checkpoint (benchmark/run/resumable.py); `files` ({name: state}) are
    saved beside the weights as <name>.pt (snapshots).

    An entry is written as one unit (a temporary folder renamed into place), so a kill never leaves half of
    one; an entry that cannot be read (an older half-written one, a damaged file) is set aside with a warning
    and trained again.
    """
    with file_lock(folder.with_name(f".{folder.name}.lock")):
        if folder.exists():
            try:
                return _load_entry(folder, load)
            except (OSError, EOFError, RuntimeError, ValueError, KeyError, pickle.UnpicklingError) as error:
                kept = set_aside(folder, "broken")
                print(f"warning: cached model {folder} cannot be read ({type(error).__name__}: {error}); kept as "
                      f"{kept}, training it again", file=sys.stderr)
        checkpoint = TrainingCheckpoint(folder.with_name(f".{folder.name}.training.pt"), steps)
        state, meta, *extra_files = train(checkpoint)
        temporary = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(temporary, ignore_errors=True)
        try:
            temporary.mkdir(parents=True)
            save_durably(state, temporary / "weights.pt")
            for name, content in (extra_files[0] if extra_files else {}).items():
                save_durably(content, temporary / f"{name}.pt")
            write_json_atomic(temporary / "meta.json", meta)
            os.replace(temporary, folder)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        checkpoint.remove()
        return _load_entry(folder, load)


def _loaded(model: torch.nn.Module, path: Path, device: torch.device) -> torch.nn.Module:
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model.eval()


def _load_entry(folder: Path, load: Callable[[Path], Any]) -> tuple[Any, Artifact]:
    weights = folder / "weights.pt"
    meta = json.loads((folder / "meta.json").read_text())
    return load(weights), Artifact(weights, _sha256(weights), meta)


def conditioning_rtg(data: Transitions, config: DiffusionWorldModelConfig) -> np.ndarray:
    """[N] the return-to-go each row's window is conditioned on in training, divided by the return scale."""
    if config.rtg_to_episode_end:
        rtg = data.returns_to_go(config.rtg_discount)
    else:
        rewards = data.segments(config.sequence_length).gather(np.arange(data.size)).rewards
        rtg = (rewards * config.rtg_discount ** np.arange(config.sequence_length)).sum(1)
    return rtg / config.rtg_scale


def snapshot(model: torch.nn.Module, artifact: Artifact, step: int) -> torch.nn.Module:
    """The model as it was after `step` steps of the training that made `artifact` (trained with snapshots)."""
    path = artifact.path.parent / f"snapshot-{step}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: train with snapshots=({step}, ...) to keep it")
    earlier = copy.deepcopy(model)
    earlier.load_state_dict(torch.load(path, map_location=next(model.parameters()).device, weights_only=True))
    return earlier.eval()


def artifact_summary(artifact: Artifact) -> dict:
    """What a result file records about an artefact it used."""
    meta = artifact.meta
    return {"sha256": artifact.sha256, "key": meta["key"], "steps": meta["steps"],
            "train_time_s": meta["train_time_s"], "final_loss": meta["loss_curve"][-1][1]}


def window_batches(data: Transitions, config: DiffusionWorldModelConfig, device: torch.device) -> WindowBatch:
    """Every window of the data as one WindowBatch on the device (sampled by index while training)."""
    T = config.sequence_length
    segments = data.segments(T).gather(np.arange(data.size))  # T transitions: states s_t..s_{t+T}, T rewards
    known = segments.real | segments.absorbing  # [N, T]
    known_state = np.concatenate([np.ones_like(known[:, :1]), known[:, : T - 1]], axis=1)
    reward_known = known

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)

    return WindowBatch(tensor(segments.observations[:, :T]), tensor(segments.rewards), tensor(known_state),
                       tensor(reward_known), tensor(data.actions), tensor(conditioning_rtg(data, config)))


def _trained(kind: str, folder_name: str, config, data: Transitions, steps: int, seed: int, device: torch.device,
             cache: Path, build, batches, loss_name: str, report: Report | None, snapshots: tuple[int, ...] = (),
             **key_parts) -> tuple[Any, Artifact]:
    """The model `build()` makes, trained for `steps` on `batches(generator)` (update's arguments), cached.

    `snapshots`: steps at which the weights are also kept (snapshot-<step>.pt beside weights.pt): the model a
    run of that many steps would end with, since nothing in training depends on the total (budget sweeps)."""
    if snapshots:
        key_parts["snapshots"] = sorted(snapshots)
    trained = training_config(config)
    key = content_key(kind=kind, config=trained, steps=steps, seed=seed, data=data.checksum(), optimizer=OPTIMIZER,
                      **key_parts)

    def train(checkpoint: TrainingCheckpoint):
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            return train_seeded(checkpoint)

    def train_seeded(checkpoint: TrainingCheckpoint):  # in a forked RNG: the same numbers, cached or not
        torch.manual_seed(seed)
        model = build()
        next_batch = batches(model)
        generator = torch.Generator(device).manual_seed(seed)
        start, extra = checkpoint.restore(model, generator) or (0, {"losses": [], "seconds": 0.0})
        started = time.perf_counter() - extra["seconds"]
        for step in range(start + 1, steps + 1):
            loss = model.update(*next_batch(generator))[loss_name]
            if step in snapshots:
                extra.setdefault("snapshots", {})[step] = {k: v.clone() for k, v in model.state_dict().items()}
            if step % max(1, steps // 100) == 0:  # read on the host at this cadence only
                extra["losses"].append([step, float(loss)])
                if report is not None:
                    report(step, steps)
            extra["seconds"] = time.perf_counter() - started
            checkpoint.save(step, model, generator, extra)
        meta = {"key": key, "config": trained, "steps": steps, "seed": seed,
                "data_checksum": data.checksum(), "train_time_s": time.perf_counter() - started,
                "resumed_at_step": start or None, "loss_curve": extra["losses"]}
        return model.state_dict(), meta, {f"snapshot-{step}": state
                                          for step, state in extra.get("snapshots", {}).items()}

    return _cached(Path(cache) / folder_name / key, train, lambda path: _loaded(build(), path, device), steps)


def _rows(data: Transitions, batch_size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(0, data.size, (batch_size,), device=device, generator=generator)


def world_model(data: Transitions, config: DiffusionWorldModelConfig, steps: int, seed: int, device: torch.device,
                cache: Path, report: Report | None = None, snapshots: tuple[int, ...] = (),
                ) -> tuple[DiffusionWorldModel, Artifact]:
    def build() -> DiffusionWorldModel:
        rows = np.concatenate([data.observations, data.rewards[:, None]], axis=1)
        return DiffusionWorldModel(config, data.obs_dim, data.act_dim, rows).to(device)

    return _trained("world_model", "world_models", config, data, steps, seed, device, cache, build,
                    lambda model: world_model_batches(data, config, device, model), "loss", report, snapshots,
                    trainer=WORLD_MODEL_TRAINER)


def world_model_batches(data: Transitions, config: DiffusionWorldModelConfig, device: torch.device,
                        model: DiffusionWorldModel) -> Callable[[torch.Generator], tuple[WindowBatch]]:
    """generator -> (a batch of windows at random rows,): the world model's update arguments, normalised once by
    `model` for all batches."""
    windows = model.encoded(window_batches(data, config, device))
    rows = config.batch_size * config.gradient_accumulation  # the micro-batches of one update
    return lambda generator: (windows.select(_rows(data, rows, generator, device)),)


def idm_contexts(states: torch.Tensor, history: int) -> torch.Tensor:
    """states [B, L, obs] -> the IDM's inputs for every step with m predecessors and a successor:
    [B, L - m - 1, m + 2, obs]."""
    return states.unfold(1, history + 2, 1).permute(0, 1, 3, 2)


def _normalizer_key(normalizer: StateNormalizer | torch.nn.Module) -> str:
    """What identifies a state normaliser in a cache key: its statistics, or a digest of a module's buffers."""
    if isinstance(normalizer, StateNormalizer):
        return json.dumps(normalizer.to_dict())
    digest = hashlib.sha256()
    for buffer in normalizer.buffers():
        digest.update(buffer.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def inverse_dynamics(data: Transitions, normalizer: StateNormalizer | torch.nn.Module, config: InverseDynamicsConfig,
                     steps: int, seed: int, device: torch.device, cache: Path, report: Report | None = None,
                     snapshots: tuple[int, ...] = ()) -> tuple[InverseDynamics, Artifact]:
    """`normalizer` maps raw states (tensors) to the IDM's inputs: the agent's z-score, or a plan model's own."""
    def build() -> InverseDynamics:
        return InverseDynamics(config, data.obs_dim, data.act_dim, actions=data.actions).to(device)

    def batches(model: InverseDynamics):
        history = data.observations[data.history_rows(config.history)]  # [N, m, obs]
        contexts = np.concatenate([history, data.observations[:, None], data.next_observations[:, None]], axis=1)
        with torch.no_grad():
            contexts = normalizer(torch.as_tensor(contexts, device=device))
        actions = torch.as_tensor(data.actions, device=device)

        def next_batch(generator):
            rows = _rows(data, config.batch_size, generator, device)
            return contexts[rows], actions[rows]
        return next_batch

    return _trained("inverse_dynamics", "inverse_dynamics", config, data, steps, seed, device, cache, build, batches,
                    config.objective, report, snapshots, normalizer=_normalizer_key(normalizer))


class StateWindows:
    """Windows of `length` states s_t, s_{t+1}, ... from any row, gathered on the device per batch.

    Past the episode's end a window repeats its final state; that padding counts as known (weight 1) after a
    true terminal (the exact absorbing state) and unknown after a timeout.
    """

    def __init__(self, data: Transitions, length: int, device: torch.device,
                 encode: Callable[[torch.Tensor], torch.Tensor] | None = None):
        """`encode` (a model's normaliser) is applied to the state tables once: windows come out normalised."""
        starts, ends = data.episode_bounds()
        counts = ends - starts
        self.length = length
        self.observations = torch.as_tensor(data.observations, device=device)
        self.end = torch.as_tensor(np.repeat(ends, counts), device=device)  # [N] exclusive end row
        self.final = torch.as_tensor(data.next_observations[np.repeat(ends, counts) - 1], device=device)
        if encode is not None:
            with torch.no_grad():
                self.observations, self.final = encode(self.observations), encode(self.final)
        self.terminal = torch.as_tensor(np.repeat(data.terminals[ends - 1], counts), device=device)

    def gather(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """rows [B] -> states [B, L, obs], weight [B, L]."""
        index = rows[:, None] + torch.arange(self.length, device=rows.device)  # [B, L]
        end = self.end[rows][:, None]
        inside = index < end
        states = torch.where(inside[..., None], self.observations[torch.minimum(index, end - 1)],
                             self.final[rows][:, None])
        weight = (index <= end) | self.terminal[rows][:, None]
        return states, weight.float()


def decision_diffuser(data: Transitions, config: DecisionDiffuserConfig, steps: int, seed: int,
                      device: torch.device, cache: Path, report: Report | None = None,
                      ) -> tuple[DecisionDiffuser, Artifact]:
    def build() -> DecisionDiffuser:
        return DecisionDiffuser(config, data.obs_dim, data.observations).to(device)

    def batches(model: DecisionDiffuser):
        windows = StateWindows(data, config.horizon, device, model.normalizer)
        rtg = torch.as_tensor(data.returns_to_go(config.rtg_discount, config.terminal_penalty) / config.rtg_scale,
                              dtype=torch.float32, device=device)

        def next_batch(generator):
            rows = _rows(data, config.batch_size * config.gradient_accumulation, generator, device)
            x0, weight = windows.gather(rows)
            return (PlanBatch(None, weight, rtg[rows], x0),)
        return next_batch

    return _trained("decision_diffuser", "decision_diffusers", config, data, steps, seed, device, cache, build,
                    batches, "loss", report)


def one_step_model(data: Transitions, config: OneStepModelConfig, steps: int, seed: int, device: torch.device,
                   cache: Path, is_terminal: Termination | None = None, report: Report | None = None,
                   snapshots: tuple[int, ...] = ()) -> tuple[OneStepModel, Artifact]:
    """Trained as MOPO's and MBPO's dynamics models are: min(20%, 1000) shuffled transitions are held out and
    never trained on; every `validate_every` steps each member keeps its best weights on them (a 1% gain in
    `holdout_metric`); training runs `steps` steps, or with `patience_epochs` set stops after that many passes over
    the training split without a gain. The elites are the members with the lowest hold-out error. `snapshots`
    (multiples of `validate_every`) keep the model a run of that many steps would end with, as `_trained` does."""
    if any(step % config.validate_every for step in snapshots):
        raise ValueError(f"snapshot steps must be multiples of validate_every ({config.validate_every})")
    order = np.random.default_rng(seed).permutation(data.size)
    n_holdout = max(1, min(int(config.holdout_fraction * data.size), config.max_holdout))
    holdout, train_rows = order[:n_holdout], order[n_holdout:]
    patience_steps = (math.inf if config.patience_epochs is None
                      else config.patience_epochs * math.ceil(len(train_rows) / config.batch_size))
    inputs = np.concatenate([data.observations[train_rows], data.actions[train_rows]], axis=1)
    deltas = np.concatenate([data.next_observations[train_rows] - data.observations[train_rows],
                             data.rewards[train_rows, None]], axis=1)
    stats = ((inputs.mean(0), inputs.std(0) + 1e-3), (deltas.mean(0), deltas.std(0) + 1e-3))
    key = content_key(kind="one_step_model", config=dataclasses.asdict(config), steps=steps, seed=seed,
                      data=data.checksum(), trainer=ONE_STEP_TRAINER, optimizer=OPTIMIZER,
                      **({"snapshots": sorted(snapshots)} if snapshots else {}))

    def build() -> OneStepModel:
        return OneStepModel(config, data.obs_dim, data.act_dim, *stats, is_terminal).to(device)

    def tensors(rows: np.ndarray) -> list[torch.Tensor]:
        return [torch.as_tensor(x[rows], device=device) for x in (data.observations, data.actions,
                                                                    data.next_observations, data.rewards)]

    def train_model(checkpoint: TrainingCheckpoint):
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            model, fitted, held = build(), tensors(train_rows), tensors(holdout)
            generator = torch.Generator(device).manual_seed(seed)
            best = model.holdout_error(*held, config.holdout_metric)
            initial = {"losses": [], "seconds": 0.0, "best": best, "improved_at": 0, "snapshots": {},
                       "best_state": {name: value.clone() for name, value in model.state_dict().items()}}
            step, extra = checkpoint.restore(model, generator) or (0, initial)
            losses, best_state, best = extra["losses"], extra["best_state"], extra["best"]
            improved_at, kept = extra["improved_at"], extra["snapshots"]

            def chosen() -> dict:  # what training would end with now: each member's best weights, the elites
                return {**{name: value.clone() for name, value in best_state.items()},
                        "elite_members": best.argsort()[: config.elites]}
            started = time.perf_counter() - extra["seconds"]
            stopped = step > 0 and step % config.validate_every == 0 and step - improved_at >= patience_steps
            while step < steps and not stopped:
                step += 1
                rows = torch.randint(0, len(train_rows), (config.ensemble_size, config.batch_size), device=device,
                                     generator=generator)
                loss = model.update(*(t[rows] for t in fitted))["nll"]
                if step % config.validate_every == 0 or step == steps:
                    error = model.holdout_error(*held, config.holdout_metric)
                    improved = best - error > config.min_improvement * best.abs()  # [E]; an NLL can be negative
                    for name, value in model.state_dict().items():
                        if name.endswith(("weight", "bias")):  # ensemble parameters [E, ...]: per member
                            best_state[name][improved] = value[improved]
                    best = torch.where(improved, error, best)
                    improved_at = step if improved.any() else improved_at
                    stopped = step - improved_at >= patience_steps  # decided at a validation only
                    losses.append([step, float(loss), best.min().item()])
                    if step in snapshots:
                        kept[step] = chosen()
                    if report is not None:
                        report(step, steps)
                checkpoint.save(step, model, generator, {"losses": losses, "best_state": best_state, "best": best,
                                                         "improved_at": improved_at, "snapshots": kept,
                                                         "seconds": time.perf_counter() - started})
            for later in (s for s in snapshots if s not in kept):  # stopped early: later budgets end the same
                kept[later] = chosen()
            model.load_state_dict(best_state)
            model.elite_members = best.argsort()[: config.elites]
            meta = {"key": key, "config": dataclasses.asdict(config), "steps": step, "max_steps": steps, "seed": seed,
                    "data_checksum": data.checksum(), "train_time_s": time.perf_counter() - started,
                    "holdout_transitions": n_holdout, "holdout_metric": config.holdout_metric,
                    "holdout_error": best.tolist(),
                    "stopped_early": step < steps, "loss_curve": losses}
            return model.state_dict(), meta, {f"snapshot-{step}": state for step, state in kept.items()}

    return _cached(Path(cache) / "one_step_models" / key, train_model, lambda path: _loaded(build(), path, device),
                   steps)
