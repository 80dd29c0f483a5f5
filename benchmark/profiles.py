"""Profiles change budgets (steps, evaluation cadence and episodes), never the algorithm."""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.errors import UnknownNameError


@dataclass(frozen=True)
class Profile:
    name: str
    train_steps: int  # gradient steps of the agent
    eval_every: int  # gradient steps between evaluations (one more at the end)
    eval_episodes: int
    description: str


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("smoke", 400, 200, 2, "seconds on a CPU; for tests and a first look, scores mean nothing"),
        Profile("quick", 100_000, 10_000, 10,
                "a CPU-feasible protocol: 1/10 of CORL's steps, minutes per run on one core"),
        Profile("paper", 1_000_000, 5_000, 10, "CORL's protocol: 1M steps, 10 episodes every 5k steps"),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownNameError("profile", name, PROFILES) from None
