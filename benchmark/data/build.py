"""Building several local datasets at once: one process per core, medium-expert after its two parts."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from tqdm import tqdm

from benchmark.data.minari_io import dataset_exists, local_dataset_id
from benchmark.data.recipe import build_dataset
from benchmark.data.tiny import build_tiny_dataset
from benchmark.envs.tasks import TINY_DATASET


def _build_one(env: str, name: str) -> tuple[str, float]:
    started = time.perf_counter()
    built = build_tiny_dataset(env) if name == TINY_DATASET else build_dataset(env, name)
    return built, time.perf_counter() - started


def build_many(datasets: list[tuple[str, str]], workers: int = 2) -> None:
    """Build every missing (env, dataset name) pair, printing each one's time."""
    missing = [(e, n) for e, n in datasets if not dataset_exists(local_dataset_id(e, n))]
    if not missing:
        return
    then = [(e, n) for e, n in missing if n == "medium-expert"]
    first = [(e, n) for e, n in missing if n != "medium-expert"]
    first += [(e, part) for e, _ in then for part in ("medium", "expert") if (e, part) not in first
              and not dataset_exists(local_dataset_id(e, part))]
    bar = tqdm(total=len(first) + len(then), desc="building datasets", unit="dataset")
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for stage in (first, then):
            for future in as_completed([pool.submit(_build_one, e, n) for e, n in stage]):
                built, seconds = future.result()
                bar.write(f"built {built} in {seconds:.0f} s")
                bar.update()
    bar.close()
