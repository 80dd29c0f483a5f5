"""Profiles change budgets (steps, evaluation cadence and episodes), never the algorithm."""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.errors import UnknownNameError

BANK_DRAWS = (
    "ours, differs from DWM: DWM samples a fresh world-model rollout for every critic batch; we store S rollouts "
    "per dataset row (the bank, generated once and shared by DWM, DAWM and the ablations) and draw one of the S "
    "per row per batch. What remains different: a row's targets vary over S samples, not over one per batch (at "
    "`paper`, 5e5 batches of 128 on 1M rows visit a row ~64 times: 16 samples reuse each ~4x); the cost is S x "
    "the bank's generation (quick: 2M rollouts on a 1M-row dataset, ~50 core-minutes at ~690 rollouts/s)")

QUICK_MODEL_BUDGETS = (
    "ours, measured (python -m ablations.model_budget, results/model_quality.md; hopper-medium and walker2d-medium, "
    "seed 0): each model at the smallest measured budget (15k, 50k, 150k) after which tripling the steps improves "
    "what the methods use by less than 10%. World model: its 7-step state error, which DWM's and DAWM's H=7 "
    "rollouts use, falls 11% / 7% from 15k to 50k and 5% / 6% from 50k to 150k (hopper / walker2d; its 1-step "
    "error still falls 29% / 24%). One-step model: its 1-step error falls 3% / 4% from 50k to 150k, and its "
    "7-step error does not fall at all. IDM: on real transitions it still gains 17% / 24% from 50k to 150k, but "
    "on generated ones, what DAWM labels, it gains 11% on hopper and loses 25% on walker2d. Cost per task, on one "
    "core beside one other job: world model 0.42-0.48 core-hours, IDM 0.08, one-step model 0.08-0.09, about "
    "0.65 core-hours for the three (0.2 at the earlier 15k / 10k / 20k)")


@dataclass(frozen=True)
class Profile:
    name: str
    train_steps: int  # gradient steps of a model-free agent
    model_based_train_steps: int  # gradient steps of a DWM or DAWM agent
    world_model_steps: int  # diffusion world model (and DD's plan model), trained once per task and seed
    idm_steps: int  # DAWM's and DD's inverse dynamics models, likewise
    one_step_model_steps: int  # the one-step baselines' Gaussian model
    bank_samples_per_row: int  # BANK_DRAWS says why
    eval_every: int  # gradient steps between evaluations (one more at the end)
    eval_episodes: int
    description: str

    def agent_steps(self, pipeline: str) -> int:
        """Decision Diffuser has no agent: its models train as artefacts and it is evaluated once."""
        return {"model_free": self.train_steps, "dd": 0}.get(pipeline, self.model_based_train_steps)

    def budgets(self, pipeline: str) -> dict[str, int]:
        """The budgets a run of this pipeline spends: two runs of one profile with equal budgets are comparable."""
        models = {"model_free": (), "one_step": ("one_step_model_steps",), "dd": ("world_model_steps", "idm_steps"),
                  "dwm": ("world_model_steps", "bank_samples_per_row"),
                  "dawm": ("world_model_steps", "bank_samples_per_row", "idm_steps")}[pipeline]
        return {"agent_steps": self.agent_steps(pipeline), **{name: getattr(self, name) for name in models},
                "eval_every": self.eval_every, "eval_episodes": self.eval_episodes}


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("smoke", 400, 400, 100, 100, 100, 2, 200, 2,
                "seconds on a CPU; for tests and a first look, scores mean nothing"),
        Profile("quick", 100_000, 100_000, 50_000, 50_000, 50_000, 2, 10_000, 10,
                "a CPU-feasible protocol: 1/10 of CORL's and 1/5 of DWM's agent steps; the diffusion models, IDM "
                "and one-step model at 50k steps, the knee of their measured quality (QUICK_MODEL_BUDGETS; about "
                "0.65 core-hours per task and seed, one world model shared by every agent of the task and seed, as "
                "in the papers); 2 stored world-model rollouts per dataset row for DWM's per-batch draws (2M "
                "rollouts on a 1M-row dataset, about 50 core-minutes). Left out against the papers: 2M-step "
                "diffusion models and IDMs (1M for the one-step model), 5e5-1M agent steps, a fresh rollout per "
                "batch, and DWM's sweep over H and RTG"),
        Profile("paper", 1_000_000, 500_000, 2_000_000, 2_000_000, 1_000_000, 16, 5_000, 10,
                "the papers' budgets: CORL's 1M steps for TD3+BC/IQL, DWM's 5e5 agent steps and 2M world-model "
                "steps, 2M IDM steps as DWM's DD re-run, 1M one-step-model steps; 10 episodes every 5k steps; "
                "16 stored world-model rollouts per dataset row (each reused about 4x in 5e5 batches of 128, "
                "against about 64x with one)"),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownNameError("profile", name, PROFILES) from None
