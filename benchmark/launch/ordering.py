"""The order a grid's runs start in, so that runs in flight together rarely wait on one shared artefact.

Every run of a (task, seed) that needs a model shared with other runs (the diffusion world model and its
rollout bank for DWM and DAWM, the one-step model, DD's plan model) trains it under a lock, or waits for the
run that holds the lock: with the grid in method order, DWM-IQL would sit idle on a core for the hour
DWM-TD3BC spends on the world model. Started in rounds instead, round k holding the k-th run of every
artefact over all tasks and seeds, the runs in flight together need different artefacts, and the later rounds
find theirs cached. Model-free runs share nothing and are the shortest: they go last and fill the tail.
"""

from __future__ import annotations

import math
from collections import Counter

from benchmark.grid.methods import get_method
from benchmark.grid.runspec import RunSpec

SHARED_MODEL = {"dwm": "diffusion world model", "dawm": "diffusion world model", "one_step": "one-step model",
                "dd": "plan model", "model_free": None}


def artefact_first(specs: list[RunSpec]) -> list[RunSpec]:
    """Round k: the k-th run (in the given order) of each shared model, over all tasks and seeds; then the runs
    that share none. Order within a round is the given one."""
    users: Counter = Counter()
    keyed = []
    for index, spec in enumerate(specs):
        model = SHARED_MODEL[get_method(spec.method).pipeline]
        key = (spec.task, spec.seed, spec.data, spec.cache, model)
        keyed.append(((users[key] if model else math.inf, index), spec))
        users[key] += 1
    return [spec for _, spec in sorted(keyed, key=lambda item: item[0])]
