"""The smoke suite through the real launcher (submitit local executor), status and report."""

import json
import platform

import pytest
import torch

from benchmark.cli import main
from benchmark.launch.launcher import TrainJob
from benchmark.grid.runspec import RunSpec
from benchmark.launch.status import render_status
from benchmark.provenance import cpu_model

from benchmark.grid.methods import METHODS
from benchmark.grid.suites import SUITES

SMOKE = SUITES["smoke"].methods

RESULT_KEYS = {"run", "config", "config_sources", "artifacts", "profile", "dataset", "normalizer", "evaluations",
               "final_score", "best_score", "wall_time_s", "environment", "eval_seeds", "finished_at", "inference"}
PHASES = {"model_free": {"data", "train", "eval", "total"},
          "dwm": {"data", "world_model", "rollouts", "train", "eval", "total"},
          "dawm": {"data", "world_model", "rollouts", "inverse_dynamics", "synthesis", "train", "eval", "total"},
          "one_step": {"data", "world_model", "train", "eval", "total"},
          "dd": {"data", "diffuser", "inverse_dynamics", "train", "eval", "total"}}


@pytest.mark.slow
def test_smoke_suite_end_to_end(tiny_hopper, tmp_path, capsys):
    results, logs = tmp_path / "results", tmp_path / "logs"
    cache = tmp_path / "cache"
    assert main(["run", "--suite", "smoke", "--results", str(results), "--logs", str(logs), "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "| hopper-tiny |" in out and all(METHODS[m].label in out for m in SMOKE)

    files = sorted(results.rglob("*.json"))
    assert [f.relative_to(results).as_posix() for f in files] == sorted(
        f"smoke/local/hopper-tiny/{m}/seed0.json" for m in SMOKE)
    # one diffusion world model and one bank serve DWM and DAWM; DAWM's and DD's IDMs differ
    entries = {kind: [p for p in (cache / kind).iterdir() if not p.name.startswith(".")]  # not the locks
               for kind in ("world_models", "banks", "inverse_dynamics", "one_step_models", "decision_diffusers")}
    assert [len(found) for found in entries.values()] == [1, 1, 2, 1, 1]
    assert not list(cache.rglob(".*.training.pt")) and not list(cache.rglob(".*.tmp-*"))  # nothing half-done left
    for file in files:
        result = json.loads(file.read_text())
        pipeline = METHODS[result["run"]["method"]].pipeline
        assert RESULT_KEYS <= result.keys()
        assert [e["step"] for e in result["evaluations"]] == ([0] if pipeline == "dd" else [200, 400])
        assert result["final_score"] == result["evaluations"][-1]["score"]
        assert result["best_score"] == max(e["score"] for e in result["evaluations"])
        assert result["dataset"]["id"] == "local/hopper/tiny-v1" and len(result["dataset"]["checksum"]) == 64
        assert result["environment"]["versions"]["torch"].startswith("2.13.0")
        # which CPU and which of torch's kernels ran it: its wall times depend on both
        kernels = torch.backends.cpu.get_cpu_capability()
        assert result["environment"]["device"] == f"cpu ({cpu_model()}, {kernels}, 1 threads)"
        assert set(result["wall_time_s"]) == PHASES[pipeline]
        if pipeline in ("dwm", "dawm", "one_step"):
            assert result["artifacts"]["world_model"]["steps"] == 100
        if pipeline == "dd":  # one batched policy call per environment step of the longest episode
            assert result["inference"]["policy_calls"] == max(result["evaluations"][0]["lengths"])
    assert not list(results.rglob("*.tmp")) and not list(results.rglob("*.failed"))
    # every run reading the bank records how long its chunks took, whichever run generated them
    readers = [b for b in (json.loads(f.read_text())["artifacts"].get("rollout_bank") for f in files) if b]
    (bank,) = entries["banks"]
    chunk = json.loads((bank / "bank.json").read_text())["chunk"]
    assert max(b["generated"] for b in readers) == len(list(bank.glob("chunk_*.npz"))) * chunk
    timings: dict[int, set[float]] = {}  # rollouts in the chunks read -> the generation times recorded
    for b in readers:
        timings.setdefault(b["generated"], set()).add(b["generation_time_s"])
    assert len(readers) > len(timings) and all(len(seconds) == 1 for seconds in timings.values())
    # DAWM-T is DAWM with 1/8 of the synthetic data: other transitions, about an eighth as many
    synthetic = {m: json.loads((results / "smoke" / "local" / "hopper-tiny" / m / "seed0.json").read_text())
                 ["artifacts"]["synthetic"] for m in ("dawm-td3bc", "dawm-t-td3bc")}
    assert 6 < synthetic["dawm-td3bc"]["transitions"] / synthetic["dawm-t-td3bc"]["transitions"] < 10
    assert synthetic["dawm-td3bc"]["checksum"] != synthetic["dawm-t-td3bc"]["checksum"]

    assert main(["run", "--suite", "smoke", "--results", str(results)]) == 0
    assert f"{len(SMOKE)} already done, 0 to run" in capsys.readouterr().out

    assert main(["status", "--suite", "smoke", "--results", str(results)]) == 0
    assert f"{len(SMOKE)} done, 0 pending, 0 running, 0 failed, 0 missing" in capsys.readouterr().out

    table = tmp_path / "table.md"
    assert main(["report", "--results", str(results), "--out", str(table)]) == 0
    assert "| hopper-tiny | " in table.read_text() and "average" in table.read_text()


@pytest.mark.slow
def test_dawm_on_the_real_data_alone_trains_no_world_model_bank_or_idm(tiny_hopper, tmp_path):
    results, cache = tmp_path / "results", tmp_path / "cache"
    assert main(["run", "--suite", "smoke", "--methods", "dawm-t-td3bc", "--set", "augmentation.real_ratio=1.0",
                 "--results", str(results), "--logs", str(tmp_path / "logs"), "--cache", str(cache), "--quiet"]) == 0
    (file,) = results.rglob("seed0.json")
    result = json.loads(file.read_text())
    assert set(result["wall_time_s"]) == PHASES["model_free"] and not result["artifacts"]
    assert [e["step"] for e in result["evaluations"]] == [200, 400]
    assert not [p for p in cache.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_cpu_model_is_the_processor_name_from_cpuinfo_else_the_platforms():
    cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\nflags\t: fpu\n"
    assert cpu_model(cpuinfo * 2) == "AMD EPYC 9654 96-Core Processor"
    # Arm's /proc/cpuinfo names no model
    assert cpu_model("processor\t: 0\nCPU part\t: 0xd0c\n") == (platform.processor() or platform.machine())
    assert cpu_model("") == (platform.processor() or platform.machine())


def test_a_failing_run_leaves_its_traceback_and_no_result(tmp_path, monkeypatch):
    import benchmark.launch.launcher

    def broken(*args, **kwargs):
        raise RuntimeError("the critic diverged")

    monkeypatch.setattr(benchmark.launch.launcher, "train_run", broken)
    spec = RunSpec("hopper-tiny", "td3bc", 0, "smoke")
    with pytest.raises(RuntimeError):
        TrainJob()(spec, str(tmp_path), str(tmp_path / "logs"))
    assert not spec.result_path(tmp_path).exists()
    record = json.loads(spec.failure_path(tmp_path).read_text())
    assert record["run"] == {"task": "hopper-tiny", "method": "td3bc", "variant": "", "seed": 0,
                             "method_version": METHODS["td3bc"].version, "profile": "smoke", "source": "local",
                             "device": "cpu"}
    assert record["error"] == "RuntimeError: the critic diverged" and "in broken" in record["traceback"]
    status = render_status([spec, RunSpec("hopper-tiny", "iql", 0, "smoke")], tmp_path)
    assert "failed   RuntimeError: the critic diverged" in status
    assert "hopper-tiny/iql/seed0" in status and "0 done, 0 pending, 0 running, 1 failed, 1 missing" in status
