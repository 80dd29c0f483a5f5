"""How many runs go on a device at once, and which device each run gets."""

import torch

from benchmark.grid.runspec import RunSpec
from benchmark.launch import placement
from benchmark.launch.ordering import artefact_first
from benchmark.launch.placement import GIB, place


def specs(methods, n=4):
    return [RunSpec("hopper-medium-v2", method, seed, "quick") for method in methods for seed in range(n)]


def test_cpu_runs_one_per_core_unless_told():
    grid = specs(["td3bc"], n=5)
    assert place(grid, "cpu", cpu_count=2).workers == 2
    assert place(grid[:1], "cpu", cpu_count=16).workers == 1
    assert place(grid, "cpu", cpu_count=2, workers=3).workers == 3
    assert {spec.device for spec in place(grid, "cpu", cpu_count=2).specs} == {"cpu"}


def test_gpus_take_as_many_runs_as_their_free_memory_holds_spread_round_robin(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    free = {0: 10 * GIB, 1: 3.5 * GIB}
    monkeypatch.setattr(placement, "gpu_free_bytes", lambda device: free[device.index])
    model_free = place(specs(["td3bc"], n=20), "cuda", cpu_count=64)
    assert model_free.workers == 10 + 3  # 1 GiB a model-free run
    assert [s.device for s in model_free.specs[:4]] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    mixed = place(specs(["td3bc", "dawm-td3bc"]), "cuda", cpu_count=64)
    assert mixed.workers == 2 + 1  # the most demanding method sets the room: 4 GiB a DAWM run
    assert place(specs(["td3bc"], n=20), "cuda", cpu_count=4).workers == 4  # one core per run's environments
    single = place(specs(["td3bc"]), "cuda:1", cpu_count=64)
    assert single.workers == 3 and {s.device for s in single.specs} == {"cuda:1"}
    assert place(specs(["dawm-td3bc"], n=1), "cuda:1", cpu_count=64).workers == 1  # never zero


def test_runs_sharing_a_model_start_in_rounds_builders_first_model_free_last():
    methods = ["td3bc", "iql", "dwm-td3bc", "dwm-iql", "dawm-td3bc", "onestep-td3bc", "onestep-iql", "dd"]
    grid = [RunSpec(task, method, 0, "quick") for task in ("hopper-medium-v2", "walker2d-medium-v2")
            for method in methods]
    order = [(spec.task.split("-")[0], spec.method) for spec in artefact_first(grid)]
    assert order == [("hopper", "dwm-td3bc"), ("hopper", "onestep-td3bc"), ("hopper", "dd"),
                     ("walker2d", "dwm-td3bc"), ("walker2d", "onestep-td3bc"), ("walker2d", "dd"),
                     ("hopper", "dwm-iql"), ("hopper", "onestep-iql"),
                     ("walker2d", "dwm-iql"), ("walker2d", "onestep-iql"),
                     ("hopper", "dawm-td3bc"), ("walker2d", "dawm-td3bc"),
                     ("hopper", "td3bc"), ("hopper", "iql"), ("walker2d", "td3bc"), ("walker2d", "iql")]
    seeds = [RunSpec("hopper-medium-v2", method, seed, "quick") for method in ("dwm-td3bc", "dwm-iql")
             for seed in (0, 1)]
    assert [(s.method, s.seed) for s in artefact_first(seeds)] == [  # each seed trains its own world model
        ("dwm-td3bc", 0), ("dwm-td3bc", 1), ("dwm-iql", 0), ("dwm-iql", 1)]
