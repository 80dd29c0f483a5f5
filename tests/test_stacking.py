"""Seeds as a batch dimension: each member of a stacked agent is its own run, up to float rounding."""

import pytest
import torch

from algorithms.buffer import ReplayBuffer
from algorithms.iql import IQL, IQLConfig
from algorithms.stacking import stack_batches
from algorithms.td3_bc import TD3BC, TD3BCConfig
from tests.test_world_model import episode_data

SEEDS = (3, 5, 8)
STEPS = 12
CONFIGS = {"td3bc": (TD3BC, TD3BCConfig(hidden=(32, 32), batch_size=16)),
           "iql": (IQL, IQLConfig(hidden=(32, 32), batch_size=16)),
           "iql-gaussian": (IQL, IQLConfig(hidden=(32, 32), batch_size=16, deterministic_actor=False))}


def built(agent_class, config, seed: int):
    """An agent as its own run builds it: the run's initialisation stream seeds torch first."""
    torch.manual_seed(seed)
    return agent_class(config, 11, 3, "cpu", total_steps=STEPS)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_member_trains_exactly_like_its_own_run(name):
    agent_class, config = CONFIGS[name]
    data = episode_data(n=200)
    buffer = ReplayBuffer(data.observations, data.actions, data.rewards, data.next_observations, data.terminals,
                          "cpu")
    separate = [built(agent_class, config, seed) for seed in SEEDS]
    stacked = agent_class.stack([built(agent_class, config, seed) for seed in SEEDS])
    draws = [torch.Generator().manual_seed(100 + seed) for seed in SEEDS]  # each run's batch stream
    for _ in range(STEPS):
        batches = [buffer.sample(config.batch_size, generator) for generator in draws]
        logs = [agent.update(batch) for agent, batch in zip(separate, batches)]
        stacked_log = stacked.update(stack_batches(batches))
        for key, value in stacked_log.items():
            assert value.shape == (len(SEEDS),)
            torch.testing.assert_close(value, torch.stack([log[key] for log in logs]), rtol=1e-4, atol=1e-5)
    observations = torch.as_tensor(data.observations[:7])
    for i, agent in enumerate(separate):
        member = stacked.member_actor(i)
        assert type(member) is type(agent.actor)
        for (name_a, a), (name_b, b) in zip(agent.actor.named_parameters(), member.named_parameters()):
            assert name_a == name_b and a.shape == b.shape
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(member.act(observations), agent.act(observations), rtol=1e-4, atol=1e-5)
    stacked_actions = stacked.act(observations.expand(len(SEEDS), -1, -1))
    assert stacked_actions.shape == (len(SEEDS), 7, 3)


def test_members_differ_and_stacking_refuses_trained_agents():
    agent_class, config = CONFIGS["td3bc"]
    stacked = agent_class.stack([built(agent_class, config, seed) for seed in SEEDS])
    first, second = stacked.member_actor(0), stacked.member_actor(1)
    assert not torch.equal(next(first.parameters()), next(second.parameters()))  # their own initialisations
    trained = built(agent_class, config, 0)
    trained.step = 1
    with pytest.raises(ValueError, match="before their first update"):
        agent_class.stack([trained, built(agent_class, config, 1)])


@pytest.mark.parametrize("method", ["td3bc", "iql"])
def test_stacked_seeds_write_the_result_files_their_own_runs_write(method, tiny_hopper, tmp_path):
    from benchmark.grid.runspec import RunSpec
    from benchmark.run.runner import train_run
    from benchmark.run.stacked import train_stacked

    budget = (("train_steps", 40), ("eval_every", 20), ("eval_episodes", 2))
    specs = [RunSpec("hopper-tiny", method, seed, "smoke", budget=budget) for seed in (0, 1)]
    alone = [train_run(spec, tmp_path / "alone") for spec in specs]
    together = train_stacked(specs, tmp_path / "stacked")
    for spec, own, member in zip(specs, alone, together):
        assert spec.result_path(tmp_path / "stacked").is_file() and spec.weights_path(tmp_path / "stacked").is_file()
        assert member["run"] == own["run"] and member["eval_seeds"] == own["eval_seeds"]
        for a, b in zip(own["evaluations"], member["evaluations"]):
            assert a["step"] == b["step"] and a["lengths"] == b["lengths"]
            assert b["score"] == pytest.approx(a["score"], rel=1e-3)
            assert b["train_log"] == pytest.approx(a["train_log"], rel=1e-3, abs=1e-5)
    assert together[0]["final_score"] != together[1]["final_score"]  # two seeds, two runs


def test_only_model_free_methods_stack(tmp_path):
    from benchmark.errors import UsageError
    from benchmark.grid.runspec import RunSpec
    from benchmark.run.stacked import groups

    specs = [RunSpec("hopper-tiny", method, seed, "smoke") for method in ("td3bc", "iql") for seed in (0, 1, 2)]
    assert [[s.seed for s in group] for group in groups(specs)] == [[0, 1, 2], [0, 1, 2]]
    with pytest.raises(UsageError, match="not dwm-td3bc"):
        groups([RunSpec("hopper-tiny", "dwm-td3bc", 0, "smoke")])


def test_run_stack_seeds_from_the_command_line(tiny_hopper, tmp_path, capsys):
    import json

    from benchmark.cli import main

    results = tmp_path / "results"
    argv = ["run", "--methods", "td3bc", "--seeds", "0", "1", "--results", str(results)]
    assert main([*argv, "--stack-seeds"]) == 0
    out = capsys.readouterr().out
    assert "done   hopper-tiny/td3bc/seed0" in out and "done   hopper-tiny/td3bc/seed1" in out
    files = sorted(results.rglob("seed*.json"))
    assert [f.name for f in files] == ["seed0.json", "seed1.json"]
    assert json.loads(files[1].read_text())["artifacts"]["stacked"] == {"seeds": [0, 1], "member": 1}
    assert main([*argv, "--stack-seeds"]) == 0 and "2 already done, 0 to run" in capsys.readouterr().out
    refused = tmp_path / "refused"
    assert main(["run", "--methods", "dwm-td3bc", "--stack-seeds", "--results", str(refused)]) == 2
    assert "--stack-seeds trains td3bc and iql only" in capsys.readouterr().err and not refused.exists()
