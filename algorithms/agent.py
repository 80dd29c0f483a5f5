"""What every agent shares: acting, and checkpointing through state dicts."""

from __future__ import annotations

from typing import ClassVar, Protocol

import torch

from algorithms.buffer import Batch


class Agent(Protocol):
    step: int

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step. The log's scalars stay on the device: reading one (float(), .item()) waits for
        the GPU, so callers read them at their logging cadence, never every step."""

    def act(self, observations: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class StateDictMixin:
    """state_dict / load_state_dict over the modules, optimisers and schedulers named in `checkpointed`, and
    the agent's own random streams (`generators`, if it has any)."""

    checkpointed: ClassVar[tuple[str, ...]]
    step: int

    def state_dict(self) -> dict:
        return {"step": self.step, **{name: getattr(self, name).state_dict() for name in self.checkpointed},
                "generators": [g.get_state() for g in getattr(self, "generators", [])]}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]
        for name in self.checkpointed:
            getattr(self, name).load_state_dict(state[name])
        for generator, saved in zip(getattr(self, "generators", []), state.get("generators", ())):
            generator.set_state(saved)


def source(text: str) -> dict:
    """Dataclass field metadata naming where a default comes from: 'paper: ...', 'code: ...' or 'ours: ...'."""
    return {"source": text}
