"""What a result file records about the code and machine that produced it."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("torch", "numpy", "gymnasium", "mujoco", "minari", "h5py", "pandas", "submitit")


def git_commit() -> dict[str, str | bool | None]:
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                     ":(exclude)results"],  # regenerated tables are not code changes
                                    cwd=root, capture_output=True, text=True, timeout=10).stdout.strip())
        return {"git_commit": commit, "git_dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}


def cpu_model(cpuinfo: str | None = None) -> str:
    """The processor's name from /proc/cpuinfo (or `cpuinfo`, its text), else what platform knows."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    return names[0] if names and names[0] else platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    """The GPU's name; for the CPU, its model and the vector instructions torch's kernels use, since a run's
    wall time depends on both (our world model trained at 8 steps/s on a machine without AVX-512, 22 with it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (f"cpu ({cpu_model()}, {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} "
            f"threads)")


def environment(device: torch.device) -> dict:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {**git_commit(), "versions": versions, "device": device_name(device), "host": socket.gethostname(),
            "platform": platform.platform()}
