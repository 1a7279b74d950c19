"""Expected failures: each carries a one-line message and its own exit code."""

from __future__ import annotations

import errno
from typing import ClassVar


class JobError(Exception):
    """An expected failure: reported as one line, no traceback.

    `day_state` is set by the pipeline when the failure happened during a run that
    may publish: what the failure left of the day (see `DayState` in sinks/publish.py).
    """

    exit_code = 1
    day_state: str | None = None


class UsageError(JobError):
    exit_code = 2


class DestinationError(JobError):
    """The destination is missing, unreachable, or refuses us."""

    exit_code = 3


class ValidationFailed(JobError):
    exit_code = 4


class DiskFull(JobError):
    exit_code = 5


class IncompleteDay(JobError):
    """Finalize found shards missing or inconsistent."""

    exit_code = 6


class LeaseHeld(JobError):
    """Another run holds the day's lease: retry later."""

    exit_code = 7


class CommitRejected(JobError):
    """The table's log moved on under this run: another run published the day first."""

    exit_code = 10


class DeadlineExceeded(JobError):
    exit_code = 8


class OutOfMemory(JobError):
    exit_code = 9


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGINT, raised in the main thread by the signal handler."""

    day_state: str | None = None
    # The one the handler raised last. Raised inside Python code that native code called
    # (polars building a dtype or reading a frame), it can come out of the native
    # call as another exception (a Rust panic): whatever surfaces after it is still it.
    raised: ClassVar[Interrupted | None] = None

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.exit_code = 128 + signum
        self.name = name


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT, also when polars reports it as text from its Rust writer."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "os error 28" in text or "Disk quota" in text
