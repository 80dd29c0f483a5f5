"""Published scores beside which our tables show our own: D4RL normalised score x100, with their sources.

From ../shared/reference/papers.md. DAWM's paper gives no per-task values we can cite: only its claimed
average improvements (DAWM_CLAIMS), which tables show as claims, never as per-task numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

DWM_ORDER = ("hopper-medium-v2", "walker2d-medium-v2", "halfcheetah-medium-v2", "hopper-medium-replay-v2",
             "walker2d-medium-replay-v2", "halfcheetah-medium-replay-v2", "hopper-medium-expert-v2",
             "walker2d-medium-expert-v2", "halfcheetah-medium-expert-v2")


@dataclass(frozen=True)
class PaperColumn:
    source: str
    scores: dict[str, float]  # task -> score x100
    average: float  # the 9-task average as printed (the mean of the rounded cells can differ in the last digit)
    protocol: str  # how the published number was obtained: steps, seeds, selection, simulator, data


def _dwm(values: tuple[float, ...]) -> dict[str, float]:
    return {task: round(100 * v, 1) for task, v in zip(DWM_ORDER, values)}


DWM_T62 = "DWM thesis Table 6.2 (arXiv v4 Table 5.1)"
CORL = "CORL README, last score over 4 seeds"
D4RL_V2 = "D4RL v2 datasets, gym v3 MuJoCo (mujoco-py)"
DWM_PROTOCOL = ("best over a sweep of H in {1, 3, 5, 7} x 3 evaluation RTGs (DWM Table 6.7) per task; "
                "world model T=8 trained 2M steps; 5e5 agent steps, batch 128; 5 seeds x 10 episodes; " + D4RL_V2)
ONE_STEP_PROTOCOL = ("best over a sweep of H in 1..5 per task; one-step model trained 1M steps; 2e5 agent steps; "
                     "5 seeds x 10 episodes; " + D4RL_V2)
DD_PROTOCOL = ("DWM's re-run of DD: T=32, K=5 / N=3, IDM 2x1024 trained 2M steps, best over DWM's RTG sweep; "
               "5 seeds x 10 episodes; " + D4RL_V2)
CORL_PROTOCOL = "last evaluation after 1M steps, mean over 4 seeds x 10 episodes; " + D4RL_V2

PAPER: dict[str, PaperColumn] = {
    "onestep-td3bc": PaperColumn(DWM_T62, _dwm((.39, .39, .44, .26, .23, .43, .31, .60, .27)), 36.8,
                                 ONE_STEP_PROTOCOL),
    "onestep-iql": PaperColumn(DWM_T62, _dwm((.45, .52, .44, .25, .24, .42, .39, .57, .61)), 43.2,
                               ONE_STEP_PROTOCOL),
    "dd": PaperColumn("DWM thesis Table 6.3 (DWM's re-run of DD)", _dwm((.49, .67, .49, .66, .44, .38, 1.06, .99, .91)),
                      67.7, DD_PROTOCOL),
    "dwm-td3bc": PaperColumn(DWM_T62, _dwm((.65, .70, .46, .53, .46, .43, 1.03, 1.10, .75)), 67.9, DWM_PROTOCOL),
    "dwm-iql": PaperColumn(DWM_T62, _dwm((.54, .76, .44, .61, .35, .41, .90, 1.04, .71)), 64.1, DWM_PROTOCOL),
    "td3bc": PaperColumn(CORL, {
        "halfcheetah-medium-v2": 48.10, "halfcheetah-medium-replay-v2": 44.84, "halfcheetah-medium-expert-v2": 90.78,
        "hopper-medium-v2": 60.37, "hopper-medium-replay-v2": 64.42, "hopper-medium-expert-v2": 101.17,
        "walker2d-medium-v2": 82.71, "walker2d-medium-replay-v2": 85.62, "walker2d-medium-expert-v2": 110.03},
        76.45, CORL_PROTOCOL),
    "iql": PaperColumn(CORL, {
        "halfcheetah-medium-v2": 48.31, "halfcheetah-medium-replay-v2": 44.46, "halfcheetah-medium-expert-v2": 94.74,
        "hopper-medium-v2": 67.53, "hopper-medium-replay-v2": 97.43, "hopper-medium-expert-v2": 107.42,
        "walker2d-medium-v2": 80.91, "walker2d-medium-replay-v2": 82.15, "walker2d-medium-expert-v2": 111.72},
        81.63, CORL_PROTOCOL),
}

DAWM_CLAIMS = {
    "dawm-td3bc": "+9.3% over DWM-TD3BC on the 9-task average (relative or points not stated); no per-task values",
    "dawm-iql": "+9.5% over the DWM/DD IQL baseline on the 9-task average; no per-task values",
}

# The improvements the papers claim, for the table's comparison block.
CLAIMED_IMPROVEMENTS = {
    ("dawm-td3bc", "dwm-td3bc"): "+9.3% (DAWM, claimed)",
    ("dawm-iql", "dwm-iql"): "+9.5% (DAWM, claimed, over the DWM/DD IQL baseline)",
    ("dwm", "onestep"): "+44% (DWM, over TD3BC, IQL and PQL; +65% from its TD3BC and IQL columns alone)",
    ("dwm-td3bc", "onestep-td3bc"): "+85% (DWM Table 6.2 averages, 67.9 vs 36.8; part of its +44% claim)",
    ("dwm-iql", "onestep-iql"): "+48% (DWM Table 6.2 averages, 64.1 vs 43.2; part of its +44% claim)",
}
