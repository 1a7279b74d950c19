"""Scratch space that never outlives the run, even a killed one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = "daily-synthetic-"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


def sweep_stale_temp_dirs(root: Path | None = None) -> None:
    """Remove temp dirs of earlier runs that were killed before they could clean up."""
    base = root or Path(tempfile.gettempdir())
    for d in base.glob(f"{TEMP_PREFIX}*"):
        pid = d.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if d.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


@contextmanager
def work_dir() -> Iterator[Path]:
    """A private temp dir (named after our pid), removed on every exit path."""
    sweep_stale_temp_dirs()
    path = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
