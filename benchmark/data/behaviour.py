"""Online SAC runs that produce the behaviour policies of the D4RL recipe, and the stream they collect.

The data-collection stream is a pure function of the run's seed and its actor checkpoints: the acting
policy is a snapshot of the learner taken every `checkpoint_every` steps (a lag of at most that many
steps), and all of the collector's randomness (random warm-up actions, exploration noise, reset seeds)
comes from its own generator. Re-running the collector with the committed checkpoints therefore
reproduces the training run's replay buffer exactly: that is how medium-replay is rebuilt, and how an
interrupted run resumes on any machine from its small committed `resume.pt` (no 170 MB buffer to keep).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from algorithms.agent import source
from algorithms.buffer import ReplayBuffer
from algorithms.sac import SAC, SACConfig, TanhGaussianActor
from benchmark.data.minari_io import Episode, EpisodeWriter
from benchmark.envs.evaluation import evaluate
from benchmark.provenance import environment
from benchmark.results import save_durably, write_json_atomic, write_text_atomic
from benchmark.envs.tasks import ENVS
from benchmark.errors import UsageError

BEHAVIOUR_DIR = Path(__file__).resolve().parent / "behaviour"
# Runs in progress train here, so the committed runs (and the datasets built from them) stay usable until a
# finished run replaces them.
STAGING_DIR = Path(__file__).resolve().parent / "behaviour_staging"

# D4RL v2's medium datasets score (normalised mean episode return) about 40 / 44 / 62: the level our medium
# checkpoint must reproduce, within `medium_tolerance`.
D4RL_MEDIUM_SCORE = {"halfcheetah": 40.0, "hopper": 44.0, "walker2d": 62.0}
D4RL = "paper: D4RL (Fu et al., 2020), its v2 datasets"
MEDIUM_GAP_TIE = 1.0  # score points; below the medium assessment's standard error (1-2 points over 100 episodes)


@dataclass(frozen=True)
class BehaviourRecipe:
    seed: int = 0
    total_steps: int = field(default=1_000_000, metadata=source(D4RL + ": SAC for up to 1M steps"))
    start_steps: int = 10_000  # uniform-random actions before the first update
    checkpoint_every: int = 5_000  # actor snapshot + deterministic and stochastic evaluation
    eval_episodes: int = 10
    resume_every: int = 25_000  # training state saved (resume.pt) for an interrupted run
    # The run stops early once the last two checkpoints score at least this (normalised, both the
    # deterministic policy and the stochastic one that generates the datasets): an expert by D4RL's standard.
    expert_target: float = field(default=85.0, metadata=source("ours: issue 14's expert target"))
    medium_tolerance: float = field(default=5.0, metadata=source("ours: issue 14's medium target"))
    sac: SACConfig = SACConfig()

    def __post_init__(self):
        if self.resume_every % self.checkpoint_every or self.start_steps % self.checkpoint_every:
            raise ValueError("resume_every and start_steps must be multiples of checkpoint_every")


class Collector:
    """One environment stepped with the current actor snapshot; its randomness is its own."""

    def __init__(self, env_id: str, seed: int, start_steps: int):
        self.env, self.seed, self.start_steps = gym.make(env_id), seed, start_steps
        self.generator = torch.Generator().manual_seed(seed)
        self.act_dim = self.env.action_space.shape[0]
        self.steps = self.episodes = 0
        self.observation = self.reset()

    def reset(self) -> np.ndarray:
        observation, _ = self.env.reset(seed=self.seed * 1_000_000 + self.episodes)
        self.episodes += 1
        self.observation = observation.astype(np.float32)
        return self.observation

    @torch.no_grad()
    def step(self, actor: TanhGaussianActor) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, bool, bool]:
        """(s, a, r, s', terminated, truncated); starts a new episode after the last step of one."""
        observation = self.observation
        if self.steps < self.start_steps:
            action = torch.rand(self.act_dim, generator=self.generator) * 2.0 - 1.0
        else:
            action = actor.sample_portable(torch.as_tensor(observation)[None], self.generator)[0]
        action = action.numpy()
        next_observation, reward, terminated, truncated, _ = self.env.step(action)
        next_observation = next_observation.astype(np.float32)
        self.steps += 1
        if terminated or truncated:
            self.reset()
        else:
            self.observation = next_observation
        return observation, action, float(reward), next_observation, terminated, truncated

    def state(self) -> dict:
        return {"generator": self.generator.get_state(), "steps": self.steps, "episodes": self.episodes}

    def restore(self, state: dict) -> None:
        """Continue an interrupted stream; the episode in progress is cut and a new one starts."""
        self.generator.set_state(state["generator"])
        self.steps, self.episodes = state["steps"], state["episodes"]
        self.reset()


def actor_path(folder: Path, step: int) -> Path:
    return folder / "actors" / f"actor_{step:07d}.pt"


def load_actor(folder: Path, env_name: str, step: int, recipe: BehaviourRecipe) -> TanhGaussianActor:
    info = ENVS[env_name]
    actor = TanhGaussianActor(info.obs_dim, info.act_dim, recipe.sac.hidden)
    actor.load_state_dict(torch.load(actor_path(folder, step), weights_only=True))
    return actor.eval()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@torch.no_grad()
def replay_collection(folder: Path, env_name: str, recipe: BehaviourRecipe, resets: tuple[int, ...], n_steps: int,
                      progress: bool = False) -> list[Episode]:
    """The first n_steps transitions a run collected, in insertion order, split into episodes."""
    torch.set_num_threads(1)
    collector = Collector(ENVS[env_name].gym_id, recipe.seed, recipe.start_steps)
    actor, cut_at = None, set(resets)
    episodes, writer = [], EpisodeWriter(collector.observation, collector.episodes - 1)
    for step in tqdm(range(n_steps), desc=f"{env_name} replay buffer", unit="step", disable=not progress,
                     mininterval=1):
        if step in cut_at:  # a resumed run cut the episode in progress, if one was
            if len(writer):
                episodes.append(writer.close())
            collector.reset()
            writer = EpisodeWriter(collector.observation, collector.episodes - 1)
        if step % recipe.checkpoint_every == 0 and step >= recipe.start_steps:
            actor = load_actor(folder, env_name, step, recipe)
        _, action, reward, next_observation, terminated, truncated = collector.step(actor)
        writer.add(action, reward, next_observation, terminated, truncated)
        if terminated or truncated:
            episodes.append(writer.close())
            writer = EpisodeWriter(collector.observation, collector.episodes - 1)
    if len(writer):
        episodes.append(writer.close())
    return episodes


# Checkpoint selection -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    medium: int
    expert: int
    medium_on_target: bool  # within the tolerance of D4RL's medium level, and so is the next checkpoint
    expert_on_target: bool  # both scores of the expert reach the recipe's expert target
    medium_score: float  # the stochastic score the medium was chosen by
    medium_episodes: int  # over how many episodes


def select_checkpoints(curve: list[dict], env_name: str, recipe: BehaviourRecipe,
                       assessment: dict[int, float] | None = None, assessment_episodes: int = 0) -> Selection:
    """D4RL's recipe with D4RL's own levels.

    - expert: the checkpoint whose worse score (deterministic policy, stochastic policy) is highest: the
      expert dataset is generated by the stochastic policy, and D4RL's expert is a policy trained to completion;
    - medium: among the checkpoints in charge of collection after the warm-up, the one whose stochastic score
      (what its dataset scores) is closest to D4RL's medium level and whose next checkpoint is within the
      tolerance too (one lucky evaluation is not a medium policy); failing that, the closest one, flagged.
      Of checkpoints within MEDIUM_GAP_TIE of the closest, the latest.
      The scores are `assessment`'s (step -> score over `assessment_episodes` episodes, medium_choice.py)
      where it has any, else the curve's.
    """
    rows = [r for r in curve if r["step"] >= recipe.start_steps]
    if not rows:
        raise ValueError("no checkpoint after the random warm-up")
    expert = max(rows, key=lambda r: min(r["score"], r["stochastic_score"]))
    level, tolerance = D4RL_MEDIUM_SCORE[env_name], recipe.medium_tolerance
    in_charge = [row["step"] for row in rows[:-1] if row["step"] <= expert["step"]] or [rows[0]["step"]]
    scores = {row["step"]: row["stochastic_score"] for row in rows}
    episodes = recipe.eval_episodes
    if assessment and set(assessment) & set(in_charge):
        scores, episodes = assessment, assessment_episodes

    def gap(step: int) -> float:
        return abs(scores[step] - level)

    candidates = [step for step in in_charge if step in scores]
    after = recipe.checkpoint_every
    held = [step for step in candidates if gap(step) <= tolerance and step + after in scores
            and gap(step + after) <= tolerance]
    pool = held or candidates
    closest = min(gap(step) for step in pool)
    # gaps this close are one within the noise of the measurement: the later checkpoint's medium-replay is larger,
    # nearer D4RL's (202k-402k transitions)
    medium = max(step for step in pool if gap(step) < closest + MEDIUM_GAP_TIE)
    return Selection(medium, expert["step"], bool(held),
                     min(expert["score"], expert["stochastic_score"]) >= recipe.expert_target,
                     scores[medium], episodes)


def expert_target_held(curve: list[dict], recipe: BehaviourRecipe) -> bool:
    """The last two checkpoints reach the expert target with both policies: the run may stop."""
    last = [r for r in curve if r["step"] >= recipe.start_steps][-2:]
    return len(last) == 2 and all(min(r["score"], r["stochastic_score"]) >= recipe.expert_target for r in last)


def prune_checkpoints(folder: Path, selection: Selection, recipe: BehaviourRecipe) -> list[int]:
    """Keep only the actors the datasets need: those in charge until medium, and the expert; returns them."""
    keep = {*range(recipe.start_steps, selection.medium + 1, recipe.checkpoint_every), selection.expert}
    for path in (folder / "actors").glob("actor_*.pt"):
        if int(path.stem.split("_")[1]) not in keep:
            path.unlink()
    return sorted(keep)


PROMOTED = ("run.json", "curve.csv", "actors")  # a finished run: its record, curve and pruned actors
ASSESSMENT_FILE = "medium_assessment.csv"  # and, where measured, its medium candidates' scores (medium_choice.py)


def promote_run(finished: Path, committed: Path) -> str:
    """Replace the committed run at `committed` by the finished run at `finished`; returns what was done.

    The new run is copied beside the old one first and swapped in by renames, so an interruption leaves
    either run whole."""
    if not (finished / "run.json").is_file():
        raise UsageError(f"{finished} holds no finished run (no run.json): let train-behaviour finish it first")
    incoming, outgoing = committed.with_name(f".{committed.name}.incoming"), committed.with_name(
        f".{committed.name}.outgoing")
    for leftover in (incoming, outgoing):
        shutil.rmtree(leftover, ignore_errors=True)
    incoming.mkdir(parents=True)
    for name in (*PROMOTED, ASSESSMENT_FILE):
        source = finished / name
        if name == ASSESSMENT_FILE and not source.is_file():
            continue
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, incoming / name)
    if committed.exists():
        committed.rename(outgoing)
    incoming.rename(committed)
    shutil.rmtree(outgoing, ignore_errors=True)
    shutil.rmtree(finished)
    return f"{finished} is now {committed}"


# The curve ------------------------------------------------------------------------------------------------

CURVE_COLUMNS = ("step", "return_mean", "return_std", "score", "stochastic_return_mean", "stochastic_score",
                 "wall_time_s")


def read_curve(folder: Path) -> list[dict]:
    with open(folder / "curve.csv") as handle:
        return [{k: float(v) if k != "step" else int(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _write_curve(folder: Path, rows: list[dict]) -> None:
    lines = [",".join(CURVE_COLUMNS)]
    lines += [",".join(str(r["step"]) if c == "step" else f"{r[c]:.4f}" for c in CURVE_COLUMNS) for r in rows]
    write_text_atomic(folder / "curve.csv", "\n".join(lines) + "\n")


def _evaluate_checkpoint(actor: TanhGaussianActor, env_name: str, recipe: BehaviourRecipe) -> dict:
    """Deterministic (tanh of the mean) and stochastic (the collector's policy) returns, on fixed start states."""
    info, seeds = ENVS[env_name], [10_000 + i for i in range(recipe.eval_episodes)]
    deterministic = evaluate(actor.act, info.gym_id, env_name, seeds)
    noise = torch.Generator().manual_seed(recipe.seed + 2)
    stochastic = evaluate(lambda obs: actor.sample(obs, noise)[0], info.gym_id, env_name, seeds)
    return {"return_mean": float(deterministic.returns.mean()), "return_std": float(deterministic.returns.std()),
            "score": deterministic.mean_score, "stochastic_return_mean": float(stochastic.returns.mean()),
            "stochastic_score": stochastic.mean_score}


# Training -------------------------------------------------------------------------------------------------

BUFFER_FIELDS = ("observations", "actions", "rewards", "next_observations", "dones")


def _buffer_sha256(buffer: ReplayBuffer) -> str:
    digest = hashlib.sha256()
    for name in BUFFER_FIELDS:
        digest.update(getattr(buffer, name)[: buffer.size].numpy().tobytes())
    return digest.hexdigest()


def _refill(buffer: ReplayBuffer, episodes: list[Episode]) -> None:
    """Append episodes to a buffer in order: the collected stream, as training inserted it."""
    for episode in episodes:
        rows = slice(buffer.size, buffer.size + len(episode.actions))
        buffer.observations[rows] = torch.as_tensor(episode.observations[:-1])
        buffer.next_observations[rows] = torch.as_tensor(episode.observations[1:])
        buffer.actions[rows] = torch.as_tensor(episode.actions)
        buffer.rewards[rows] = torch.as_tensor(episode.rewards, dtype=torch.float32)
        buffer.dones[rows] = torch.as_tensor(episode.terminations, dtype=torch.float32)
        buffer.size = rows.stop


def train_behaviour(env_name: str, recipe: BehaviourRecipe, folder: Path) -> ReplayBuffer:
    """Train (or resume) one SAC run, writing actor checkpoints, the curve and `resume.pt` to `folder`.

    Returns the replay buffer, in insertion order.
    """
    if (folder / "run.json").is_file():
        raise FileExistsError(f"{folder} holds a finished run; train elsewhere or move it aside")
    torch.set_num_threads(1)
    torch.manual_seed(recipe.seed)
    info = ENVS[env_name]
    (folder / "actors").mkdir(parents=True, exist_ok=True)
    agent = SAC(recipe.sac, info.obs_dim, info.act_dim)
    buffer = ReplayBuffer.empty(recipe.total_steps, info.obs_dim, info.act_dim, "cpu")
    learner_generator = torch.Generator().manual_seed(recipe.seed + 1)
    collector = Collector(info.gym_id, recipe.seed, recipe.start_steps)
    snapshot = TanhGaussianActor(info.obs_dim, info.act_dim, recipe.sac.hidden).eval()
    curve, resets, step, elapsed = [], [], 0, 0.0

    state_file = folder / "resume.pt"
    if state_file.is_file():
        state = torch.load(state_file, weights_only=False)
        if state["recipe"] != asdict(recipe):
            raise ValueError(f"{state_file} was written by another recipe; move it aside to start afresh")
        agent.load_state_dict(state["agent"])
        step, elapsed, curve, resets = state["step"], state["elapsed"], state["curve"], state["resets"]
        _refill(buffer, replay_collection(folder, env_name, recipe, tuple(resets), step, progress=True))
        if _buffer_sha256(buffer) != state["buffer_sha256"]:
            raise RuntimeError(f"replaying {folder}'s checkpoints did not reproduce the replay buffer of step "
                               f"{step} (another simulator or torch build?)")
        learner_generator.set_state(state["learner_generator"])
        torch.set_rng_state(state["torch_rng"])
        collector.restore(state["collector"])
        resets.append(step)  # the loop's first iteration refreshes the snapshot: step is a checkpoint step
        print(f"{env_name}: resumed at step {step}", flush=True)

    started = time.perf_counter() - elapsed
    stopped_early = False
    while step <= recipe.total_steps:
        if step % recipe.checkpoint_every == 0:
            snapshot.load_state_dict(agent.actor.state_dict())
            torch.save(snapshot.state_dict(), actor_path(folder, step))
            curve.append({"step": step, **_evaluate_checkpoint(snapshot, env_name, recipe),
                          "wall_time_s": time.perf_counter() - started})
            _write_curve(folder, curve)
            row = curve[-1]
            print(f"{env_name}: step {step:>7}  return {row['return_mean']:8.1f}  score {row['score']:6.1f}  "
                  f"stochastic {row['stochastic_score']:6.1f}  {step / max(row['wall_time_s'], 1e-9):5.0f} "
                  f"steps/s", flush=True)
            stopped_early = expert_target_held(curve, recipe)
        if step == recipe.total_steps or stopped_early:
            break
        observation, action, reward, next_observation, terminated, _ = collector.step(snapshot)
        buffer.add(torch.as_tensor(observation), torch.as_tensor(action), reward,
                   torch.as_tensor(next_observation), terminated)
        step += 1
        if step > recipe.start_steps:
            agent.update(buffer.sample(recipe.sac.batch_size, learner_generator))
        if step % recipe.resume_every == 0 and step < recipe.total_steps:
            _save_resume_state(state_file, {
                "recipe": asdict(recipe), "agent": agent.state_dict(), "step": step, "curve": curve,
                "resets": resets, "elapsed": time.perf_counter() - started, "buffer_sha256": _buffer_sha256(buffer),
                "learner_generator": learner_generator.get_state(), "torch_rng": torch.get_rng_state(),
                "collector": collector.state()})
    write_json_atomic(folder / "run.json", {
        "env": env_name, "gym_id": info.gym_id, "recipe": asdict(recipe), "collector_resets_at": resets,
        "finished_steps": step, "stopped_early": stopped_early, "wall_time_s": time.perf_counter() - started,
        "environment": environment(torch.device("cpu"))})
    state_file.unlink(missing_ok=True)
    return buffer


def _save_resume_state(path: Path, state: dict) -> None:
    save_durably(state, path)
