"""World-model rollouts from the dataset's (s_t, a_t), generated once and shared by DWM, DAWM and the ablations.

DWM's and DAWM's rollouts depend on the data and a fixed return-to-go, never on the policy. A bank is keyed
by the content hash of (world-model checkpoint, sampler settings, RTG, seed, dataset checksum, layout).

Layout: rollouts come in passes over the data. Pass p visits every dataset row once, in the order of a
permutation seeded by (seed, p), so rollout j starts at row perm_{j // N}[j mod N] and is that row's sample
number j // N. Any prefix of the bank is then a uniform draw of start rows without replacement (wrapping
into a fresh pass only beyond N): DAWM reads the first n rollouts; DWM reads whole passes, S samples of every
row. Rollouts are generated in fixed chunks, each with its own seed, so a bank grows on demand, an
interrupted generation resumes, and concurrent runs split the chunks between them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from algorithms.diffusion.gaussian import SamplerSettings
from algorithms.world_model import DiffusionWorldModel
from benchmark.data.transitions import Transitions
from benchmark.locks import file_lock
from benchmark.results import write_json_atomic

CHUNK_ROLLOUTS = 65_536
GENERATION_BATCH = 4096
# Part of every bank's key. 2: seeded permutation passes (1 started rollout j at row j mod N, so a prefix
# covered only the data's first rows); sampler steps ending at the lowest noise level.
BANK_LAYOUT = 2


@dataclass(frozen=True)
class BankSpec:
    world_model_sha256: str
    sampler: SamplerSettings
    rtg: float  # normalised (divided by the environment's return scale)
    seed: int
    data_checksum: str
    horizon: int  # steps stored per rollout: the model's maximum; consumers read prefixes
    chunk: int
    layout: int = BANK_LAYOUT

    @property
    def key(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def start_rows(seed: int, n_rows: int, rollouts: range) -> tuple[np.ndarray, np.ndarray]:
    """(start row, sample number) of each rollout index: pass p = j // N is a permutation seeded by (seed, p)."""
    index = np.asarray(rollouts, dtype=np.int64)
    passes = index // n_rows
    rows = np.empty_like(index)
    for p in np.unique(passes):
        at = passes == p
        rows[at] = np.random.default_rng([seed, int(p)]).permutation(n_rows)[index[at] % n_rows]
    return rows, passes


@dataclass(frozen=True)
class Rollouts:
    rows: np.ndarray  # [n] dataset row each rollout starts from
    samples: np.ndarray  # [n] which sample of its row a rollout is: 0 for a row's first, 1 for its second, ...
    states: np.ndarray  # [n, H, obs] s_{t+1..t+H}, raw units
    rewards: np.ndarray  # [n, H] r_t..r_{t+H-1}


class RolloutBank:
    def __init__(self, root: Path, spec: BankSpec, data: Transitions):
        self.spec, self.data = spec, data
        self.folder = Path(root) / "banks" / spec.key

    def _chunk_path(self, index: int) -> Path:
        return self.folder / f"chunk_{index:05d}.npz"

    def _chunks(self, n_rollouts: int) -> range:
        return range(-(-n_rollouts // self.spec.chunk))

    def ensure(self, model: DiffusionWorldModel, n_rollouts: int, device: torch.device,
               report: Callable[[int, int], None] | None = None) -> None:
        """Generate the chunks the first n_rollouts need that no one has generated yet."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.folder / "bank.json", {"key": self.spec.key, **dataclasses.asdict(self.spec)})
        missing = [c for c in self._chunks(n_rollouts) if not self._chunk_path(c).exists()]
        done, busy = 0, []

        def advance() -> None:
            nonlocal done
            done += 1
            if report is not None:
                report(done * self.spec.chunk, len(missing) * self.spec.chunk)

        for chunk in missing:
            with file_lock(self.folder / f".lock_{chunk}", blocking=False) as acquired:
                if not acquired:
                    busy.append(chunk)
                    continue
                if not self._chunk_path(chunk).exists():
                    self._generate(model, chunk, device)
            advance()
        for chunk in busy:  # another run is generating it: wait, or take over if it died
            with file_lock(self.folder / f".lock_{chunk}"):
                if not self._chunk_path(chunk).exists():
                    self._generate(model, chunk, device)
            advance()

    def _generate(self, model: DiffusionWorldModel, chunk: int, device: torch.device) -> None:
        """One chunk, with the seconds it took: a bank's cost is priced from what its chunks took to generate."""
        tick = time.perf_counter()
        spec, data = self.spec, self.data
        chunk_seed = int(np.random.SeedSequence([spec.seed, chunk]).generate_state(1)[0])
        generator = torch.Generator(device).manual_seed(chunk_seed)
        rows, _ = start_rows(spec.seed, data.size, range(chunk * spec.chunk, (chunk + 1) * spec.chunk))
        states, rewards = [], []
        for start in range(0, len(rows), GENERATION_BATCH):
            batch = rows[start: start + GENERATION_BATCH]
            s, r = model.sample(torch.as_tensor(data.observations[batch], device=device),
                                torch.as_tensor(data.actions[batch], device=device),
                                torch.full((len(batch),), spec.rtg, device=device), spec.horizon, generator)
            states.append(s.cpu().numpy())
            rewards.append(r.cpu().numpy())
        temporary = self._chunk_path(chunk).with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            np.savez(handle, states=np.concatenate(states), rewards=np.concatenate(rewards),
                     seconds=np.float64(time.perf_counter() - tick))
        os.replace(temporary, self._chunk_path(chunk))

    def load(self, n_rollouts: int, horizon: int | None = None) -> Rollouts:
        """The first n_rollouts, each cut to its first `horizon` steps (default: all stored). Cut chunk by chunk:
        DAWM at H=1 reads 8 rollouts per dataset row and one step of each, 1/7 of the stored states' memory."""
        states, rewards = [], []
        for chunk in self._chunks(n_rollouts):
            with np.load(self._chunk_path(chunk)) as part:
                states.append(np.ascontiguousarray(part["states"][:, :horizon]))
                rewards.append(np.ascontiguousarray(part["rewards"][:, :horizon]))
        states, rewards = np.concatenate(states)[:n_rollouts], np.concatenate(rewards)[:n_rollouts]
        rows, samples = start_rows(self.spec.seed, self.data.size, range(n_rollouts))
        return Rollouts(rows, samples, states, rewards)

    def generation(self, n_rollouts: int) -> dict[str, float]:
        """How long the chunks the first n_rollouts come from took to generate, wherever and by whichever run they
        were (so every run reading them records the same); empty where a chunk predates this record."""
        seconds = 0.0
        for chunk in self._chunks(n_rollouts):
            with np.load(self._chunk_path(chunk)) as part:
                if "seconds" not in part:
                    return {}
                seconds += float(part["seconds"])
        return {"generated": len(self._chunks(n_rollouts)) * self.spec.chunk, "generation_time_s": seconds}
