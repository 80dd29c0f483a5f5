"""Atomic writes of result files and reports: readers never see half a file (reading them: benchmark/reports)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

FULL_DISK_BYTES = 64 * 2 ** 20  # below this much free space a failed write is taken to be a full disk


def _umask_mode(fd: int) -> None:
    """Give a temporary file (mkstemp makes them 0600) the mode a plain open() would: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)


def write_atomic(path: Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """Write through a temporary file beside `path`, fsynced, then renamed: readers see the old file or the whole
    new one. The temporary file goes on every error; a full disk is said to be one, with the fix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    _umask_mode(fd)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if _disk_full(path, error):
            raise OSError(errno.ENOSPC, f"disk full while writing {path}: free space on that disk, or point "
                                        f"--results / --cache at another one, then rerun to resume") from None
        raise


def _disk_full(path: Path, error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return isinstance(error, (OSError, RuntimeError)) and shutil.disk_usage(path.parent).free < FULL_DISK_BYTES


def write_json_atomic(path: Path, payload: Any) -> None:
    """Strict JSON (no bare NaN), written atomically."""
    write_atomic(path, lambda handle: json.dump(payload, handle, indent=1, sort_keys=False, allow_nan=False))


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text))


def save_durably(state: Any, path: Path) -> None:
    """torch.save, written atomically."""
    write_atomic(path, lambda handle: torch.save(state, handle), binary=True)


def remove_temporaries(path: Path) -> None:
    """Temporary files a killed writer of `path` left behind (save_durably, write_json_atomic)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
