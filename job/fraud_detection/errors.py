"""Expected failures: each carries a one-line message and its own exit code."""

from __future__ import annotations

import errno


class JobError(Exception):
    """An expected failure: reported as one line, no traceback."""

    exit_code = 1


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


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGINT: a KeyboardInterrupt so boto3 aborts its multipart upload."""

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
