"""Errors that the command line turns into one clear message and exit code 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable


class UsageError(Exception):
    """Bad input from the user: the message says what is wrong and how to fix it."""


class UnknownNameError(UsageError):
    """A suite, task, method, profile or source that does not exist."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")


class DatasetNotFoundError(UsageError):
    """A dataset that is not on this machine."""


def exit_2_on_usage_error(main: Callable[..., int]) -> Callable[..., int]:
    """A command's main(): a UsageError becomes its message on stderr and exit code 2, never a traceback; Ctrl-C
    becomes one line saying how to resume, and exit code 130."""
    @functools.wraps(main)
    def wrapped(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\ninterrupted: finished runs are saved and interrupted ones resume from their last checkpoint; "
                  "rerun the same command to continue", file=sys.stderr)
            return 130
    return wrapped
