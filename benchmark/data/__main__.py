"""`python -m benchmark.data build`: build local datasets into $MINARI_DATASETS_PATH."""

from __future__ import annotations

import argparse
import sys

from benchmark.data.minari_io import datasets_root
from benchmark.data.tiny import build_tiny_dataset
from benchmark.errors import UnknownNameError, UsageError
from benchmark.tasks import D4RL_DATASETS, ENVS, TINY_DATASET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.data")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build local Minari datasets")
    build.add_argument("--env", nargs="+", default=list(ENVS))
    build.add_argument("--datasets", nargs="+", default=[TINY_DATASET])
    args = parser.parse_args(argv)
    try:
        for env in args.env:
            if env not in ENVS:
                raise UnknownNameError("env", env, ENVS)
        for name in args.datasets:
            if name in D4RL_DATASETS:
                raise UsageError(f"the D4RL-recipe builder (SAC behaviour policies) for {name!r} is not in this "
                                 f"version yet; use --source minari or --source d4rl-hdf5 for those tasks")
            if name != TINY_DATASET:
                raise UnknownNameError("dataset", name, (TINY_DATASET, *D4RL_DATASETS))
        for env in args.env:
            print(f"{build_tiny_dataset(env)} in {datasets_root()}")
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
