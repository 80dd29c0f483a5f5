import numpy as np
import torch

from benchmark.envs.evaluation import eval_seeds, evaluate
from benchmark.envs.tasks import normalized_score


def test_batched_evaluation_is_deterministic_and_calls_the_policy_once_per_step():
    calls = []

    def still(obs: torch.Tensor) -> torch.Tensor:
        calls.append(len(obs))
        return torch.zeros(len(obs), 3)

    seeds = eval_seeds(run_seed=0, episodes=3)
    first = evaluate(still, "Hopper-v5", "hopper", seeds)
    second = evaluate(still, "Hopper-v5", "hopper", seeds)
    np.testing.assert_array_equal(first.returns, second.returns)
    assert len(calls) == 2 * first.lengths.max()  # one batched call per step, for all live episodes
    assert calls[0] == 3 and min(calls) >= 1
    np.testing.assert_allclose(first.scores, normalized_score("hopper", first.returns))


def test_evaluation_seeds_differ_between_runs_not_between_evaluations():
    assert eval_seeds(0, 3) == eval_seeds(0, 3) == [0, 1, 2]
    assert set(eval_seeds(1, 3)).isdisjoint(eval_seeds(0, 3))
