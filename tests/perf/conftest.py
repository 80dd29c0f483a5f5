"""The speed suite's shared setup: each method's own pipeline on the tiny hopper dataset with the shipped
hopper-medium hyperparameters, its cached models trained for one step (speed does not depend on their
weights). PERF_DEVICE (default cpu) and PERF_THREADS (default 1: one run per core) choose where it runs."""

import dataclasses
import os

import pytest
import torch

from benchmark.data import DataSpec, load_dataset
from benchmark.envs.tasks import parse_task
from benchmark.grid.hyperparams import resolve
from benchmark.grid.methods import get_method
from benchmark.grid.profiles import get_profile
from benchmark.run.pipelines import PIPELINES, Context, Setup
from benchmark.run.seeding import RunSeeds

DEVICE = torch.device(os.environ.get("PERF_DEVICE", "cpu"))
THREADS = int(os.environ.get("PERF_THREADS", "1"))
TASK = "hopper-medium-v2"  # whose hyperparameters; the data is hopper-tiny, of the same dimensions
ONE_STEP = dataclasses.replace(get_profile("smoke"), world_model_steps=1, idm_steps=1, one_step_model_steps=1)


@pytest.fixture(scope="session", autouse=True)
def perf_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def perf_data(tiny_hopper):
    return load_dataset(parse_task("hopper-tiny"), DataSpec()).transitions


@pytest.fixture(scope="session")
def perf_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("perf-cache")


@pytest.fixture(scope="session")
def build_setup(perf_data, perf_cache):
    built: dict[str, Setup] = {}

    def build(method: str) -> Setup:
        if method not in built:
            context = Context("hopper", RunSeeds.spawn(0), ONE_STEP, 1_000_000, resolve(method, TASK), perf_data,
                              DEVICE, perf_cache, lambda phase: None)
            built[method] = PIPELINES[get_method(method).pipeline](context)
        return built[method]
    return build


def synchronized(call):
    """`call`, then wait for the device: pytest-benchmark's clock must include the GPU's work."""
    if DEVICE.type != "cuda":
        return call

    def wrapped():
        value = call()
        torch.cuda.synchronize(DEVICE)
        return value
    return wrapped


def count_flops(call) -> int:
    """Floating-point operations of one call (matmuls and convolutions, as torch's FlopCounterMode counts)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        call()
    return int(counter.get_total_flops())


def record(benchmark, group: str, unit: str, per_call: float, flops: int | None = None) -> None:
    """What the report needs besides the timings: items per call, their unit, and the work of a call."""
    benchmark.group = group
    benchmark.extra_info.update({"unit": unit, "per_call": per_call, "flops_per_call": flops,
                                 "device": str(DEVICE), "threads": THREADS, "torch": torch.__version__})
