"""Scratch space that never outlives the run, even a killed one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fraud_detection.errors import DiskFull

TEMP_PREFIX = "daily-synthetic-"
# Parquet bytes a payment row takes in the scratch file (docs/performance.md measures
# about 52), with headroom: what a slice needs in TMPDIR before it is uploaded.
SCRATCH_BYTES_PER_ROW = 64


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


def check_scratch_space(where: Path, rows: int) -> None:
    """Refuse (exit 5) before generating when the slice's file cannot fit in `where`.

    Checking first fails before any work in the common case (a small TMPDIR); the
    writer's own failure is still caught for a disk that fills up during the write.
    """
    need = rows * SCRATCH_BYTES_PER_ROW
    free = shutil.disk_usage(where).free
    if free < need:
        raise DiskFull(
            f"no space left on device for {rows:,} rows: {where} has {free / 1e6:,.1f} MB free "
            f"and the slice's Parquet file needs about {need / 1e6:,.0f} MB; free space or "
            "point TMPDIR at a larger volume"
        )
