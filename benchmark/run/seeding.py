"""Independent random streams of a run, spawned from its seed.

Each part of a run (network initialisation, the order of training batches, the cached models' training, the
world model's rollouts, the draws among them, DAWM's choice of synthetic transitions, Decision Diffuser's
plans) draws from its own stream, spawned with numpy's SeedSequence. Changing how many numbers one part
draws (a new sampler, another horizon) therefore never shifts another part's numbers. Evaluation draws no
random numbers: its episodes start from fixed reset seeds (benchmark/envs/evaluation.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class RunSeeds:
    init: int  # torch's global generator: network initialisation
    data: int  # the agent's batches
    artifacts: int  # training the cached models (world model, IDM, one-step model, DD's plan model)
    rollouts: int  # the rollout bank's start rows and samples
    draws: int  # which stored rollout a batch reads (DWM), one-step model rollouts, DD's plans
    synthesis: int  # which synthetic transitions DAWM keeps

    @classmethod
    def spawn(cls, run_seed: int) -> RunSeeds:
        """Stream i is the i-th child of SeedSequence(run_seed); new streams are appended, never inserted."""
        children = np.random.SeedSequence(run_seed).spawn(len(fields(cls)))
        return cls(*(int(child.generate_state(1)[0]) for child in children))  # 32-bit: every library takes it
