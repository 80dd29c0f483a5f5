import json

import pandas as pd

from benchmark.report import render, score_table
from benchmark.results import load_results, write_json_atomic


def _result(task, method, seed, final, best=None):
    return {"run": {"task": task, "method": method, "seed": seed, "profile": "quick", "source": "local"},
            "final_score": final, "best_score": best if best is not None else final,
            "evaluations": [{"step": 100, "score": final}], "dataset": {"id": f"local/{task}", "checksum": "0" * 64},
            "environment": {"git_commit": "abc", "device": "cpu"}, "wall_time_s": {"total": 1.0}}


def test_mean_std_and_average_from_result_files(tmp_path):
    for task, method, seed, score in [("a", "td3bc", 0, 10.0), ("a", "td3bc", 1, 20.0), ("b", "td3bc", 0, 40.0),
                                      ("a", "iql", 0, 50.0)]:
        write_json_atomic(tmp_path / task / method / f"seed{seed}.json", _result(task, method, seed, score))
    runs = load_results(tmp_path)
    table = score_table(runs)
    assert table.loc["a", "TD3+BC"] == "15.0 ± 5.0 (2)"  # population std of 10 and 20
    assert table.loc["b", "TD3+BC"] == "40.0 ± 0.0 (1)"
    assert table.loc["average", "TD3+BC"] == "27.5"  # (15 + 40) / 2: mean of task means
    assert table.loc["b", "IQL"] == "–" and table.loc["average", "IQL"] == "–"  # missing, never zero
    assert "profile `quick`, data source `local`" in render(runs)


def test_no_results_says_so(tmp_path):
    assert "No result files found" in render(load_results(tmp_path))
    assert isinstance(load_results(tmp_path), pd.DataFrame)


def test_atomic_write_leaves_no_partial_file(tmp_path):
    class Unserialisable:
        pass

    target = tmp_path / "x" / "seed0.json"
    try:
        write_json_atomic(target, {"bad": Unserialisable()})
    except TypeError:
        pass
    assert not target.exists() and list(target.parent.iterdir()) == []
    write_json_atomic(target, {"ok": 1})
    assert json.loads(target.read_text()) == {"ok": 1}
