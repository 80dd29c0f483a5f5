"""The D4RL-recipe builder on a tiny SAC run (seconds): selection rule, exact medium-replay, metadata."""

import json
from pathlib import Path

import minari
import numpy as np
import pytest

from benchmark.data.behaviour import (BehaviourRecipe, actor_path, file_sha256, read_curve, select_checkpoints,
                                      train_behaviour)
from benchmark.data.minari_io import read_transitions
from benchmark.data.recipe import build_dataset, load_behaviour_run, replay_training_stream, rollout
from benchmark.data.transitions import Transitions
from benchmark.envs.tasks import normalized_score

RECIPE = BehaviourRecipe(total_steps=1200, start_steps=400, checkpoint_every=200, eval_episodes=1,
                         resume_every=400)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("behaviour") / "hopper"
    buffer = train_behaviour("hopper", RECIPE, folder)
    return load_behaviour_run("hopper", folder), buffer


def _curve(deterministic, stochastic, stride=10):
    return [{"step": stride * i, "score": d, "stochastic_score": s} for i, (d, s) in enumerate(zip(deterministic,
                                                                                                     stochastic))]


def test_checkpoint_selection_uses_d4rls_medium_level_and_a_held_neighbour():
    recipe = BehaviourRecipe(start_steps=10, checkpoint_every=10, resume_every=10, expert_target=85.0)
    # hopper's D4RL medium level is 44. Step 20 (43) is closest but a spike (60 follows it); 40 (48) and its
    # neighbour 50 (46) both lie within 5, and 50 is closer still, with 60 (47) after it.
    stochastic = [0.0, 10.0, 43.0, 60.0, 48.0, 46.0, 47.0, 95.0, 90.0, 88.0]
    deterministic = [0.0, 12.0, 50.0, 70.0, 55.0, 52.0, 50.0, 99.0, 100.0, 80.0]
    chosen = select_checkpoints(_curve(deterministic, stochastic), "hopper", recipe)
    # expert: the best worse-of-two score: 95 at step 70 (step 80's is 90)
    assert (chosen.medium, chosen.expert) == (50, 70)
    assert chosen.medium_on_target and chosen.expert_on_target


def test_checkpoint_selection_flags_targets_it_cannot_meet():
    recipe = BehaviourRecipe(start_steps=10, checkpoint_every=10, resume_every=10)
    # walker2d's medium level is 62; nothing holds within 5, so the closest checkpoint (50 at step 20) is chosen
    chosen = select_checkpoints(_curve([0, 20, 60, 30, 80, 70], [0, 20, 50, 30, 75, 70]), "walker2d", recipe)
    assert (chosen.medium, chosen.expert) == (20, 40)
    assert not chosen.medium_on_target and not chosen.expert_on_target


def test_run_records_curve_and_checkpoints(tiny_run):
    run, _ = tiny_run
    assert [row["step"] for row in run.curve] == list(range(0, 1201, 200))
    assert {"score", "stochastic_score"} <= set(run.curve[0])
    assert RECIPE.start_steps <= run.medium_step <= run.expert_step
    assert actor_path(run.folder, run.expert_step).is_file()
    assert json.loads((run.folder / "run.json").read_text())["collector_resets_at"] == []


def _flatten(episodes) -> Transitions:
    return Transitions(
        observations=np.concatenate([e.observations[:-1] for e in episodes]),
        actions=np.concatenate([e.actions for e in episodes]),
        rewards=np.concatenate([e.rewards for e in episodes]).astype(np.float32),
        next_observations=np.concatenate([e.observations[1:] for e in episodes]),
        terminals=np.concatenate([e.terminations for e in episodes]),
        timeouts=np.concatenate([e.truncations for e in episodes]))


KILL_AFTER_SAVING = """
import os, signal, sys
from pathlib import Path
import benchmark.data.behaviour as behaviour
from tests.test_recipe import RECIPE

save = behaviour._save_resume_state
def save_then_die(path, state):
    save(path, state)
    if state["step"] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
behaviour._save_resume_state = save_then_die
behaviour.train_behaviour("hopper", RECIPE, Path(sys.argv[1]))
"""


def test_a_killed_run_resumes_from_its_small_state_and_rebuilt_buffer(tiny_run, tmp_path):
    import subprocess
    import sys

    import torch

    from benchmark.data.recipe import load_behaviour_run

    run, _ = tiny_run
    folder = tmp_path / "hopper"
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_SAVING, str(folder), "800"],
                            cwd=Path(__file__).parents[1])
    assert killed.returncode == -9 and (folder / "resume.pt").is_file() and not (folder / "run.json").exists()
    state = torch.load(folder / "resume.pt", weights_only=False)
    assert "buffer" not in state and state["step"] == 800  # the buffer is rebuilt from the actors, not stored

    buffer = train_behaviour("hopper", RECIPE, folder)  # raises if the rebuilt buffer differs from the saved one
    resumed = load_behaviour_run("hopper", folder)
    assert resumed.resets == (800,) and not (folder / "resume.pt").exists()
    # before the kill, the same run as the uninterrupted one; after it, the cut episode is the only difference
    def scores(curve):
        return [{k: v for k, v in row.items() if k != "wall_time_s"} for row in curve[:5]]

    assert scores(read_curve(folder)) == scores(run.curve)
    for step in range(0, 801, RECIPE.checkpoint_every):
        assert file_sha256(actor_path(folder, step)) == file_sha256(actor_path(run.folder, step))
    replayed = _flatten(replay_training_stream(resumed, RECIPE.total_steps))
    np.testing.assert_array_equal(replayed.observations, buffer.observations.numpy())
    np.testing.assert_array_equal(replayed.actions, buffer.actions.numpy())


def test_medium_replay_is_the_training_replay_buffer_exactly(tiny_run):
    run, buffer = tiny_run
    replayed = _flatten(replay_training_stream(run, RECIPE.total_steps))
    assert replayed.size == buffer.size == RECIPE.total_steps
    np.testing.assert_array_equal(replayed.observations, buffer.observations.numpy())
    np.testing.assert_array_equal(replayed.actions, buffer.actions.numpy())
    np.testing.assert_array_equal(replayed.rewards, buffer.rewards.numpy())
    np.testing.assert_array_equal(replayed.next_observations, buffer.next_observations.numpy())
    np.testing.assert_array_equal(replayed.terminals, buffer.dones.numpy().astype(bool))


def test_rollouts_are_exact_in_size_and_deterministic(tiny_run):
    run, _ = tiny_run
    from benchmark.data.behaviour import load_actor

    actor = load_actor(run.folder, "hopper", run.medium_step, run.recipe)
    first, second = (_flatten(rollout("hopper", actor, 300, seed=1)) for _ in range(2))
    assert first.size == 300 and first.checksum() == second.checksum()
    assert first.checksum() != _flatten(rollout("hopper", actor, 300, seed=2)).checksum()


def test_built_datasets(tiny_run, tmp_path, monkeypatch):
    run, _ = tiny_run
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "a"))
    ids = {name: build_dataset("hopper", name, run, n_transitions=300)
           for name in ("medium", "expert", "medium-replay", "medium-expert")}
    data = {name: read_transitions(i) for name, i in ids.items()}
    assert data["medium"].size == data["expert"].size == 300
    assert data["medium-replay"].size == run.medium_step
    joined = Transitions.concatenate([data["medium"], data["expert"]])
    assert data["medium-expert"].checksum() == joined.checksum()

    metadata = minari.load_dataset(ids["medium-expert"]).storage.metadata
    assert metadata["ref_min_score"] == pytest.approx(-20.272305)
    assert metadata["ref_max_score"] == pytest.approx(3234.3)
    recipe = metadata["dawm_bench"]
    assert (recipe["medium_step"], recipe["expert_step"]) == (run.medium_step, run.expert_step)
    assert recipe["checkpoint_sha256"][str(run.expert_step)] == file_sha256(actor_path(run.folder, run.expert_step))
    assert any(r.startswith("mujoco==") for r in metadata["requirements"])
    # a 1200-step run meets neither target: each dataset records what it misses, its own score included
    def caveats(name):
        return [c.split(":")[0].split(",")[0] for c in
                minari.load_dataset(ids[name]).storage.metadata["dawm_bench"]["caveats"]]

    medium_score = normalized_score("hopper", data["medium"].episode_returns().mean())
    expert_score = normalized_score("hopper", data["expert"].episode_returns().mean())
    assert caveats("medium") == ["medium policy off D4RL's level", f"medium dataset scores {medium_score:.1f}"]
    assert caveats("expert") == ["expert policy below the target 85", f"expert dataset scores {expert_score:.1f}"]
    assert caveats("medium-expert") == ["medium policy off D4RL's level", "expert policy below the target 85",
                                        f"medium dataset scores {medium_score:.1f}",
                                        f"expert dataset scores {expert_score:.1f}"]
    assert caveats("medium-replay") == ["medium policy off D4RL's level"]  # no score target of its own

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "b"))
    again = read_transitions(build_dataset("hopper", "medium-replay", run, n_transitions=300))
    assert again.checksum() == data["medium-replay"].checksum()


def test_harness_builds_a_missing_local_dataset_on_first_use(tiny_run, tmp_path, monkeypatch):
    from benchmark.data import DataSpec, load_dataset
    from benchmark.envs.tasks import parse_task

    run, _ = tiny_run
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    monkeypatch.setattr("benchmark.data.recipe.BEHAVIOUR_DIR", run.folder.parent)
    monkeypatch.setattr("benchmark.data.recipe.ROLLOUT_TRANSITIONS", 250)
    loaded = load_dataset(parse_task("hopper-medium-v2"), DataSpec("local"))
    assert loaded.dataset_id == "local/hopper/medium-v1" and loaded.transitions.size == 250
    assert loaded.caveats[0] == run.caveats("medium")[0] and loaded.caveats[1].startswith("medium dataset scores")


def test_pruning_keeps_what_the_datasets_need(tiny_run, tmp_path):
    import shutil

    from benchmark.data.behaviour import prune_checkpoints

    run, _ = tiny_run
    folder = tmp_path / "hopper"
    shutil.copytree(run.folder, folder)
    kept = prune_checkpoints(folder, run.selection, RECIPE)
    assert kept == sorted({*range(RECIPE.start_steps, run.medium_step + 1, RECIPE.checkpoint_every), run.expert_step})
    assert sorted(int(p.stem.split("_")[1]) for p in (folder / "actors").glob("*.pt")) == kept


def test_card_regenerates_from_the_committed_behaviour_runs(tmp_path, monkeypatch):
    from benchmark.reports.dataset_card import write_card

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "empty"))
    text = write_card(tmp_path / "datasets.md").read_text()
    for gym_id in ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5"):
        assert f"| {gym_id} " in text
    assert "None built yet" in text
    assert (tmp_path / "figures" / "sac_curves.png").stat().st_size > 10_000


def test_a_second_trainer_on_the_same_folder_is_refused(tmp_path, capsys):
    from benchmark.data.__main__ import main
    from benchmark.locks import file_lock

    with file_lock(tmp_path / "hopper" / ".lock") as held:
        assert held
        assert main(["train-behaviour", "--env", "hopper", "--out", str(tmp_path), "--steps", "10"]) == 2
    assert "another process is training" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "hopper").iterdir()) == [".lock"]  # nothing trained


def test_promote_replaces_the_committed_run_by_the_finished_one(tiny_run, tmp_path, capsys):
    import shutil

    from benchmark.data.behaviour import promote_run
    from benchmark.errors import UsageError

    run, _ = tiny_run
    finished, committed = tmp_path / "staging" / "hopper", tmp_path / "behaviour" / "hopper"
    shutil.copytree(run.folder, finished)
    (finished / ".lock").touch()
    committed.mkdir(parents=True)
    (committed / "run.json").write_text("{}")  # the old run
    promote_run(finished, committed)
    assert not finished.exists() and sorted(p.name for p in committed.parent.iterdir()) == ["hopper"]
    assert sorted(p.name for p in committed.iterdir()) == ["actors", "curve.csv", "run.json"]
    assert load_behaviour_run("hopper", committed).selection == run.selection
    with pytest.raises(UsageError, match="no finished run"):
        promote_run(tmp_path / "staging" / "walker2d", tmp_path / "behaviour" / "walker2d")


def test_card_of_a_d4rl_recipe_run_says_which_targets_it_misses(tiny_run, tmp_path, monkeypatch):
    from benchmark.reports.dataset_card import write_card

    run, _ = tiny_run
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "empty"))
    text = write_card(tmp_path / "datasets.md", run.folder.parent).read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| Hopper-v5 ")]
    medium = run.selection.medium_score
    assert f" {run.medium_step} |" in row and f" {medium:.1f} ({RECIPE.eval_episodes}) " in row
    assert row.count("**no**") == 2
    assert f"- hopper-medium-expert: {run.caveats('medium-expert')[0]}" in text


def test_a_rebuild_from_the_committed_checkpoints_reproduces_the_committed_checksum(tmp_path, monkeypatch):
    """The cheapest committed dataset (a medium-replay: a replay of the training stream, no rollouts)."""
    committed = json.loads((Path(__file__).parents[1] / "results" / "datasets.json").read_text())
    replays = {name: entry for name, entry in committed.items() if name.endswith("-medium-replay")}
    name = min(replays, key=lambda n: replays[n]["transitions"])
    env = name.split("-")[0]
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    rebuilt = read_transitions(build_dataset(env, "medium-replay"))
    assert (rebuilt.size, rebuilt.checksum()) == (replays[name]["transitions"], replays[name]["checksum"])


def test_card_puts_the_sanity_runs_on_todays_data_beside_corl(tiny_run, tmp_path, monkeypatch):
    import json

    from benchmark.reports.dataset_card import write_card

    run, _ = tiny_run
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    checksum = read_transitions(build_dataset("hopper", "medium", run, n_transitions=300)).checksum()
    for method, seed, dataset_checksum, final in (("td3bc", 0, checksum, 41.25), ("td3bc", 1, checksum, 24.0),
                                                  ("iql", 0, "an older build", 41.25)):
        path = tmp_path / "runs" / "quick" / "local" / "hopper-medium-v2" / method / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"dataset": {"checksum": dataset_checksum}, "final_score": final,
                                    "best_score": 50.0, "evaluations": [{"step": 100000}]}))
    text = write_card(tmp_path / "datasets.md", run.folder.parent, tmp_path / "runs").read_text()
    first, second = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()
                     if line.startswith("| hopper-medium-v2 ")]
    assert first[1:3] == ["TD3+BC", "0"] and first[5] == "41.2 (50.0)" and first[-2:] == ["60.4", ""]
    assert second[2] == "1" and second[-2:] == ["60.4", "collapses"]  # 24 < half of its best, 50
    assert "| IQL " not in text  # its result was computed on another build of the data
    assert "- 0 of 2 runs end within 10 points of CORL's score or above it; 2 end more than 10 points below." in text
    assert "Collapsing (final below 50% of the run's best): TD3+BC on hopper-medium-v2 (seed 1)." in text


def test_an_assessment_replaces_the_curves_scores_in_the_medium_choice():
    recipe = BehaviourRecipe(start_steps=10, checkpoint_every=10, resume_every=10)
    stochastic = [0.0, 10.0, 43.0, 60.0, 48.0, 46.0, 47.0, 95.0, 90.0, 88.0]
    curve = _curve(stochastic, stochastic)
    # over many episodes step 20 scores 52 and its neighbour 30 scores 47: both within 5 of hopper's 44, and
    # closer than 40 (50; its neighbour 50 was not assessed, so 40 is not held)
    chosen = select_checkpoints(curve, "hopper", recipe, {20: 52.0, 30: 47.0, 40: 50.0}, assessment_episodes=100)
    assert (chosen.medium, chosen.medium_score, chosen.medium_episodes) == (30, 47.0, 100)
    assert not chosen.medium_on_target  # 30's neighbour 40 (50) is off by 6
    chosen = select_checkpoints(curve, "hopper", recipe, {20: 52.0, 30: 47.0, 40: 48.0}, assessment_episodes=100)
    assert (chosen.medium, chosen.medium_on_target) == (30, True)  # 20 (off by 8) is not held; 30 is, by 40
    # without an assessment, the curve's 10-episode scores decide, as before
    assert select_checkpoints(curve, "hopper", recipe).medium_episodes == recipe.eval_episodes


def test_near_ties_go_to_the_later_checkpoint():
    recipe = BehaviourRecipe(start_steps=10, checkpoint_every=10, resume_every=10)
    curve = _curve([0.0, 30.0, 30.0, 30.0, 95.0, 95.0], [0.0, 30.0, 30.0, 30.0, 95.0, 95.0])
    # hopper's assessed candidates 10 and 30 lie 0.4 and 0.9 from 44, within MEDIUM_GAP_TIE (1) of each other
    # (nothing holds: their neighbours are 20 points off): the later one, with the larger medium-replay
    chosen = select_checkpoints(curve, "hopper", recipe, {10: 43.6, 20: 24.0, 30: 44.9}, assessment_episodes=100)
    assert chosen.medium == 30
    chosen = select_checkpoints(curve, "hopper", recipe, {10: 43.6, 20: 24.0, 30: 45.6}, assessment_episodes=100)
    assert chosen.medium == 10  # 1.6 against 0.4: a real difference


def test_medium_candidates_are_assessed_once_and_resume(tiny_run, tmp_path, monkeypatch):
    import shutil

    import benchmark.data.medium_choice as medium_choice

    run, _ = tiny_run
    folder = tmp_path / "hopper"
    shutil.copytree(run.folder, folder)
    actor_path(folder, 600).unlink()
    monkeypatch.setattr(medium_choice, "ASSESSMENT_EPISODES", 3)
    monkeypatch.setattr(medium_choice, "SCREEN_BAND", 1000.0)  # the tiny run is far from any D4RL level
    # every checkpoint from the warm-up's end to the expert, and the one after each, if its actor exists
    expected = [s for s in range(RECIPE.start_steps, run.expert_step + RECIPE.checkpoint_every + 1,
                                 RECIPE.checkpoint_every) if s != 600 and s <= RECIPE.total_steps]
    assert medium_choice.candidate_steps(list(run.curve), "hopper", RECIPE, folder) == expected
    scores = medium_choice.assess_medium_candidates(folder, "hopper", RECIPE)
    assert sorted(scores) == expected
    rows = (folder / "medium_assessment.csv").read_text().splitlines()
    assert rows[0] == "step,episodes,stochastic_score,stochastic_score_sem" and len(rows) == len(expected) + 1
    assert all(row.split(",")[1] == "3" for row in rows[1:])
    # an interrupted assessment resumes: the missing row is measured again, identically; the others are kept
    (folder / "medium_assessment.csv").write_text("\n".join(rows[:-1]) + "\n")
    monkeypatch.setattr(medium_choice, "evaluate", _counting(medium_choice.evaluate, calls := []))
    assert medium_choice.assess_medium_candidates(folder, "hopper", RECIPE) == scores and len(calls) == 1
    assert (folder / "medium_assessment.csv").read_text().splitlines() == rows
    chosen = medium_choice.chosen_checkpoints(folder, "hopper", RECIPE)
    assert chosen.medium_episodes == 3 and chosen.medium_score == scores[chosen.medium]


def _counting(function, calls):
    def counted(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)
    return counted
