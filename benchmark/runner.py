"""Train and evaluate one run, and write its result file. Every method goes through here."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmark.data import load_dataset
from benchmark.pipelines import PIPELINES, Context
from benchmark.evaluation import eval_seeds, evaluate
from benchmark.hyperparams import resolve
from benchmark.methods import get_method
from benchmark.profiles import get_profile
from benchmark.provenance import environment
from benchmark.results import write_json_atomic
from benchmark.runspec import RunSpec
from benchmark.tasks import parse_task

Progress = Callable[[str, int, int, "float | None"], None]  # (phase, step, total steps, latest score)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_run(spec: RunSpec, results_dir: Path, progress: Progress | None = None) -> dict:
    """Run `spec` to the end and write its result JSON atomically; returns the result."""
    started = time.perf_counter()
    torch.set_num_threads(spec.threads)
    device = torch.device(spec.device)
    seed_everything(spec.seed)
    task, method, profile = parse_task(spec.task), get_method(spec.method), get_profile(spec.profile)
    resolved = resolve(spec.method, spec.task)
    dataset = load_dataset(task, spec.data)
    data = dataset.transitions
    total_steps = profile.agent_steps(method.pipeline)
    timings = {"data": time.perf_counter() - started}

    def report(phase: str):
        return None if progress is None else lambda step, total: progress(phase, step, total, None)

    context = Context(task.env, spec.seed, profile, total_steps, resolved, data, device, Path(spec.cache), report)
    setup = PIPELINES[method.pipeline](context)
    timings |= setup.timings | {"train": 0.0, "eval": 0.0}
    generator = torch.Generator(device).manual_seed(spec.seed)
    seeds = eval_seeds(spec.seed, profile.eval_episodes)

    def evaluate_at(step: int, train_log: dict) -> dict:
        tick = time.perf_counter()
        outcome = evaluate(setup.act, dataset.eval_env_id, task.env, seeds, device)
        timings["eval"] += time.perf_counter() - tick
        return {"step": step, "score": outcome.mean_score, "score_std": float(outcome.scores.std()),
                "return": float(outcome.returns.mean()), "scores": outcome.scores.round(4).tolist(),
                "lengths": outcome.lengths.tolist(), "train_log": train_log}

    evaluations, last_log, score = [], {}, None
    for step in range(1, total_steps + 1):
        tick = time.perf_counter()
        last_log = setup.update(generator)
        timings["train"] += time.perf_counter() - tick
        if step % profile.eval_every == 0 or step == total_steps:
            evaluations.append(evaluate_at(step, last_log))
            score = evaluations[-1]["score"]
        if progress is not None:
            progress("train", step, total_steps, score)
    if not evaluations:  # nothing to train step by step (Decision Diffuser): one evaluation of the trained models
        if progress is not None:
            progress("evaluate", 0, 1, None)
        evaluations.append(evaluate_at(0, {}))
    timings["total"] = time.perf_counter() - started

    result = {
        "schema": 1,
        "run": {"task": spec.task, "method": spec.method, "seed": spec.seed, "profile": spec.profile,
                "source": spec.data.source, "device": spec.device},
        "config": resolved.to_dict(),
        "config_sources": resolved.sources,
        "artifacts": setup.artifacts,
        "profile": dataclasses.asdict(profile),
        "data_spec": dataclasses.asdict(spec.data),
        "dataset": {"id": dataset.dataset_id, "source": dataset.source, "checksum": dataset.checksum,
                    "transitions": data.size, "episodes": int(data.episode_ends.sum()),
                    "eval_env": dataset.eval_env_id},
        "normalizer": setup.normalizer.to_dict(),
        "reward_scale": setup.reward_scale,
        "inference": setup.inference(),
        "eval_seeds": seeds,
        "evaluations": evaluations,
        "final_score": evaluations[-1]["score"],
        "best_score": max(e["score"] for e in evaluations),
        "wall_time_s": timings,
        "environment": environment(device),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(spec.result_path(results_dir), result)
    return result
