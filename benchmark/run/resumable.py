"""Long training loops of cached models (world model, IDM, Decision Diffuser's plan model, one-step model) that
survive a kill or a SLURM time-limit requeue: every 1/20 of the phase their state is saved beside the cache
entry, and a restarted loop continues from it to the same weights an uninterrupted one reaches."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmark.run.completion import set_aside
from benchmark.results import remove_temporaries, save_durably

SAVES_PER_PHASE = 20
FITTED = ("normalizer.", "action_normalizer.")  # buffers fitted to the data by the model's constructor


class TrainingCheckpoint:
    """The training state of one model at `path`: its weights (not the data-fitted normalisers, which the model's
    constructor rebuilds), optimiser, step counter, batch generator, torch's RNG and the loop's own `extra`."""

    def __init__(self, path: Path, steps: int):
        self.path, self.every = path, max(1, steps // SAVES_PER_PHASE)
        remove_temporaries(path)

    def restore(self, model: nn.Module, generator: torch.Generator) -> tuple[int, dict] | None:
        """(step, extra) of a saved state loaded into model and generator, or None to start afresh."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as error:
            kept = set_aside(self.path, "broken")
            print(f"warning: {self.path} cannot be read ({error}); kept as {kept}, training from the start",
                  file=sys.stderr)
            return None
        missing, unexpected = model.load_state_dict(state["model"], strict=False)
        if unexpected or any(not key.startswith(FITTED) for key in missing):
            raise RuntimeError(f"{self.path} does not match the model being trained")
        model.optimizer.load_state_dict(state["optimizer"])
        model.step = state["model_step"]
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if torch.cuda.is_available() and "cuda_rng" in state:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return state["step"], state["extra"]

    def save(self, step: int, model: nn.Module, generator: torch.Generator, extra: dict[str, Any]) -> None:
        if step % self.every:
            return
        state = {"step": step, "model": {k: v for k, v in model.state_dict().items() if not k.startswith(FITTED)},
                 "optimizer": model.optimizer.state_dict(), "model_step": model.step,
                 "generator": generator.get_state(), "torch_rng": torch.get_rng_state(), "extra": extra}
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        save_durably(state, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
