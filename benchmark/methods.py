"""The methods a suite can run: CLI name -> agent class and config class."""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.iql import IQL, IQLConfig
from algorithms.td3_bc import TD3BC, TD3BCConfig
from benchmark.errors import UnknownNameError


@dataclass(frozen=True)
class Method:
    name: str  # as typed on the command line and stored in result files
    label: str  # as the papers' tables print it
    agent: type
    config: type


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("td3bc", "TD3+BC", TD3BC, TD3BCConfig),
        Method("iql", "IQL", IQL, IQLConfig),
    )
}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownNameError("method", name, METHODS) from None
