"""`python -m benchmark.data {build,train-behaviour,assess-medium,promote,card}`: the project's own datasets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.data.behaviour import (BEHAVIOUR_DIR, STAGING_DIR, BehaviourRecipe, promote_run, prune_checkpoints,
                                      train_behaviour)
from benchmark.data.build import build_many
from benchmark.data.medium_choice import ASSESSMENT_EPISODES, assess_medium_candidates, chosen_checkpoints
from benchmark.reports.dataset_card import write_card
from benchmark.data.minari_io import datasets_root
from benchmark.data.recipe import RECIPE_DATASETS, behaviour_run_available, load_behaviour_run
from benchmark.errors import UsageError, exit_2_on_usage_error
from benchmark.locks import file_lock
from benchmark.envs.tasks import ENVS, TINY_DATASET


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.data", description=__doc__, allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build local Minari datasets from the committed checkpoints",
                                       allow_abbrev=False)
    build_parser.add_argument("--env", nargs="+", default=list(ENVS), choices=list(ENVS))
    build_parser.add_argument("--datasets", nargs="+", default=list(RECIPE_DATASETS),
                              choices=[*RECIPE_DATASETS, TINY_DATASET], help="default: all but tiny")
    build_parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    train = commands.add_parser("train-behaviour",
                                help="train (or resume) SAC behaviour policies, one env after another")
    train.add_argument("--env", nargs="+", required=True, choices=list(ENVS))
    train.add_argument("--steps", type=int, default=BehaviourRecipe().total_steps, help="cap on SAC steps")
    train.add_argument("--out", type=Path, default=STAGING_DIR,
                       help="runs go to OUT/<env> (default: benchmark/data/behaviour_staging); the committed runs "
                            "in benchmark/data/behaviour/ are never touched")
    assess = commands.add_parser("assess-medium", help=f"evaluate the medium candidates of finished runs over "
                                 f"{ASSESSMENT_EPISODES} episodes (train-behaviour does it before pruning)")
    assess.add_argument("--env", nargs="+", required=True, choices=list(ENVS))
    assess.add_argument("--behaviour-dir", type=Path, default=BEHAVIOUR_DIR,
                        help="where the finished runs are (default: the committed ones in benchmark/data/behaviour)")
    card = commands.add_parser("card", help="write results/datasets.md and the SAC curves figure")
    card.add_argument("--out", type=Path, default=Path("results") / "datasets.md")
    card.add_argument("--behaviour-dir", type=Path, default=BEHAVIOUR_DIR,
                      help="finished runs to describe (default: the committed ones in benchmark/data/behaviour)")
    promote = commands.add_parser("promote", help="replace the committed behaviour run of ENV by its finished run "
                                  "from train-behaviour's folder (then rebuild the datasets and the card)")
    promote.add_argument("--env", nargs="+", required=True, choices=list(ENVS))
    promote.add_argument("--from", dest="source", type=Path, default=STAGING_DIR,
                         help="train-behaviour's --out (default benchmark/data/behaviour_staging)")
    args = parser.parse_args(argv)
    if args.command == "train-behaviour":
        if args.steps < 1:
            raise UsageError("--steps must be positive")
        if args.out.resolve() == BEHAVIOUR_DIR:
            raise UsageError(f"--out {args.out} would overwrite the committed behaviour runs; train elsewhere")
        recipe = BehaviourRecipe(total_steps=args.steps)
        for env in args.env:
            if (args.out / env / "run.json").is_file():
                print(f"{env}: finished in {args.out / env}; skipped")
                continue
            with file_lock(args.out / env / ".lock", blocking=False) as held:
                if not held:
                    raise UsageError(f"{env}: another process is training in {args.out / env}; wait for it, or stop "
                                     f"it first (it resumes from its last resume.pt)")
                train_behaviour(env, recipe, args.out / env)
            assess_medium_candidates(args.out / env, env, recipe, progress=True)
            kept = prune_checkpoints(args.out / env, chosen_checkpoints(args.out / env, env, recipe), recipe)
            print(f"{env}: kept {len(kept)} actor checkpoints (until medium, and the expert)")
    elif args.command == "assess-medium":
        for env in args.env:
            if not (args.behaviour_dir / env / "run.json").is_file():
                raise UsageError(f"no finished behaviour run for {env} in {args.behaviour_dir / env}")
            before = load_behaviour_run(env, args.behaviour_dir / env)
            assess_medium_candidates(before.folder, env, before.recipe, progress=True)
            after = load_behaviour_run(env, before.folder).selection
            print(f"{env}: medium {after.medium} (stochastic score {after.medium_score:.1f} over "
                  f"{after.medium_episodes} episodes, {'held' if after.medium_on_target else 'NOT held'} within "
                  f"±{before.recipe.medium_tolerance:.0f}); before this assessment: {before.selection.medium}")
            if after.medium != before.selection.medium:
                print(f"{env}: rebuild its medium datasets: delete them, then `python -m benchmark.data build --env "
                      f"{env} --datasets medium medium-replay medium-expert`")
    elif args.command == "build":
        if args.workers < 1:
            raise UsageError(f"--workers {args.workers}: give 1 or more")
        for env in args.env:
            if set(args.datasets) - {TINY_DATASET} and not behaviour_run_available(env):
                raise UsageError(f"no finished behaviour run for {env} in {BEHAVIOUR_DIR / env}; train it with "
                                 f"`python -m benchmark.data train-behaviour --env {env}`")
        print(f"building into {datasets_root()}")
        build_many([(e, n) for e in args.env for n in args.datasets], args.workers)
    elif args.command == "promote":
        for env in args.env:
            print(f"{env}: {promote_run(args.source / env, BEHAVIOUR_DIR / env)}")
        print("rebuild the datasets (delete the old ones first) and the card: `python -m benchmark.data build` "
              "and `python -m benchmark.data card`")
    else:
        print(f"written {write_card(args.out, args.behaviour_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
