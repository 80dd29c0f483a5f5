import numpy as np
import pytest

from benchmark.errors import UnknownNameError
from benchmark.envs.tasks import D4RL_DATASETS, ENVS, normalized_score, parse_task


@pytest.mark.parametrize("env, ref_min, ref_max", [
    ("halfcheetah", -280.178953, 12135.0), ("hopper", -20.272305, 3234.3), ("walker2d", 1.629008, 4592.3)])
def test_normalized_score_uses_d4rl_constants(env, ref_min, ref_max):
    assert normalized_score(env, ref_min) == pytest.approx(0.0)
    assert normalized_score(env, ref_max) == pytest.approx(100.0)
    assert normalized_score(env, (ref_min + ref_max) / 2) == pytest.approx(50.0)


def test_normalized_score_by_hand():
    # hopper: 100 * (1000 + 20.272305) / (3234.3 + 20.272305) = 31.3488...
    assert normalized_score("hopper", 1000.0) == pytest.approx(31.34885, abs=1e-4)
    np.testing.assert_allclose(normalized_score("walker2d", np.array([1.629008, 4592.3])), [0.0, 100.0])


def test_task_names_follow_the_papers():
    assert parse_task("walker2d-medium-replay-v2").dataset == "medium-replay"
    assert parse_task("hopper-tiny").dataset == "tiny"
    assert {parse_task(f"{e}-{d}-v2").name for e in ENVS for d in D4RL_DATASETS} >= {"hopper-medium-expert-v2"}
    with pytest.raises(UnknownNameError, match="hopper-medium-v2"):
        parse_task("hopper-medium-v0")
