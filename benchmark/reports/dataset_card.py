"""results/datasets.md and results/figures/sac_curves.png, computed from the datasets and committed runs."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from benchmark.data.behaviour import BEHAVIOUR_DIR, D4RL_MEDIUM_SCORE, MEDIUM_GAP_TIE, BehaviourRecipe
from benchmark.data.medium_choice import ASSESSMENT_EPISODES, SCREEN_BAND, read_assessment
from benchmark.data.minari_io import dataset_caveats, dataset_exists, local_dataset_id, read_transitions
from benchmark.data.recipe import RECIPE_DATASETS, ROLLOUT_SEEDS, BehaviourRun, load_behaviour_run
from benchmark.envs.tasks import ENVS, normalized_score
from benchmark.grid.methods import METHODS
from benchmark.reports.paper_numbers import PAPER
from benchmark.results import write_json_atomic, write_text_atomic

# D4RL v2's datasets as issue 14 quotes them: transitions (machine-facts.md) and the normalised score of the
# mean episode return. Medium-expert's score is not in our references, so the card leaves it out.
D4RL_TRANSITIONS = {
    "medium": {"halfcheetah": "1M", "hopper": "1M", "walker2d": "1M"},
    "expert": {"halfcheetah": "1M", "hopper": "1M", "walker2d": "1M"},
    "medium-expert": {"halfcheetah": "2M", "hopper": "2M", "walker2d": "2M"},
    "medium-replay": {"halfcheetah": "≈202k", "hopper": "≈402k", "walker2d": "≈302k"},
}
D4RL_SCORE = {
    "medium": D4RL_MEDIUM_SCORE,
    "medium-replay": {"halfcheetah": 27.0, "hopper": 15.0, "walker2d": 15.0},
    "expert": {"halfcheetah": 88.0, "hopper": 108.0, "walker2d": 107.0},
    "medium-expert": {},
}
NOT_KNOWN = "–"


def _flag(ok: bool) -> str:
    return "yes" if ok else "**no**"


def behaviour_rows(runs: dict[str, BehaviourRun]) -> list[dict]:
    rows = []
    for env, run in runs.items():
        expert = run.row_at(run.expert_step)
        rows.append({
            "env": ENVS[env].gym_id, "units": run.recipe.sac.hidden[0], "SAC steps": run.curve[-1]["step"],
            "expert step": run.expert_step,
            "expert score (det / stoch)": f"{expert['score']:.1f} / {expert['stochastic_score']:.1f}",
            f"expert ≥ {run.recipe.expert_target:.0f}": _flag(run.selection.expert_on_target),
            "medium step": run.medium_step,
            "medium score (stoch, episodes)": f"{run.selection.medium_score:.1f} ({run.selection.medium_episodes})",
            "D4RL medium": f"{D4RL_MEDIUM_SCORE[env]:.0f}",
            f"medium eval within ±{run.recipe.medium_tolerance:.0f}, held": _flag(run.selection.medium_on_target),
            "medium-replay transitions": run.medium_step, "D4RL medium-replay": D4RL_TRANSITIONS["medium-replay"][env],
        })
    return rows


def dataset_rows(runs: dict[str, BehaviourRun]) -> list[dict]:
    rows = []
    for env in runs:
        for name in RECIPE_DATASETS:
            dataset_id = local_dataset_id(env, name)
            if not dataset_exists(dataset_id):
                continue
            data = read_transitions(dataset_id)
            returns = data.episode_returns()
            d4rl = D4RL_SCORE[name].get(env)
            rows.append({
                "dataset": f"{env}-{name}", "transitions": data.size,
                "D4RL transitions": D4RL_TRANSITIONS[name][env], "episodes": len(returns),
                "score": float(normalized_score(env, returns.mean())),
                "D4RL score": NOT_KNOWN if d4rl is None else f"{d4rl:.0f}",
                "on target": "yes" if not caveats_of(runs[env], name) else "**no** †",
                "return mean": returns.mean(), "return std": returns.std(), "checksum": data.checksum(),
            })
    return rows


SANITY_METHODS = ("td3bc", "iql")


COLLAPSE = 0.5  # a final score below this share of the run's best is a collapse, to find before it is a result


def sanity_section(datasets: list[dict], results: Path) -> tuple[list[dict], str]:
    """Quick TD3+BC and IQL, every seed run, on each medium task whose result was computed on today's dataset
    (the `dataset_rows` entry: its checksum and score), beside CORL's published scores on D4RL's own data
    (compared, never tuned to): the table's rows, and how they compare, in words computed from the results."""
    rows, below, collapsed = [], 0, []
    for dataset in datasets:
        env, _, name = dataset["dataset"].partition("-")
        if name != "medium":
            continue
        task = f"{env}-medium-v2"
        for method in SANITY_METHODS:
            for path in sorted((Path(results) / "quick" / "local" / task / method).glob("seed*.json")):
                result = json.loads(path.read_text())
                if result["dataset"]["checksum"] != dataset["checksum"]:
                    continue
                final, best, corl = result["final_score"], result["best_score"], PAPER[method].scores[task]
                seed, label = path.stem.removeprefix("seed"), METHODS[method].label
                below += final < corl - 10
                if final < COLLAPSE * best:
                    collapsed.append((label, f"{label} on {task} (seed {seed})"))
                rows.append({"task": task, "method": label, "seed": seed,
                             "dataset score": f"{dataset['score']:.1f}",
                             "D4RL dataset score": f"{D4RL_MEDIUM_SCORE[env]:.0f}",
                             "ours: final (best)": f"{final:.1f} ({best:.1f})",
                             "agent steps": result["evaluations"][-1]["step"],
                             "CORL on D4RL": f"{corl:.1f}",
                             "curve": "collapses" if final < COLLAPSE * best else "",
                             })
    lines = [f"- {len(rows) - below} of {len(rows)} runs end within 10 points of CORL's score or above it; "
             f"{below} end more than 10 points below."]
    if collapsed:
        lines.append(f"- Collapsing (final below {COLLAPSE:.0%} of the run's best): "
                     f"{', '.join(named for _, named in collapsed)}.")
    if any(label == "TD3+BC" for label, _ in collapsed):
        lines.append("- TD3+BC's update equals CORL's to float rounding, step for step (`tests/test_algorithms.py`): "
                     "the agent is not the cause; the data and the quick budget remain suspects.")
    return rows, "\n".join(lines)


def plot_curves(runs: dict[str, BehaviourRun], out: Path) -> None:
    """Normalised scores over SAC steps, the targets as bands and lines, the chosen checkpoints marked."""
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.8), squeeze=False)
    for ax, (env, run) in zip(axes[0], runs.items()):
        curve = pd.DataFrame(run.curve)
        steps = curve["step"] / 1000
        ax.plot(steps, curve["score"], color="0.25", lw=1.2, label="deterministic policy")
        ax.plot(steps, curve["stochastic_score"], color="tab:green", lw=1.0, alpha=0.8,
                label="stochastic policy (generates the data)")
        assessed = read_assessment(run.folder)
        if assessed:
            ax.scatter([s / 1000 for s in assessed], list(assessed.values()), color="tab:green", marker="x", s=14,
                       lw=0.8, zorder=3, label=f"medium candidates, {ASSESSMENT_EPISODES} episodes")
        level, tolerance = D4RL_MEDIUM_SCORE[env], run.recipe.medium_tolerance
        ax.axhspan(level - tolerance, level + tolerance, color="tab:blue", alpha=0.12,
                   label=f"D4RL medium {level:.0f} ± {tolerance:.0f}")
        ax.axhline(run.recipe.expert_target, color="tab:red", ls=":", lw=1, label="expert target")
        for step, label, color in ((run.medium_step, "medium", "tab:blue"), (run.expert_step, "expert", "tab:red")):
            score = run.selection.medium_score if label == "medium" else run.row_at(step)["stochastic_score"]
            ax.scatter([step / 1000], [score], color=color, zorder=3, s=45, edgecolor="black",
                       label=f"{label}: step {step // 1000}k")
        ax.set(title=ENVS[env].gym_id, xlabel="SAC environment steps (thousands)",
               ylabel=f"normalised score ({run.recipe.eval_episodes} episodes)")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _markdown(rows: list[dict], floats: str = "{:.1f}") -> str:
    if not rows:
        return "None built yet: `python -m benchmark.data build`."
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if frame[column].dtype == float:
            frame[column] = frame[column].map(floats.format)
    return frame.to_markdown(index=False)


def _mujoco_version() -> str:
    import mujoco

    return mujoco.__version__


def caveats_of(run: BehaviourRun, name: str) -> list[str]:
    """What a dataset misses: as its build recorded (its own score included), else as its run predicts."""
    dataset_id = local_dataset_id(run.env, name)
    recorded = dataset_caveats(dataset_id) if dataset_exists(dataset_id) else None
    return list(recorded) if recorded is not None else run.caveats(name)


def _caveat_lines(runs: dict[str, BehaviourRun]) -> list[str]:
    return [f"- {env}-{name}: {caveat}" for env, run in runs.items() for name in RECIPE_DATASETS
            for caveat in caveats_of(run, name)]


def load_runs(behaviour_dir: Path) -> dict[str, BehaviourRun]:
    return {env: load_behaviour_run(env, Path(behaviour_dir) / env) for env in ENVS
            if (Path(behaviour_dir) / env / "run.json").is_file()}


def write_checksums(rows: list[dict], out: Path) -> None:
    """The built datasets' sizes and full checksums, which a rebuild must reproduce (tests/test_recipe.py)."""
    write_json_atomic(out, {row["dataset"]: {"transitions": row["transitions"], "checksum": row["checksum"]}
                            for row in rows})


def write_card(out: Path, behaviour_dir: Path = BEHAVIOUR_DIR, results: Path = Path("results") / "runs") -> Path:
    """datasets.md, its figure, and datasets.json (the checksums) beside it."""
    runs = load_runs(behaviour_dir)
    if not runs:
        raise FileNotFoundError(f"no finished behaviour run in {behaviour_dir}")
    figure = out.parent / "figures" / "sac_curves.png"
    plot_curves(runs, figure)
    recipe = BehaviourRecipe()
    caveats = _caveat_lines(runs)
    datasets = dataset_rows(runs)
    sanity, sanity_summary = sanity_section(datasets, results)
    write_checksums(datasets, out.with_suffix(".json"))
    shown = [row | {"checksum": row["checksum"][:12]} for row in datasets]
    text = f"""# Datasets: the D4RL recipe on gymnasium v5

Generated by `python -m benchmark.data card` from the datasets under `$MINARI_DATASETS_PATH` and the
committed behaviour runs in `benchmark/data/behaviour/`. Rebuild the datasets with
`python -m benchmark.data build` (2 processes; they are also built on first use).

## Behaviour policies

One SAC run per environment with D4RL's recipe: seed {recipe.seed}, 2x{recipe.sac.hidden[0]} networks, batch
{recipe.sac.batch_size}, lr {recipe.sac.lr}, tau {recipe.sac.tau}, auto-tuned entropy, up to
{recipe.total_steps // 1000}k environment steps with one update each, the first {recipe.start_steps // 1000}k
uniform-random. Every {recipe.checkpoint_every // 1000}k steps the actor is saved and evaluated on
{recipe.eval_episodes} episodes twice: deterministically (tanh of the mean) and with the stochastic policy that
generates the datasets.

- **expert**: the checkpoint whose worse score (deterministic, stochastic) is highest; target: both at least
  {recipe.expert_target:.0f}. A run stops once its last two checkpoints meet the target.
- **medium**: the checkpoint whose stochastic score is closest to D4RL's medium level (halfcheetah
  {D4RL_MEDIUM_SCORE['halfcheetah']:.0f}, hopper {D4RL_MEDIUM_SCORE['hopper']:.0f}, walker2d
  {D4RL_MEDIUM_SCORE['walker2d']:.0f}), within ±{recipe.medium_tolerance:.0f} and held by the next checkpoint (one
  lucky evaluation is not a medium policy); failing that, the closest one, and the miss is recorded. The
  scores it is chosen by are not the curve's {recipe.eval_episodes} episodes (walker2d's 485k scored 65.4 there
  and its dataset 71.3) but {ASSESSMENT_EPISODES} more of the stochastic policy, for every checkpoint within
  {SCREEN_BAND:.0f} points of the level on the curve and the checkpoint after it (`python -m benchmark.data
  assess-medium`; committed as `medium_assessment.csv`); of gaps within {MEDIUM_GAP_TIE:.0f} point of the
  closest, the later checkpoint (a larger medium-replay). Each build still checks its dataset's own score
  against the same targets and records a miss (the † list below).
- **medium-replay**: the run's replay buffer up to the medium checkpoint; **medium-expert**: medium, then expert.

{_markdown(behaviour_rows(runs))}

![SAC curves: normalised scores, D4RL's medium band, the expert target, the chosen checkpoints](figures/sac_curves.png)

## Datasets

`score` is D4RL's normalised score (x100) of the mean episode return, beside D4RL v2's as issue 14 quotes it
(medium-expert's is not in our references). medium and expert are 1M transitions of the policy's own stochastic
(tanh-Gaussian) actions, 10 environments stepped together (rollout seeds {ROLLOUT_SEEDS}). `checksum` is the
start of the sha256 of the flat transitions that result files record (in full: datasets.json, which a test
checks a rebuild against).

{_markdown(shown)}

## Where the datasets miss the targets

""" + ("\n".join(caveats) + "\n\nEvery report marks these tasks with † and repeats the reason under its table.\n"
       if caveats else "Every dataset meets its targets.\n") + f"""
## Sanity: model-free agents on the medium datasets

Quick profile (`python -m benchmark run --suite d4rl9 --tasks <env>-medium-v2 --methods td3bc iql --profile
quick --seeds 0`; seed 0, and more seeds where a run looked wrong), beside CORL's scores on D4RL's own medium datasets (1M steps, 4 seeds:
{PAPER['td3bc'].protocol}). Nothing was tuned to these numbers; read them with the datasets' own scores
beside D4RL's and with the quick profile's 10x fewer steps in mind.

{_markdown(sanity) + chr(10) + chr(10) + sanity_summary if sanity else "Not run yet on today's datasets."}

## How these differ from D4RL's

- gymnasium's v5 environments on MuJoCo {_mujoco_version()}, not gym's v3 on mujoco-py: the same rewards and,
  but for Walker2d's feet, the same bodies; not the same simulator build, so scores are close to D4RL's, not equal.
  Walker2d-v5 gives both feet friction 1.9, where D4RL's v3 model gives the right foot 0.9 (Gymnasium issue #477;
  `gymnasium.make("Walker2d-v5", xml_file="walker2d.xml")` is the old model).
- The medium checkpoint is chosen by the score of its data, so medium-replay holds as many transitions as SAC
  took to reach that level, which is not D4RL's size (see `medium-replay transitions`).
- Scores of agents trained on these datasets are comparable across the methods of this suite; against
  published D4RL numbers they are comparable only as far as the datasets' scores match D4RL's.

## medium-replay: an exact rebuild of the replay buffer

The acting policy of the SAC run is a snapshot of the learner refreshed every {recipe.checkpoint_every // 1000}k
steps (a policy lag of at most {recipe.checkpoint_every // 1000}k steps, a deviation from plain SAC that costs
little off-policy), and every random number the collector draws (warm-up actions, exploration noise, reset
seeds) comes from its own seeded generator. The stream of transitions is therefore a function of the seed
and the committed checkpoints alone: `build` replays it to the medium step and obtains the training run's
replay buffer transition for transition, in insertion order (a test checks the equality on a short run). If a
training run was interrupted and resumed, the episode in progress was cut there; the run records those steps
(`collector_resets_at` in its run.json) and the rebuild cuts the same episodes.
"""
    write_text_atomic(out, text)
    return out

