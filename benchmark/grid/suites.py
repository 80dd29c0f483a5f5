"""Named grids of tasks x methods x seeds."""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.errors import UnknownNameError
from benchmark.grid.methods import METHODS


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    profile: str  # default profile; --profile overrides it
    description: str


# DD's official preset runs the full 200-step chain at every environment step: ask for it with --methods
GRID_METHODS = tuple(name for name in METHODS if name != "dd-official")
D4RL9 = tuple(f"{env}-{ds}-v2" for ds in ("medium", "medium-replay", "medium-expert")
              for env in ("halfcheetah", "hopper", "walker2d"))

SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("smoke", ("hopper-tiny",), GRID_METHODS, (0,), "smoke",
              "every method on a tiny random-policy hopper dataset; minutes on a laptop"),
        Suite("d4rl9", D4RL9, GRID_METHODS, (0, 1, 2, 3, 4), "quick",
              "the 9 D4RL locomotion tasks of the papers' tables, 5 seeds"),
    )
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownNameError("suite", name, SUITES) from None
