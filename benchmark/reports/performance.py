"""`python -m benchmark.reports.performance`: results/performance.md and its figure from the speed suite's
pytest-benchmark JSON files (tests/perf), one file per machine and device.

Measure with
    python -m pytest tests/perf --benchmark-enable --benchmark-only --benchmark-json results/perf/cpu.json
(PERF_DEVICE=cuda ... results/perf/cuda.json on a GPU).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import seaborn as sns

from benchmark.errors import UsageError, exit_2_on_usage_error
from benchmark.results import write_text_atomic

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DEFAULT_INPUTS = Path("results") / "perf"
# DWM's paper (section on inference time): Decision Diffuser 7.53 s vs DWM 1.62 s per episode.
PAPER_DD_SECONDS, PAPER_DWM_SECONDS = 7.53, 1.62
EPISODE_STEPS = 1000
CPU_CORE_GFLOPS = 46.0  # a 256-wide MLP update in fp32 on one core of our machines (machine-facts.md)


def load(path: Path) -> tuple[dict, pd.DataFrame]:
    """(the run's context, one row per benchmark with its rate)."""
    try:
        stored = json.loads(Path(path).read_text())
        rows = []
        for bench in stored["benchmarks"]:
            info, seconds = bench["extra_info"], bench["stats"]["mean"]
            flops = info.get("flops_per_call")
            rows.append({"group": bench["group"], "benchmark": bench["name"].removeprefix("test_"),
                         "rate": info["per_call"] / seconds, "unit": f"{info['unit']}/s",
                         "ms per call": 1000 * seconds, "rounds": bench["stats"]["rounds"],
                         "GFLOP/s": flops / seconds / 1e9 if flops else None})
        first = stored["benchmarks"][0]["extra_info"]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise UsageError(f"{path}: not a pytest-benchmark JSON of tests/perf ({type(error).__name__}: {error}); "
                         f"measure with `python -m pytest tests/perf --benchmark-enable --benchmark-only "
                         f"--benchmark-json {path}`") from None
    machine = stored["machine_info"]
    context = {"file": str(path), "device": first["device"], "threads": first["threads"], "torch": first["torch"],
               "cpu": machine.get("cpu", {}).get("brand_raw", machine.get("processor", "?")),
               "cores": machine.get("cpu", {}).get("count", "?"), "python": machine.get("python_version", "?"),
               "commit": (stored.get("commit_info") or {}).get("id", "?")[:10], "date": stored.get("datetime", "?")}
    return context, pd.DataFrame(rows)


def latency(table: pd.DataFrame, method: str) -> float | None:
    row = table[table["benchmark"] == f"action_latency[{method}]"]
    return None if row.empty else float(row["ms per call"].iloc[0]) / 1000


def environment_step_seconds(table: pd.DataFrame) -> float:
    evaluation = table[table["benchmark"] == "evaluation"]
    return 1 / float(evaluation["rate"].iloc[0]) if not evaluation.empty else 0.0


def episode_ratio(table: pd.DataFrame, method: str) -> float | None:
    """`method`'s time per episode over DWM's, the environment's stepping included in both (the paper's seconds are
    per episode); None when either latency was not measured."""
    seconds, dwm = latency(table, method), latency(table, "dwm-td3bc")
    if seconds is None or dwm is None:
        return None
    step = environment_step_seconds(table)
    return (seconds + step) / (dwm + step)


def inference_lines(table: pd.DataFrame) -> list[str]:
    """DWM's inference-time claim as a ratio on this machine: per action, and per 1000-step episode."""
    lines = [f"DWM's paper: DD {PAPER_DD_SECONDS} s vs DWM {PAPER_DWM_SECONDS} s per episode "
             f"({PAPER_DD_SECONDS / PAPER_DWM_SECONDS:.1f}x).", ""]
    if latency(table, "dwm-td3bc") is None:
        return lines + ["DWM's action latency was not measured in this file."]
    lines += ["| planner | ms per action | s per 1000-step episode (+ environment) | x DWM |", "|:--|--:|--:|--:|"]
    for method, label in (("dwm-td3bc", "DWM (its actor)"), ("dd", "DD, DWM's re-run preset"),
                          ("dd-official", "DD, official preset (200 steps)")):
        seconds = latency(table, method)
        if seconds is None:
            lines.append(f"| {label} | not measured | | |")
            continue
        episode = EPISODE_STEPS * (seconds + environment_step_seconds(table))
        lines.append(f"| {label} | {1000 * seconds:.3f} | {episode:.1f} | {episode_ratio(table, method):,.1f}x |")
    return lines


def device_label(context: dict) -> str:
    return f"{context['device']}, {context['threads']} thread(s)"


def latest_per_device(measured: list[tuple[dict, Any]]) -> list[tuple[dict, Any]]:
    """The newest (context, measurement) of each device: older files are a change's "before"."""
    latest: dict[str, tuple[dict, Any]] = {}
    for context, value in sorted(measured, key=lambda pair: str(pair[0]["date"])):
        latest[device_label(context)] = (context, value)
    return list(latest.values())


def figure(tables: list[tuple[dict, pd.DataFrame]], out: Path) -> None:
    frames = [table.assign(device=f"{context['device']} ({context['threads']} thread(s))")
              for context, table in tables]
    data = pd.concat(frames, ignore_index=True)
    data["what"] = data["benchmark"] + " [" + data["unit"] + "]"
    height = 0.28 * len(data["what"].unique()) + 1.2
    fig, ax = plt.subplots(figsize=(8, height))
    sns.barplot(data=data, y="what", x="rate", hue="device", ax=ax, orient="h")
    ax.set(xscale="log", xlabel="items per second (log scale)", ylabel="")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def hot_path_note(table: pd.DataFrame, reference: float, device: str) -> str:
    """Which hot paths run far below what the device reaches on a plain MLP update (issue 17)."""
    slow = table[table["GFLOP/s"] < reference / 2].sort_values("GFLOP/s")
    names = ", ".join(f"{row.benchmark} ({row['GFLOP/s']:.1f})" for _, row in slow.iterrows()) or "none"
    text = (f"The model-free updates reach {reference:.1f} GFLOP/s (matmul and convolution work counted by torch's "
            f"FlopCounterMode, backward passes included). Below half of that: {names}.")
    if device == "cpu":
        text += (f" For scale, machine-facts.md measured about {CPU_CORE_GFLOPS:.0f} GFLOP/s for a 256-wide MLP "
                 f"update on one core of a machine of this kind without AVX-512.")
    return text


def comparison(tables: list[tuple[dict, pd.DataFrame]]) -> str:
    """Rates side by side when several files measured the same device (a change's before and after)."""
    by_device: dict[str, list[tuple[dict, pd.DataFrame]]] = {}
    for context, table in tables:
        by_device.setdefault(device_label(context), []).append((context, table))
    parts = []
    for device, group in by_device.items():
        if len(group) < 2:
            continue
        rates = pd.concat([table.set_index("benchmark")["rate"].rename(Path(context["file"]).stem)
                           for context, table in group], axis=1)
        first, last = rates.columns[0], rates.columns[-1]
        rates[f"{last} / {first}"] = rates[last] / rates[first]
        parts += [f"## Side by side: {device}\n", rates.map(lambda v: f"{v:,.2f}").to_markdown(), ""]
    return "\n".join(parts)


def render(tables: list[tuple[dict, pd.DataFrame]], figure_name: str) -> str:
    parts = ["# Performance: how fast each method's hot paths run\n",
             "Generated by `python -m benchmark.reports.performance` from the speed suite's pytest-benchmark "
             "files in `results/perf/` (`tests/perf`: the methods' own pipelines with the shipped hopper-medium "
             "hyperparameters; rates from the mean time per call, since TD3+BC alternates critic-only and actor "
             "steps). Reproduce with `python -m pytest tests/perf --benchmark-enable --benchmark-only "
             "--benchmark-json results/perf/cpu.json`. Rates of one benchmark vary by about ±10% between "
             "measurements on this shared machine.\n",
             f"![rates]({figure_name})\n"]
    if not any(context["device"].startswith("cuda") for context, _ in tables):
        parts.append("**GPU figures: not yet measured** (no `results/perf/*.json` from a CUDA device).\n")
    for context, table in tables:
        shown = table.copy()
        shown["rate"] = shown["rate"].map(lambda v: f"{v:,.1f}")
        shown["ms per call"] = shown["ms per call"].map(lambda v: f"{v:.3f}")
        shown["GFLOP/s"] = shown["GFLOP/s"].map(lambda v: "–" if pd.isna(v) else f"{v:.1f}")
        mlp = table[table["benchmark"].isin(["agent_update[td3bc]", "agent_update[iql]"])]["GFLOP/s"].dropna()
        parts += [f"## {Path(context['file']).stem}: {context['device']}, {context['threads']} thread(s), "
                  f"{context['cpu']}\n",
                  f"- {context['cores']} cores; torch {context['torch']}; Python {context['python']}; commit "
                  f"{context['commit']}; measured {context['date']}\n",
                  shown.to_markdown(index=False), "",
                  "### DWM's inference-time claim on this machine\n", *inference_lines(table), ""]
        if not mlp.empty:
            parts += [hot_path_note(table, mlp.max(), context["device"]), ""]
    return "\n".join([*parts, comparison(tables)])


@exit_2_on_usage_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.reports.performance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("inputs", nargs="*", type=Path, help=f"pytest-benchmark JSON files (default "
                                                              f"{DEFAULT_INPUTS}/*.json)")
    parser.add_argument("--out", type=Path, default=Path("results") / "performance.md")
    args = parser.parse_args(argv)
    inputs = args.inputs or sorted(DEFAULT_INPUTS.glob("*.json"))
    if not inputs:
        raise UsageError(f"no speed-suite files in {DEFAULT_INPUTS}: measure first (see --help)")
    tables = [load(path) for path in inputs]
    figure_path = args.out.parent / "figures" / "performance.png"
    figure(tables, figure_path)
    write_text_atomic(args.out, render(tables, f"figures/{figure_path.name}"))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
