"""`python -m benchmark.data {build,train-behaviour,card}`: the project's own datasets."""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from benchmark.data.behaviour import BEHAVIOUR_DIR, BehaviourRecipe, train_behaviour
from benchmark.data.card import write_card
from benchmark.data.minari_io import datasets_root
from benchmark.data.recipe import RECIPE_DATASETS, build_dataset
from benchmark.data.tiny import build_tiny_dataset
from benchmark.errors import UnknownNameError, UsageError
from benchmark.tasks import ENVS, TINY_DATASET

WORK_DIR = Path(".behaviour_work")  # resumable training state, git-ignored


def _build_one(env: str, name: str) -> tuple[str, float]:
    started = time.perf_counter()
    dataset = build_tiny_dataset(env) if name == TINY_DATASET else build_dataset(env, name)
    return dataset, time.perf_counter() - started


def build(envs: list[str], names: list[str], workers: int) -> None:
    """Rollouts and replays in parallel, one process per core; medium-expert after its two parts."""
    first = [(e, n) for e in envs for n in names if n != "medium-expert"]
    then = [(e, "medium-expert") for e in envs if "medium-expert" in names]
    if "medium-expert" in names:
        first += [(e, n) for e in envs for n in ("medium", "expert") if (e, n) not in first]
    bar = tqdm(total=len(first) + len(then), desc="datasets", unit="dataset")
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for stage in (first, then):
            for future in as_completed([pool.submit(_build_one, e, n) for e, n in stage]):
                dataset, seconds = future.result()
                bar.write(f"{dataset}: {seconds:.0f} s")
                bar.update()
    bar.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build local Minari datasets from the committed checkpoints")
    build_parser.add_argument("--env", nargs="+", default=list(ENVS))
    build_parser.add_argument("--datasets", nargs="+", default=list(RECIPE_DATASETS),
                              help=f"any of {', '.join((*RECIPE_DATASETS, TINY_DATASET))} (default: all but tiny)")
    build_parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    train = commands.add_parser("train-behaviour", help="train (or resume) the SAC behaviour policy of one env")
    train.add_argument("--env", required=True)
    train.add_argument("--steps", type=int, default=BehaviourRecipe().total_steps)
    card = commands.add_parser("card", help="write results/datasets.md and the SAC curves figure")
    card.add_argument("--out", type=Path, default=Path("results") / "datasets.md")
    args = parser.parse_args(argv)
    try:
        for env in args.env if isinstance(getattr(args, "env", None), list) else [getattr(args, "env", None)]:
            if env is not None and env not in ENVS:
                raise UnknownNameError("env", env, ENVS)
        if args.command == "train-behaviour":
            train_behaviour(args.env, BehaviourRecipe(total_steps=args.steps), BEHAVIOUR_DIR / args.env,
                            WORK_DIR / args.env)
        elif args.command == "build":
            for name in args.datasets:
                if name not in (*RECIPE_DATASETS, TINY_DATASET):
                    raise UnknownNameError("dataset", name, (*RECIPE_DATASETS, TINY_DATASET))
            print(f"building into {datasets_root()}")
            build(args.env, args.datasets, args.workers)
        else:
            print(f"written {write_card(args.out)}")
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
