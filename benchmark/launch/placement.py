"""Where runs go and how many run at once: one single-threaded run per CPU core; on GPUs, as many runs per
device as its free memory holds (small MLPs leave most of a GPU idle), spread over the visible devices."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from benchmark.grid.methods import get_method
from benchmark.grid.runspec import RunSpec

GIB = 2 ** 30
# Peak GPU memory of one run, CUDA context included, on a 1M-row dataset (ours, estimates: not measured on a
# GPU yet; the bank and the world model's windows dominate the model-based ones). `--workers` overrides.
GPU_MEMORY_PER_RUN = {"model_free": 1.0 * GIB, "one_step": 1.5 * GIB, "dwm": 4.0 * GIB, "dawm": 4.0 * GIB,
                      "dd": 3.0 * GIB}


@dataclass(frozen=True)
class Placement:
    specs: list[RunSpec]  # each with the device it runs on
    workers: int  # runs at a time, over all devices
    note: str  # one line for the user


def gpu_free_bytes(device: torch.device) -> int:
    return torch.cuda.mem_get_info(device)[0]


def place(specs: list[RunSpec], device: str, cpu_count: int, workers: int | None = None) -> Placement:
    """CPU: `workers` or one run per core. CUDA: `cuda` spreads the runs over every visible GPU (round robin),
    `cuda:N` keeps them on one; per device as many at once as its free memory holds for the most demanding
    method in the grid, never more runs than CPU cores (each run steps its environments on one)."""
    if device == "cpu":
        count = workers or max(1, min(cpu_count, len(specs)))
        return Placement(specs, count, f"{count} run(s) at a time on the CPU")
    devices = ([torch.device("cuda", i) for i in range(torch.cuda.device_count())] if device == "cuda"
               else [torch.device(device)])
    placed = [dataclasses.replace(spec, device=str(devices[i % len(devices)])) for i, spec in enumerate(specs)]
    need = max(GPU_MEMORY_PER_RUN[get_method(spec.method).pipeline] for spec in specs)
    per_device = {str(d): max(1, int(gpu_free_bytes(d) // need)) for d in devices}
    count = workers or max(1, min(sum(per_device.values()), cpu_count, len(specs)))
    fits = ", ".join(f"{name}: {n}" for name, n in per_device.items())
    return Placement(placed, count, f"{count} run(s) at a time over {len(devices)} GPU(s) (free memory fits, at "
                                    f"{need / GIB:.1f} GiB a run: {fits})")
