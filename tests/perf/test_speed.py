"""How fast each method's hot paths are, with pytest-benchmark.

The default test run executes each benchmark once (pyproject's --benchmark-disable) and checks what it
returns; measure with
    python -m pytest tests/perf --benchmark-enable --benchmark-only --benchmark-json results/perf/cpu.json
and write results/performance.md with `python -m benchmark.reports.performance`.
"""

import numpy as np
import pytest
import torch

from benchmark.envs.evaluation import evaluate
from benchmark.run.artifacts import inverse_dynamics, one_step_model, world_model, world_model_batches
from benchmark.grid.hyperparams import resolve
from benchmark.data.normalization import StateNormalizer
from tests.perf.conftest import DEVICE, TASK, count_flops, record, synchronized

AGENTS = ["td3bc", "iql", "dwm-td3bc", "dwm-iql", "dawm-td3bc", "dawm-iql", "onestep-td3bc", "onestep-iql"]
UPDATE_ROUNDS = 100


@pytest.mark.parametrize("method", AGENTS)
def test_agent_update(benchmark, build_setup, method):
    """One gradient step of the agent, its batch sampling included (DAWM: half real, half synthetic; DWM: the
    bank's rollouts; one-step: the model's rollouts with the policy)."""
    setup = build_setup(method)
    generator = torch.Generator(DEVICE).manual_seed(0)
    update = synchronized(lambda: setup.update(generator))
    for _ in range(2):  # TD3+BC's actor steps every second update: warm both kinds of step
        update()
    record(benchmark, "agent update", "updates", 1, count_flops(lambda: (update(), update())) // 2)
    log = benchmark.pedantic(update, rounds=UPDATE_ROUNDS, warmup_rounds=5)
    assert log and all(torch.isfinite(value).all() for value in log.values())


@pytest.fixture(scope="module")
def models(perf_data, perf_cache):
    """The shared models with the shipped configurations, trained for one step."""
    diffusion, _ = world_model(perf_data, resolve("dwm-td3bc", TASK).configs["world_model"], 1, 0, DEVICE, perf_cache)
    one_step, _ = one_step_model(perf_data, resolve("onestep-td3bc", TASK).configs["world_model"], 1, 0, DEVICE,
                                 perf_cache)
    idm, _ = inverse_dynamics(perf_data, StateNormalizer.fit(perf_data.observations),
                              resolve("dawm-td3bc", TASK).configs["idm"], 1, 0, DEVICE, perf_cache)
    return {"world_model": diffusion, "one_step": one_step, "idm": idm}


@pytest.mark.parametrize("kind", ["world_model", "one_step", "idm"])
def test_model_update(benchmark, models, perf_data, kind):
    """One gradient step of a model the agents share, at its shipped batch size."""
    trained = models
    model, generator = trained[kind], torch.Generator(DEVICE).manual_seed(0)
    config = model.config
    if kind == "world_model":
        batches = world_model_batches(perf_data, config, DEVICE, model)
        update = synchronized(lambda: model.update(*batches(generator)))
    elif kind == "one_step":
        observations, actions, next_observations, rewards = (
            torch.as_tensor(x, device=DEVICE) for x in (perf_data.observations, perf_data.actions,
                                                         perf_data.next_observations, perf_data.rewards))

        def update_one_step():
            rows = torch.randint(0, perf_data.size, (config.ensemble_size, config.batch_size), device=DEVICE,
                                 generator=generator)
            return model.update(observations[rows], actions[rows], next_observations[rows], rewards[rows])
        update = synchronized(update_one_step)
    else:
        contexts = torch.randn(config.batch_size, config.history + 2, perf_data.obs_dim, device=DEVICE)
        actions = torch.rand(config.batch_size, perf_data.act_dim, device=DEVICE) * 2 - 1
        update = synchronized(lambda: model.update(contexts, actions))
    update()
    record(benchmark, "model update", "updates", 1, count_flops(update))
    log = benchmark.pedantic(update, rounds=UPDATE_ROUNDS // 2, warmup_rounds=2)
    assert all(torch.isfinite(value).all() for value in log.values())


ROLLOUT_BATCH = 1024


def test_world_model_rollouts(benchmark, models, perf_data):
    """Transitions a second from the diffusion world model at the shipped sampler, horizon and a bank chunk's
    batch (what generating the rollout bank costs)."""
    trained = models
    model = trained["world_model"]
    rows = torch.arange(ROLLOUT_BATCH, device=DEVICE) % perf_data.size
    states = torch.as_tensor(perf_data.observations, device=DEVICE)[rows]
    actions = torch.as_tensor(perf_data.actions, device=DEVICE)[rows]
    horizon, generator = model.config.max_horizon, torch.Generator(DEVICE).manual_seed(0)
    sample = synchronized(lambda: model.sample(states, actions, torch.tensor(0.5, device=DEVICE), horizon, generator))
    record(benchmark, "rollouts", "transitions", ROLLOUT_BATCH * horizon, count_flops(sample))
    future, rewards = benchmark.pedantic(sample, rounds=5, warmup_rounds=1)
    assert future.shape == (ROLLOUT_BATCH, horizon, perf_data.obs_dim) and torch.isfinite(future).all()


@pytest.mark.parametrize("method", ["dd", "dd-official", "dwm-td3bc"])
def test_action_latency(benchmark, build_setup, perf_data, method):
    """Seconds per action for one environment (batch 1): DD plans with its diffusion model at every step,
    DWM acts with its actor alone. DWM's paper: DD 7.53 s vs DWM 1.62 s per episode (4.6x)."""
    if method == "dd-official" and benchmark.disabled and DEVICE.type == "cpu":
        pytest.skip("the official preset's 200-step chain takes about a minute per action on one CPU thread: "
                    "timed with --benchmark-enable only")
    act = build_setup(method).act
    observation = torch.as_tensor(perf_data.observations[:1], device=DEVICE)
    call = synchronized(lambda: act(observation))
    record(benchmark, "action latency", "actions", 1, count_flops(call))
    rounds = {"dd": 3, "dd-official": 2}.get(method, 200)
    action = benchmark.pedantic(call, rounds=rounds, warmup_rounds=0 if method == "dd-official" else 1)
    assert action.shape == (1, perf_data.act_dim) and (action.abs() <= 1).all()


EPISODES = 10


def test_evaluation(benchmark, build_setup):
    """Environment steps a second of an evaluation: 10 Hopper-v5 episodes stepped together, one batched policy
    call per step (an untrained TD3+BC actor: episodes end early, so this is a rate, not an episode length)."""
    act = build_setup("td3bc").act
    seeds = list(range(EPISODES))
    steps = int(evaluate(act, "Hopper-v5", "hopper", seeds, DEVICE).lengths.sum())
    record(benchmark, "evaluation", "environment steps", steps)
    outcome = benchmark.pedantic(lambda: evaluate(act, "Hopper-v5", "hopper", seeds, DEVICE), rounds=3)
    assert int(outcome.lengths.sum()) == steps and np.isfinite(outcome.scores).all()


STACKED_SEEDS = 5


@pytest.mark.parametrize("method", ["td3bc", "iql"])
def test_stacked_update(benchmark, perf_data, method):
    """Five seeds as one stacked agent (`run --stack-seeds`): member updates a second, to read against
    agent_update (on a CPU about the same; on a GPU the point of stacking)."""
    from algorithms.buffer import ReplayBuffer
    from algorithms.stacking import stack_batches
    from benchmark.run.pipelines import AGENTS

    config = resolve(method, TASK).agent
    normalize = StateNormalizer.fit(perf_data.observations)
    buffer = ReplayBuffer(normalize(perf_data.observations), perf_data.actions, perf_data.rewards,
                          normalize(perf_data.next_observations), perf_data.terminals, DEVICE)
    members = []
    for seed in range(STACKED_SEEDS):
        torch.manual_seed(seed)
        members.append(AGENTS[type(config)](config, perf_data.obs_dim, perf_data.act_dim, DEVICE, 1_000_000))
    agent = type(members[0]).stack(members)
    streams = [torch.Generator(DEVICE).manual_seed(seed) for seed in range(STACKED_SEEDS)]
    update = synchronized(lambda: agent.update(stack_batches([buffer.sample(config.batch_size, g)
                                                              for g in streams])))
    for _ in range(2):
        update()
    record(benchmark, "agent update", "updates", STACKED_SEEDS, count_flops(lambda: (update(), update())) // 2)
    log = benchmark.pedantic(update, rounds=UPDATE_ROUNDS // 2, warmup_rounds=2)
    assert all(value.shape == (STACKED_SEEDS,) for value in log.values())
