"""The medium checkpoint's score, measured over enough episodes to choose it by.

A checkpoint's evaluation on the SAC curve (10 episodes) is too noisy to predict its dataset's score:
walker2d's step 485k scored 65.4 there and its 1M-transition dataset 71.3 (D4RL's level: 62 ± 5). So every
plausible medium candidate, and the checkpoint after it (the held check), is evaluated again with its
stochastic policy, the one that generates the datasets, over ASSESSMENT_EPISODES episodes. The scores are
committed beside the curve (medium_assessment.csv) and `select_checkpoints` chooses from them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from tqdm import tqdm

from benchmark.data.behaviour import (ASSESSMENT_FILE, D4RL_MEDIUM_SCORE, BehaviourRecipe, Selection, actor_path,
                                      load_actor, read_curve, select_checkpoints)
from benchmark.envs.evaluation import evaluate
from benchmark.envs.tasks import ENVS
from benchmark.results import write_text_atomic

ASSESSMENT_EPISODES = 100  # a standard error of ~1-2 points on these curves, against ~5 over 10 episodes
SCREEN_BAND = 15.0  # a 10-episode score this close to D4RL's level makes a checkpoint a candidate
FIRST_SEED = 20_000  # episode start states distinct from the curve's (10_000 + i)
COLUMNS = ("step", "episodes", "stochastic_score", "stochastic_score_sem")


def read_assessment(folder: Path) -> dict[int, float]:
    """step -> stochastic score over ASSESSMENT_EPISODES episodes; empty where none was measured."""
    path = folder / ASSESSMENT_FILE
    if not path.is_file():
        return {}
    with open(path) as handle:
        return {int(row["step"]): float(row["stochastic_score"]) for row in csv.DictReader(handle)}


def candidate_steps(curve: list[dict], env_name: str, recipe: BehaviourRecipe, folder: Path) -> list[int]:
    """Checkpoints whose curve score lies within SCREEN_BAND of D4RL's medium level (up to the expert), and the
    checkpoint after each; only those whose actor is still on disk."""
    expert = select_checkpoints(curve, env_name, recipe).expert
    level = D4RL_MEDIUM_SCORE[env_name]
    near = [row["step"] for row in curve if recipe.start_steps <= row["step"] <= expert
            and abs(row["stochastic_score"] - level) <= SCREEN_BAND]
    steps = {s for step in near for s in (step, step + recipe.checkpoint_every)}
    return sorted(s for s in steps if actor_path(folder, s).is_file())


def assess_medium_candidates(folder: Path, env_name: str, recipe: BehaviourRecipe, progress: bool = False,
                             ) -> dict[int, float]:
    """Evaluate each candidate not yet in the file, appending its row as it finishes (resumable)."""
    torch.set_num_threads(1)
    path, seeds = folder / ASSESSMENT_FILE, [FIRST_SEED + i for i in range(ASSESSMENT_EPISODES)]
    rows = {int(line.split(",")[0]): line for line in path.read_text().splitlines()[1:]} if path.is_file() else {}
    todo = [s for s in candidate_steps(read_curve(folder), env_name, recipe, folder) if s not in rows]
    for step in tqdm(todo, desc=f"{env_name} medium candidates", unit="checkpoint", disable=not progress):
        actor = load_actor(folder, env_name, step, recipe)
        noise = torch.Generator().manual_seed(recipe.seed + 3)
        scores = evaluate(lambda obs: actor.sample(obs, noise)[0], ENVS[env_name].gym_id, env_name, seeds).scores
        sem = scores.std(ddof=1) / len(scores) ** 0.5
        rows[step] = f"{step},{len(scores)},{scores.mean():.4f},{sem:.4f}"
        write_text_atomic(path, "\n".join([",".join(COLUMNS), *(rows[s] for s in sorted(rows))]) + "\n")
    return read_assessment(folder)


def chosen_checkpoints(folder: Path, env_name: str, recipe: BehaviourRecipe) -> Selection:
    """The run's medium and expert, by its curve and, where measured, its medium assessment."""
    return select_checkpoints(read_curve(folder), env_name, recipe, read_assessment(folder), ASSESSMENT_EPISODES)
