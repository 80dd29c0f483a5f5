"""Failure records: what a run that raised leaves where its result would go (`seed<N>.failed`, JSON).

A record names its run as a result file does (task, method, variant, seed, method version), with the commit,
the time and the traceback, so that `status` and the reports show a failed cell as a failure with its error,
not as a run never made. The launcher deletes a run's record when it submits the run again.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from benchmark.grid.runspec import RunSpec
from benchmark.provenance import git_commit
from benchmark.results import write_json_atomic

SCHEMA = 1


def exception_line(traceback_text: str) -> str:
    """The first line of a traceback's exception (after its last frame); messages may span lines."""
    lines = [line for line in traceback_text.splitlines() if line.strip()]
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    after = lines[frames[-1] + 1:] if frames else lines
    exception = [line for line in after if not line.startswith(" ")]
    if not exception:
        return lines[-1] if lines else "no traceback recorded"
    return exception[0] + (" ..." if len(after) > after.index(exception[0]) + 1 else "")


def write_failure(spec: RunSpec, results_dir: Path, traceback_text: str) -> Path:
    path = spec.failure_path(results_dir)
    write_json_atomic(path, {"schema": SCHEMA, "run": spec.identity(), "error": exception_line(traceback_text),
                             "failed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             "commit": git_commit()["git_commit"], "traceback": traceback_text})
    return path


def read_failure(path: Path) -> dict:
    """The record; a plain traceback (what runs left before records were JSON) gives only `error` and
    `traceback`, so it names no run the reports could place."""
    text = Path(path).read_text()
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or "error" not in record:
        return {"error": exception_line(text), "traceback": text}
    return record
