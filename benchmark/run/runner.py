"""Train and evaluate one run, and write its result file. Every method goes through here."""

from __future__ import annotations

import dataclasses
import math
import pickle
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmark.data import load_dataset
from benchmark.run.pipelines import PIPELINES, Context
from benchmark.envs.evaluation import eval_seeds, evaluate
from benchmark.grid.hyperparams import resolve
from benchmark.grid.methods import get_method
from benchmark.grid.profiles import get_profile
from benchmark.provenance import environment
from benchmark.run.completion import set_aside
from benchmark.results import remove_temporaries, save_durably, write_json_atomic
from benchmark.run.run_log import RunLog
from benchmark.grid.runspec import RunSpec
from benchmark.run.seeding import RunSeeds
from benchmark.envs.tasks import parse_task

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
    code_and_machine = environment(device)  # the code this process loaded, not what the checkout holds later
    run_seeds = RunSeeds.spawn(spec.seed)
    seed_everything(run_seeds.init)
    task, method = parse_task(spec.task), get_method(spec.method)
    profile = dataclasses.replace(get_profile(spec.profile), **dict(spec.budget))
    resolved = resolve(spec.method, spec.task).with_overrides(spec.overrides,
                                                              spec.override_source or f"ablation: {spec.variant}")
    dataset = load_dataset(task, spec.data)
    data = dataset.transitions
    total_steps = profile.agent_steps(method.pipeline)
    timings = {"data": time.perf_counter() - started}

    def report(phase: str):
        return None if progress is None else lambda step, total: progress(phase, step, total, None)

    context = Context(task.env, run_seeds, profile, total_steps, resolved, data, device, Path(spec.cache), report,
                      dataset.reward_windows)
    setup = PIPELINES[method.pipeline](context)
    timings |= setup.timings | {"train": 0.0, "eval": 0.0}
    generator = torch.Generator(device).manual_seed(run_seeds.data)
    seeds = eval_seeds(spec.seed, profile.eval_episodes)

    def evaluate_at(step: int, train_log: dict) -> dict:
        tick = time.perf_counter()
        outcome = evaluate(setup.act, dataset.eval_env_id, task.env, seeds, device)
        timings["eval"] += time.perf_counter() - tick
        return evaluation_record(step, outcome, train_log)

    checkpoint = spec.checkpoint_path(results_dir)
    for path in (checkpoint, spec.result_path(results_dir)):
        remove_temporaries(path)
    evaluations, last_log, score, start, resumed_at, earlier_segments = [], {}, None, 0, [], []
    earlier_s = 0.0  # wall time of the interrupted segments, so `total` covers the whole run as train does
    state = _read_checkpoint(checkpoint)
    if state is not None:  # an interrupted run (time limit, preemption, kill): continue where it stopped
        setup.load_state(state["setup"])
        generator.set_state(state["generator"])
        _set_rng_states(state["rng"])
        evaluations, last_log, start = state["evaluations"], state["last_log"], state["step"]
        timings["train"], timings["eval"] = state["train_s"], state["eval_s"]
        earlier_s = state.get("total_s", 0.0)
        resumed_at = state["resumed_at"] + [start]
        earlier_segments = state["environments"]
        score = evaluations[-1]["score"] if evaluations else None

    def save_checkpoint(step: int) -> None:
        save_durably({
            "step": step, "setup": setup.state(), "generator": generator.get_state(), "rng": _rng_states(),
            "evaluations": evaluations, "last_log": last_log, "train_s": timings["train"],
            "eval_s": timings["eval"], "total_s": earlier_s + time.perf_counter() - started, "resumed_at": resumed_at,
            "environments": earlier_segments + [code_and_machine]}, checkpoint)

    run_log = RunLog(spec.name, spec.logger, results_dir, spec.result_path(results_dir), resolved.to_dict(), start)
    try:
        if start == 0:
            run_log.scalars("time", 0, {f"{phase}_s": seconds for phase, seconds in setup.timings.items()})
        for step in range(start + 1, total_steps + 1):
            tick = time.perf_counter()
            last_log = setup.update(generator)
            timings["train"] += time.perf_counter() - tick
            if spec.log_every and step % spec.log_every == 0:
                run_log.scalars("train", step, last_log)
            evaluated = step % profile.eval_every == 0 or step == total_steps
            if evaluated:
                evaluations.append(evaluate_at(step, last_log))
                score = evaluations[-1]["score"]
                run_log.scalars("eval", step, {key: evaluations[-1][key] for key in ("score", "score_std", "return")})
            if step < total_steps and (evaluated or (spec.checkpoint_every and step % spec.checkpoint_every == 0)):
                save_checkpoint(step)
            if progress is not None:
                progress("train", step, total_steps, score)
        if not evaluations:  # nothing to train step by step (Decision Diffuser): one evaluation of the trained models
            if progress is not None:
                progress("evaluate", 0, 1, None)
            evaluations.append(evaluate_at(0, {}))
            run_log.scalars("eval", 0, {key: evaluations[-1][key] for key in ("score", "score_std", "return")})
    finally:
        run_log.close()
    timings["total"] = earlier_s + time.perf_counter() - started
    result = result_record(spec, resolved, profile, dataset, seeds, evaluations, timings, code_and_machine,
                           {"artifacts": setup.artifacts, "normalizer": setup.normalizer.to_dict(),
                            "reward_scale": setup.reward_scale, "inference": setup.inference()},
                           resumed_at, earlier_segments)
    if weights := setup.final_weights():
        save_durably(weights, spec.weights_path(results_dir))
    write_json_atomic(spec.result_path(results_dir), result)
    checkpoint.unlink(missing_ok=True)
    return result


def evaluation_record(step: int, outcome, train_log: dict) -> dict:
    """One evaluation as result files hold it; reading the training log here is its only host sync."""
    return {"step": step, "score": outcome.mean_score, "score_std": float(outcome.scores.std()),
            "return": float(outcome.returns.mean()), "scores": outcome.scores.round(4).tolist(),
            "lengths": outcome.lengths.tolist(),
            "train_log": {name: float(value) for name, value in train_log.items()}}


def result_record(spec: RunSpec, resolved, profile, dataset, eval_seed_list: list[int], evaluations: list[dict],
                  timings: dict, code_and_machine: dict, setup_facts: dict, resumed_at: list[int] = (),
                  earlier_segments: list[dict] = ()) -> dict:
    """A finished run's result file (schema 1); refuses non-finite scores, which are never a finished run.
    `setup_facts`: the pipeline's artifacts, normalizer, reward_scale and inference."""
    not_finite = [e["step"] for e in evaluations if not math.isfinite(e["score"])]
    if not_finite:
        raise FloatingPointError(f"{spec.name}: non-finite evaluation scores at steps {not_finite} (the training "
                                 f"diverged or the data holds NaN); not recorded as a finished run")
    data = dataset.transitions
    return {
        "schema": 1,
        "run": spec.identity(),
        "config": resolved.to_dict(),
        "config_sources": resolved.sources,
        "artifacts": setup_facts["artifacts"],
        "profile": dataclasses.asdict(profile),
        "data_spec": dataclasses.asdict(spec.data),
        "dataset": {"id": dataset.dataset_id, "source": dataset.source, "checksum": dataset.checksum,
                    "transitions": data.size, "episodes": int(data.episode_ends.sum()),
                    "eval_env": dataset.eval_env_id, "caveats": list(dataset.caveats)},
        "normalizer": setup_facts["normalizer"],
        "reward_scale": setup_facts["reward_scale"],
        "inference": setup_facts["inference"],
        "eval_seeds": eval_seed_list,
        "evaluations": evaluations,
        "final_score": evaluations[-1]["score"],
        "best_score": max(e["score"] for e in evaluations),
        "wall_time_s": timings,
        "resumed_at_steps": list(resumed_at),
        "environment": code_and_machine,
        "earlier_segments": list(earlier_segments),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def _read_checkpoint(path: Path) -> dict | None:
    """The checkpoint's state; one that cannot be read is set aside with a warning and the run starts afresh."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as error:
        kept = set_aside(path, "broken")
        print(f"warning: checkpoint {path} cannot be read ({type(error).__name__}: {error}); kept as {kept}, the "
              f"run starts from the beginning", file=sys.stderr)
        return None
