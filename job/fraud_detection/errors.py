"""Expected failures: each carries a one-line message and its own exit code."""

from __future__ import annotations


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
