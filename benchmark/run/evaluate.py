"""`python -m benchmark evaluate RESULT`: evaluate a finished run's trained policy again, from its result file
and the weights kept next to it, in the environment and with the state normaliser it was evaluated with; with
`--video`, record one episode of it as a GIF."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from PIL import Image

from algorithms.mve import MVEIQLConfig, MVETD3BCConfig
from benchmark.data.normalization import StateNormalizer
from benchmark.errors import UsageError
from benchmark.envs.evaluation import EvalResult, evaluate, route_mujoco_warnings
from benchmark.grid.hyperparams import resolve
from benchmark.results import write_atomic
from benchmark.grid.methods import get_method
from benchmark.run.pipelines import AGENTS
from benchmark.envs.tasks import normalized_score, parse_task


def _config(default, values: dict):
    """The result file's values in the config's own types (JSON turned tuples into lists)."""
    typed = {k: tuple(v) if isinstance(getattr(default, k), tuple) else v for k, v in values.items()}
    return dataclasses.replace(default, **typed)


def load_policy(result_path: Path):
    """(act, env id, env name) of a finished run: its actor on normalised observations."""
    result_path = Path(result_path)
    weights_path = result_path.with_suffix(".weights.pt")
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"{result_path}: not a readable result file ({error})") from None
    run = result["run"]
    if get_method(run["method"]).pipeline == "dd":
        raise UsageError(f"{result_path}: Decision Diffuser has no actor to evaluate on its own (it plans with its "
                         f"cached models); rerun it with `python -m benchmark run`")
    if not weights_path.is_file():
        raise UsageError(f"{weights_path} is missing: runs keep their trained networks since this version; rerun "
                         f"the run to get them")
    task = parse_task(run["task"])
    config = _config(resolve(run["method"], run["task"]).agent, result["config"]["agent"])
    rollouts = [None] if isinstance(config, (MVETD3BCConfig, MVEIQLConfig)) else []  # acting needs no rollouts
    agent = AGENTS[type(config)](config, task.info.obs_dim, task.info.act_dim, "cpu", 1, *rollouts)
    for name, state in torch.load(weights_path, map_location="cpu", weights_only=True).items():
        getattr(agent, name).load_state_dict(state)
    normalizer = StateNormalizer(tuple(result["normalizer"]["mean"]), tuple(result["normalizer"]["std"]))
    return (lambda observations: agent.act(normalizer(observations))), result["dataset"]["eval_env"], task.env


def evaluate_result(result_path: Path, episodes: int, seed: int) -> EvalResult:
    act, env_id, env_name = load_policy(result_path)
    return evaluate(act, env_id, env_name, [seed * 1000 + i for i in range(episodes)])


def summary(outcome: EvalResult) -> str:
    scores = np.round(outcome.scores, 1).tolist()
    return (f"normalised score {outcome.mean_score:.1f} over {len(scores)} episodes (each: {scores}); "
            f"mean return {outcome.returns.mean():.1f}, mean length {outcome.lengths.mean():.0f}")


VIDEO_SIZE = (320, 240)  # width, height
VIDEO_FPS = 50  # gymnasium's MuJoCo locomotion runs at 125 Hz with frame skip: ~67-125 steps a second


def rendering_env(env_id: str) -> gym.Env:
    """An environment that renders RGB frames, or a UsageError naming the OpenGL backend to set."""
    route_mujoco_warnings()
    try:
        env = gym.make(env_id, render_mode="rgb_array", width=VIDEO_SIZE[0], height=VIDEO_SIZE[1])
        env.reset(seed=0)
        env.render()
    except Exception as error:  # each OpenGL backend fails its own way (EGLError, FatalError, AttributeError)
        raise UsageError(f"MuJoCo cannot render here ({type(error).__name__}); set MUJOCO_GL=egl on a machine with "
                         f"a GPU, or MUJOCO_GL=osmesa with libosmesa installed (apt install libosmesa6)") from None
    return env


def record_episode(act, env: gym.Env, seed: int) -> tuple[list[np.ndarray], float]:
    """One episode's frames (the start state, then one per step) and its return."""
    obs, _ = env.reset(seed=seed)
    frames, episode_return, done = [env.render()], 0.0, False
    with torch.no_grad():
        while not done:
            action = act(torch.as_tensor(obs, dtype=torch.float32)[None])[0].cpu().numpy()
            obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            frames.append(env.render())
            done = terminated or truncated
    return frames, episode_return


def write_gif(frames: list[np.ndarray], path: Path) -> None:
    images = [Image.fromarray(frame) for frame in frames]
    write_atomic(path, lambda handle: images[0].save(handle, format="GIF", save_all=True, append_images=images[1:],
                                                     duration=1000 // VIDEO_FPS, loop=0), binary=True)


def record_video(result_path: Path, out: Path, seed: int) -> str:
    """Record the episode that starts from reset(seed=1000 * seed) as a GIF; returns a one-line summary."""
    if Path(out).suffix.lower() != ".gif":
        raise UsageError(f"--video {out}: give a .gif path")
    act, env_id, env_name = load_policy(result_path)
    env = rendering_env(env_id)
    try:
        frames, episode_return = record_episode(act, env, seed * 1000)
    finally:
        env.close()
    write_gif(frames, Path(out))
    score = float(normalized_score(env_name, np.array([episode_return]))[0])
    return f"{out}: {len(frames) - 1} steps, return {episode_return:.1f}, normalised score {score:.1f}"
