"""Online SAC runs that produce the behaviour policies of the D4RL recipe, and the stream they collect.

The data-collection stream is a pure function of the run's seed and its actor checkpoints: the acting
policy is a snapshot of the learner taken every `checkpoint_every` steps (a lag of at most that many
steps), and all of the collector's randomness (random warm-up actions, exploration noise, reset seeds)
comes from its own generator. Re-running the collector with the committed checkpoints therefore
reproduces the training run's replay buffer exactly, which is how medium-replay is rebuilt.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from algorithms.buffer import ReplayBuffer
from algorithms.sac import SAC, SACConfig, TanhGaussianActor
from benchmark.evaluation import evaluate
from benchmark.provenance import environment
from benchmark.results import write_json_atomic, write_text_atomic
from benchmark.tasks import ENVS

BEHAVIOUR_DIR = Path(__file__).resolve().parent / "behaviour"


@dataclass(frozen=True)
class BehaviourRecipe:
    seed: int = 0
    total_steps: int = 400_000  # cap on SAC environment steps (one update per step)
    start_steps: int = 10_000  # uniform-random actions before the first update
    checkpoint_every: int = 5_000  # actor snapshot + deterministic evaluation
    eval_episodes: int = 10
    resume_every: int = 25_000  # full training state saved for an interrupted run
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
            action = actor.sample(torch.as_tensor(observation)[None], self.generator)[0][0]
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


def select_checkpoints(steps: list[int], returns: list[float], start_steps: int) -> tuple[int, int]:
    """D4RL's rule, made robust to one lucky evaluation: expert = the best checkpoint; medium = the first whose
    return reaches a third of the expert's and whose next checkpoint's return does too.

    D4RL's medium is a policy that performs at a third of the expert; a single 10-episode evaluation above
    the line, followed by one far below it, is a spike of a noisy curve, not such a policy. Only checkpoints
    that were in charge of collection after the random warm-up are eligible; the last one only as expert.
    """
    eligible = [(s, r) for s, r in zip(steps, returns) if s >= start_steps]
    if not eligible:
        raise ValueError("no checkpoint after the random warm-up")
    expert_step, expert_return = max(eligible, key=lambda sr: sr[1])
    line = expert_return / 3.0
    sustained = [s for (s, r), (_, r_next) in zip(eligible, eligible[1:]) if r >= line and r_next >= line]
    return (sustained[0] if sustained else expert_step), expert_step


def checkpoints_from_curve(curve: list[dict], start_steps: int) -> tuple[int, int]:
    """(medium step, expert step) of a run, from its evaluation curve."""
    return select_checkpoints([r["step"] for r in curve], [r["return_mean"] for r in curve], start_steps)


def prune_checkpoints(folder: Path, recipe: BehaviourRecipe) -> list[int]:
    """Keep only the actors the datasets need: those in charge until medium, and the expert; returns them."""
    medium, expert = checkpoints_from_curve(read_curve(folder), recipe.start_steps)
    keep = {*range(recipe.start_steps, medium + 1, recipe.checkpoint_every), expert}
    for path in (folder / "actors").glob("actor_*.pt"):
        if int(path.stem.split("_")[1]) not in keep:
            path.unlink()
    return sorted(keep)


def read_curve(folder: Path) -> list[dict]:
    with open(folder / "curve.csv") as handle:
        return [{k: float(v) if k != "step" else int(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _write_curve(folder: Path, rows: list[dict]) -> None:
    lines = ["step,return_mean,return_std,score,wall_time_s"]
    lines += [f"{r['step']},{r['return_mean']:.4f},{r['return_std']:.4f},{r['score']:.4f},{r['wall_time_s']:.1f}"
              for r in rows]
    write_text_atomic(folder / "curve.csv", "\n".join(lines) + "\n")


def train_behaviour(env_name: str, recipe: BehaviourRecipe, folder: Path, work_dir: Path) -> ReplayBuffer:
    """Train (or resume) one SAC run, writing actor checkpoints and the evaluation curve to `folder`.

    Returns the replay buffer, in insertion order.
    """
    torch.set_num_threads(1)
    torch.manual_seed(recipe.seed)
    info = ENVS[env_name]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "actors").mkdir(exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    agent = SAC(recipe.sac, info.obs_dim, info.act_dim)
    buffer = ReplayBuffer.empty(recipe.total_steps, info.obs_dim, info.act_dim, "cpu")
    learner_generator = torch.Generator().manual_seed(recipe.seed + 1)
    collector = Collector(info.gym_id, recipe.seed, recipe.start_steps)
    snapshot = TanhGaussianActor(info.obs_dim, info.act_dim, recipe.sac.hidden).eval()
    curve, resets, step, elapsed = [], [], 0, 0.0

    state_file = work_dir / "state.pt"
    if state_file.is_file():
        state = torch.load(state_file, weights_only=False)
        agent.load_state_dict(state["agent"])
        for name, tensor in state["buffer"].items():
            getattr(buffer, name)[: len(tensor)] = tensor
        buffer.size, step, elapsed = state["size"], state["step"], state["elapsed"]
        curve, resets = state["curve"], state["resets"]
        learner_generator.set_state(state["learner_generator"])
        torch.set_rng_state(state["torch_rng"])
        collector.restore(state["collector"])
        resets.append(step)  # the loop's first iteration refreshes the snapshot: step is a checkpoint step
        print(f"{env_name}: resumed at step {step}", flush=True)

    started = time.perf_counter() - elapsed
    seeds = [10_000 + i for i in range(recipe.eval_episodes)]
    while step <= recipe.total_steps:
        if step % recipe.checkpoint_every == 0:
            snapshot.load_state_dict(agent.actor.state_dict())
            torch.save(snapshot.state_dict(), actor_path(folder, step))
            outcome = evaluate(snapshot.act, info.gym_id, env_name, seeds)
            curve.append({"step": step, "return_mean": float(outcome.returns.mean()),
                          "return_std": float(outcome.returns.std()), "score": outcome.mean_score,
                          "wall_time_s": time.perf_counter() - started})
            _write_curve(folder, curve)
            rate = step / max(curve[-1]["wall_time_s"], 1e-9)
            print(f"{env_name}: step {step:>7}  return {curve[-1]['return_mean']:8.1f}  "
                  f"score {outcome.mean_score:6.1f}  {rate:5.0f} steps/s", flush=True)
        if step == recipe.total_steps:
            break
        observation, action, reward, next_observation, terminated, _ = collector.step(snapshot)
        buffer.add(torch.as_tensor(observation), torch.as_tensor(action), reward,
                   torch.as_tensor(next_observation), terminated)
        step += 1
        if step > recipe.start_steps:
            agent.update(buffer.sample(recipe.sac.batch_size, learner_generator))
        if step % recipe.resume_every == 0 and step < recipe.total_steps:
            tmp = state_file.with_suffix(".tmp")
            torch.save({"agent": agent.state_dict(), "size": buffer.size, "step": step, "curve": curve,
                        "resets": resets, "elapsed": time.perf_counter() - started,
                        "buffer": {n: getattr(buffer, n)[: buffer.size].clone() for n in
                                   ("observations", "actions", "rewards", "next_observations", "dones")},
                        "learner_generator": learner_generator.get_state(), "torch_rng": torch.get_rng_state(),
                        "collector": collector.state()}, tmp)
            tmp.replace(state_file)
    write_json_atomic(folder / "run.json", {
        "env": env_name, "gym_id": info.gym_id, "recipe": asdict(recipe), "collector_resets_at": resets,
        "finished_steps": step, "wall_time_s": time.perf_counter() - started, "environment": environment(
            torch.device("cpu"))})
    state_file.unlink(missing_ok=True)
    return buffer
