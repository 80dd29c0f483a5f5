"""Several seeds of one model-free run trained as one stacked agent (algorithms/stacking.py), each seed
writing the result file its own run would write (`run --stack-seeds`).

Each member is built, fed and evaluated exactly as its own run: its networks initialised from its seed's
initialisation stream, its batches from its data stream, its evaluation on its own start states. What
differs is float rounding (batched matmuls) and the wall time, which the members share. A stacked group
keeps no checkpoint: a killed group starts again from its first step.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import torch

from algorithms.stacking import member_module, stack_batches
from benchmark.data import load_dataset
from benchmark.envs.evaluation import eval_seeds, evaluate
from benchmark.envs.tasks import parse_task
from benchmark.errors import UsageError
from benchmark.grid.hyperparams import resolve
from benchmark.grid.methods import get_method
from benchmark.grid.profiles import get_profile
from benchmark.grid.runspec import RunSpec
from benchmark.provenance import environment
from benchmark.results import save_durably, write_json_atomic
from benchmark.run.pipelines import AGENTS, TAKEN_AWAY, Context, agent_data
from benchmark.run.runner import evaluation_record, result_record, seed_everything
from benchmark.run.seeding import RunSeeds

STACKABLE = ("td3bc", "iql")


def groups(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """The runs that differ only in their seed, together; refuses methods that cannot be stacked."""
    refused = sorted({s.method for s in specs if s.method not in STACKABLE})
    if refused:
        raise UsageError(f"--stack-seeds trains {' and '.join(STACKABLE)} only, not {', '.join(refused)}: run "
                         f"those without it")
    grouped: dict[RunSpec, list[RunSpec]] = {}
    for spec in specs:
        grouped.setdefault(dataclasses.replace(spec, seed=0), []).append(spec)
    return list(grouped.values())


def train_stacked(specs: list[RunSpec], results_dir: Path,
                  progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Train `specs` (one task, method and configuration; several seeds) as one agent; write and return
    their results."""
    if len({dataclasses.replace(s, seed=0) for s in specs}) != 1:
        raise ValueError("stacked runs must differ in their seed only")
    started, first = time.perf_counter(), specs[0]
    torch.set_num_threads(first.threads)
    device = torch.device(first.device)
    code_and_machine = environment(device)
    task, method = parse_task(first.task), get_method(first.method)
    profile = dataclasses.replace(get_profile(first.profile), **dict(first.budget))
    resolved = resolve(first.method, first.task).with_overrides(first.overrides,
                                                                first.override_source or f"ablation: {first.variant}")
    dataset = load_dataset(task, first.data)
    steps = profile.agent_steps(method.pipeline)
    config = resolved.agent
    seeds = [RunSeeds.spawn(spec.seed) for spec in specs]
    context = Context(task.env, seeds[0], profile, steps, resolved, dataset.transitions, device, Path(first.cache),
                      lambda phase: None, dataset.reward_windows)
    real = agent_data(context)  # normaliser and reward scale depend on the data alone, not the seed
    members = []
    for run_seeds in seeds:  # each member built as its own run builds it
        seed_everything(run_seeds.init)
        members.append(AGENTS[type(config)](config, dataset.transitions.obs_dim, dataset.transitions.act_dim,
                                            device, steps))
    agent = type(members[0]).stack(members)
    streams = [torch.Generator(device).manual_seed(run_seeds.data) for run_seeds in seeds]
    episodes = [eval_seeds(spec.seed, profile.eval_episodes) for spec in specs]
    evaluations: list[list[dict]] = [[] for _ in specs]
    timings = {"data": time.perf_counter() - started, "train": 0.0, "eval": 0.0}
    for step in range(1, steps + 1):
        tick = time.perf_counter()
        log = agent.update(stack_batches([real.buffer.sample(config.batch_size, g) for g in streams]))
        timings["train"] += time.perf_counter() - tick
        if step % profile.eval_every == 0 or step == steps:
            tick = time.perf_counter()
            for i in range(len(specs)):
                actor = member_module(agent.actor, i)
                outcome = evaluate(lambda obs: actor.act(real.normalizer(obs)), dataset.eval_env_id, task.env,
                                   episodes[i], device)
                evaluations[i].append(evaluation_record(step, outcome, {k: v[i] for k, v in log.items()}))
            timings["eval"] += time.perf_counter() - tick
        if progress is not None:
            progress(step, steps)
    timings["total"] = time.perf_counter() - started
    results = []
    for i, spec in enumerate(specs):
        facts = {"artifacts": {"stacked": {"seeds": [s.seed for s in specs], "member": i}},
                 "normalizer": real.normalizer.to_dict(), "reward_scale": real.reward_scale, "inference": {}}
        result = result_record(spec, resolved, profile, dataset, episodes[i], evaluations[i], dict(timings),
                               code_and_machine, facts)
        save_durably({name: member_module(getattr(agent, name), i).state_dict() for name in TAKEN_AWAY
                      if hasattr(agent, name)}, spec.weights_path(results_dir))
        write_json_atomic(spec.result_path(results_dir), result)
        results.append(result)
    return results
