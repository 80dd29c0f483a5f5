"""The D4RL recipe on our SAC runs: medium, medium-replay, expert and medium-expert, from committed checkpoints.

- expert / medium: the checkpoints chosen from the committed evaluation curve and medium assessment
  (`medium_choice.chosen_checkpoints`).
- medium / expert datasets: 1M transitions of the policy's own stochastic actions (tanh-Gaussian samples),
  10 environments stepped together; the episodes still running at 1M are cut (truncated).
- medium-replay: the training run's replay buffer up to the medium checkpoint, in insertion order, rebuilt by
  replaying the collection stream with the committed checkpoints (behaviour.py). The committed runs collected
  with torch's CPU kernels, and the rebuild acts through the portable forward pass, so its stream is the same
  policies' with other last bits: the same process, not the same bytes, as the run's own buffer.
- medium-expert: medium's episodes followed by expert's.

Every action comes from `TanhGaussianActor.sample_portable`, so a build is the same on every CPU.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from algorithms.sac import TanhGaussianActor
from benchmark.data.behaviour import (BEHAVIOUR_DIR, D4RL_MEDIUM_SCORE, BehaviourRecipe, SACConfig, Selection,
                                      actor_path, file_sha256, load_actor, read_curve, replay_collection)
from benchmark.data.medium_choice import chosen_checkpoints
from benchmark.data.minari_io import (Episode, EpisodeWriter, build_lock, dataset_caveats, dataset_exists,
                                      local_dataset_id, read_episodes, write_dataset)
from benchmark.envs.tasks import ENVS, normalized_score

RECIPE_DATASETS = ("medium", "medium-replay", "expert", "medium-expert")
ROLLOUT_TRANSITIONS = 1_000_000
ROLLOUT_ENVS = 10
ROLLOUT_SEEDS = {"medium": 1, "expert": 2}  # the training run itself uses seed 0


@dataclass(frozen=True)
class BehaviourRun:
    """A committed SAC run: its recipe, curve, and the checkpoints the D4RL rule picks."""

    env: str
    folder: Path
    recipe: BehaviourRecipe
    resets: tuple[int, ...]
    selection: Selection
    curve: tuple[dict, ...]

    @property
    def medium_step(self) -> int:
        return self.selection.medium

    @property
    def expert_step(self) -> int:
        return self.selection.expert

    def return_at(self, step: int) -> float:
        return self.row_at(step)["return_mean"]

    def row_at(self, step: int) -> dict:
        return next(row for row in self.curve if row["step"] == step)

    def caveats(self, name: str) -> list[str]:
        """Where a dataset built from this run misses the recipe's targets (issue 14); reports mark its tasks."""
        expert = self.row_at(self.expert_step)
        found = []
        if name != "expert" and not self.selection.medium_on_target:
            found.append(f"medium policy off D4RL's level: stochastic score {self.selection.medium_score:.1f} over "
                         f"{self.selection.medium_episodes} episodes at step "
                         f"{self.medium_step}, target {D4RL_MEDIUM_SCORE[self.env]:.0f} ± "
                         f"{self.recipe.medium_tolerance:.0f} at two consecutive checkpoints")
        if name in ("expert", "medium-expert") and not self.selection.expert_on_target:
            found.append(f"expert policy below the target {self.recipe.expert_target:.0f}: deterministic "
                         f"{expert['score']:.1f}, stochastic {expert['stochastic_score']:.1f} at step "
                         f"{self.expert_step}")
        return found


def behaviour_run_available(env: str) -> bool:
    return (BEHAVIOUR_DIR / env / "run.json").is_file()


def load_behaviour_run(env: str, folder: Path | None = None) -> BehaviourRun:
    folder = folder or BEHAVIOUR_DIR / env
    if not (folder / "run.json").is_file():
        raise FileNotFoundError(f"no finished behaviour run in {folder}: train it with "
                                f"`python -m benchmark.data train-behaviour --env {env}`")
    run = json.loads((folder / "run.json").read_text())
    recipe_fields = dict(run["recipe"])
    recipe_fields["sac"] = SACConfig(**{**recipe_fields["sac"], "hidden": tuple(recipe_fields["sac"]["hidden"])})
    recipe = BehaviourRecipe(**recipe_fields)
    curve = read_curve(folder)
    selection = chosen_checkpoints(folder, env, recipe)
    return BehaviourRun(env, folder, recipe, tuple(run["collector_resets_at"]), selection, tuple(curve))


@torch.no_grad()
def rollout(env_name: str, actor: TanhGaussianActor, n_transitions: int, seed: int, n_envs: int = ROLLOUT_ENVS,
            progress: bool = False) -> list[Episode]:
    """Exactly n_transitions of the stochastic policy, N environments in lockstep; deterministic per seed."""
    torch.set_num_threads(1)
    info = ENVS[env_name]
    envs = [gym.make(info.gym_id) for _ in range(n_envs)]
    generator = torch.Generator().manual_seed(seed)
    next_seed = seed * 10_000_000

    def start(i: int) -> EpisodeWriter:
        nonlocal next_seed
        observation, _ = envs[i].reset(seed=next_seed)
        next_seed += 1
        return EpisodeWriter(observation.astype(np.float32), next_seed - 1)

    writers = [start(i) for i in range(n_envs)]
    episodes, total = [], 0
    bar = tqdm(total=n_transitions, desc=f"{env_name} rollout", unit="step", disable=not progress, mininterval=1)
    while total < n_transitions:
        active = min(n_envs, n_transitions - total)
        observations = torch.as_tensor(np.stack([w.observations[-1] for w in writers[:active]]))
        actions = actor.sample_portable(observations, generator).numpy()
        for i in range(active):
            next_observation, reward, terminated, truncated, _ = envs[i].step(actions[i])
            writers[i].add(actions[i], float(reward), next_observation.astype(np.float32), terminated, truncated)
            if terminated or truncated:
                episodes.append(writers[i].close())
                writers[i] = start(i)
        total += active
        bar.update(active)
    bar.close()
    episodes += [w.close() for w in writers if len(w)]
    return episodes


def replay_training_stream(run: BehaviourRun, n_steps: int, progress: bool = False) -> list[Episode]:
    """The first n_steps transitions the SAC run collected, in insertion order, split into episodes."""
    return replay_collection(run.folder, run.env, run.recipe, run.resets, n_steps, progress)


def built_caveats(run: BehaviourRun, name: str, episodes: list[Episode]) -> list[str]:
    """The run's caveats for dataset `name`, and where the built dataset's own score misses its target: the
    checkpoint's evaluation (a few episodes) only estimates what its 1M transitions score."""
    found = run.caveats(name)
    score = float(normalized_score(run.env, np.mean([episode.rewards.sum() for episode in episodes])))
    level, tolerance = D4RL_MEDIUM_SCORE[run.env], run.recipe.medium_tolerance
    if name == "medium" and abs(score - level) > tolerance:
        found.append(f"medium dataset scores {score:.1f}, off D4RL's {level:.0f} ± {tolerance:.0f} (its checkpoint's "
                     f"{run.selection.medium_episodes}-episode evaluation: {run.selection.medium_score:.1f})")
    if name == "expert" and score < run.recipe.expert_target:
        found.append(f"expert dataset scores {score:.1f}, below the target {run.recipe.expert_target:.0f}")
    if name == "medium-expert":
        for part in ("medium", "expert"):
            found += [c for c in dataset_caveats(local_dataset_id(run.env, part)) or () if c not in found]
    return found


def _metadata(run: BehaviourRun, name: str, n_transitions: int, caveats: list[str]) -> dict:
    steps = {"medium": [run.medium_step], "expert": [run.expert_step],
             "medium-expert": [run.medium_step, run.expert_step],
             "medium-replay": list(range(run.recipe.start_steps, run.medium_step, run.recipe.checkpoint_every))}[name]
    return {"dawm_bench": {
        "recipe": name, "behaviour_run": asdict(run.recipe), "collector_resets_at": list(run.resets),
        "medium_step": run.medium_step, "expert_step": run.expert_step,
        "medium_eval_return": run.return_at(run.medium_step), "expert_eval_return": run.return_at(run.expert_step),
        "rollout_transitions": n_transitions, "rollout_envs": ROLLOUT_ENVS,
        "rollout_seeds": {k: v for k, v in ROLLOUT_SEEDS.items() if k in name},
        "checkpoint_sha256": {str(s): file_sha256(actor_path(run.folder, s)) for s in steps},
        "caveats": caveats,
    }}


DESCRIPTIONS = {
    "medium": "1M transitions of the medium SAC policy (first checkpoint at 1/3 of the expert's return)",
    "expert": "1M transitions of the expert SAC policy (best checkpoint)",
    "medium-replay": "the SAC run's replay buffer up to the medium checkpoint, in insertion order",
    "medium-expert": "medium followed by expert",
}


def build_dataset(env: str, name: str, run: BehaviourRun | None = None, progress: bool = False,
                  n_transitions: int | None = None) -> str:
    """Build local_dataset_id(env, name) from the committed behaviour run, unless it exists."""
    target, n_transitions = local_dataset_id(env, name), n_transitions or ROLLOUT_TRANSITIONS
    with build_lock():
        if dataset_exists(target):
            return target
    run = run or load_behaviour_run(env)
    if name == "medium-replay":
        episodes = replay_training_stream(run, run.medium_step, progress)
    elif name == "medium-expert":
        parts = [build_dataset(env, part, run, progress, n_transitions) for part in ("medium", "expert")]
        episodes = [episode for part in parts for episode in read_episodes(part)]
    else:
        step = run.medium_step if name == "medium" else run.expert_step
        actor = load_actor(run.folder, env, step, run.recipe)
        episodes = rollout(env, actor, n_transitions, ROLLOUT_SEEDS[name], progress=progress)
    info = ENVS[env]
    with build_lock():
        if not dataset_exists(target):
            write_dataset(target, episodes, info.gym_id, ref_min_score=info.ref_min_score,
                          ref_max_score=info.ref_max_score, algorithm_name="SAC (D4RL recipe)",
                          description=f"{DESCRIPTIONS[name]}; SAC on {info.gym_id}, see results/datasets.md",
                          extra_metadata=_metadata(run, name, n_transitions, built_caveats(run, name, episodes)))
    return target
