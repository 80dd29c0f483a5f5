"""`python -m benchmark evaluate RESULT`: evaluate a finished run's trained policy again, from its result file
and the weights kept next to it, in the environment and with the state normaliser it was evaluated with."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from algorithms.mve import MVEIQLConfig, MVETD3BCConfig
from benchmark.data.normalization import StateNormalizer
from benchmark.errors import UsageError
from benchmark.evaluation import EvalResult, evaluate
from benchmark.hyperparams import resolve
from benchmark.methods import get_method
from benchmark.pipelines import AGENTS
from benchmark.tasks import parse_task


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
