"""Hand-made result files for the report tests, with the look-alikes every report must leave out."""

import dataclasses

from benchmark.grid.methods import METHODS
from benchmark.grid.profiles import PROFILES
from benchmark.results import write_json_atomic


def write_result(root, task, method, seed, score, *, variant="", source="local", profile="quick",
                 checksum="a" * 64, version=None, finished="2026-11-30T00:00:00+00:00", evaluations=None,
                 caveats=(), budgets=None, best=None, q1=None, critic_loss=None, reward_scale=1.0):
    """`q1`, `critic_loss`: what the critic logged at the last evaluation, an agent's with discount 0.99."""
    name = f"{method}+{variant}" if variant else method
    path = root / profile / source / task / name / f"seed{seed}.json"
    evaluations = list(evaluations or [{"step": 50, "score": score / 2}, {"step": 100, "score": score}])
    logged = {key: value for key, value in (("q1", q1), ("critic_loss", critic_loss)) if value is not None}
    if logged:
        evaluations[-1] = {**evaluations[-1], "train_log": logged}
    write_json_atomic(path, {
        "run": {"profile": profile, "source": source, "task": task, "method": method, "variant": variant,
                "seed": seed, "method_version": METHODS[method].version if version is None else version},
        "profile": dataclasses.asdict(PROFILES[profile]) | (budgets or {}) if profile in PROFILES else {},
        "final_score": score, "best_score": score if best is None else best,
        "evaluations": evaluations, "reward_scale": reward_scale,
        **({"config": {"agent": {"discount": 0.99}}} if logged else {}),
        "dataset": {"id": f"local/{task}", "checksum": checksum, "caveats": list(caveats)}, "finished_at": finished,
        "environment": {"git_commit": "abc", "device": "cpu"}, "wall_time_s": {"total": 1.0}})
    return path


def write_look_alikes(root, task, method, seed=0):
    """Five runs that resemble (task, method, seed) and score 999: no report may show them."""
    write_result(root, task, method, seed, 999.0, variant="h3")
    write_result(root, task, method, seed, 999.0, source="minari")
    write_result(root, task, method, seed + 100, 999.0, version=0)
    write_result(root, task, method, seed + 200, 999.0, checksum="b" * 64, finished="2026-01-01T00:00:00+00:00")
    write_result(root, task, method, seed + 300, 999.0, budgets={"eval_episodes": 1})


def write_failure_record(root, task, method, seed, error, *, variant="", profile="quick", version=None):
    """The record a run that raised `error` leaves (the launcher's own writer); `version` rewrites its method
    version, as a record from older code would say."""
    import json

    from benchmark.grid.runspec import RunSpec
    from benchmark.run.failures import write_failure

    spec = RunSpec(task, method, seed, profile, variant=variant)
    path = write_failure(spec, root, f'Traceback (most recent call last):\n  File "runner.py", line 1, in train_run\n'
                                     f'{error}\n')
    if version is not None:
        record = json.loads(path.read_text())
        record["run"]["method_version"] = version
        write_json_atomic(path, record)
    return path
