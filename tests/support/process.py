"""The job as a real process of this Python: start it, wait for a log line, its outcome."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """A finished run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def last(self) -> str:
        return self.err.strip().splitlines()[-1]


def start_job(env: Mapping[str, str], argv: Sequence[str]) -> subprocess.Popen[str]:
    """`python -m fraud_detection ARGV`, with `env` over this process's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "fraud_detection", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **env},
    )  # fmt: skip


def wait_for_line(proc: subprocess.Popen[str], marker: str, lines: list[str]) -> None:
    """Read stderr into `lines` until one holds `marker`; fail after 90 s even if the job is
    silent, or if it ended first. The rest of stderr is left for `communicate`."""
    assert proc.stderr is not None
    stream = proc.stderr
    found = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line)
            if marker in line:
                found.set()
                return
        found.set()  # the job ended first: the check below says so

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(90), f"no {marker!r} within 90 s:\n{''.join(lines)}"
    assert lines and marker in lines[-1], f"the job ended before {marker!r}:\n{''.join(lines)}"
