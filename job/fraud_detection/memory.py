"""Memory: what a run needs, and the limits it can see before it starts.

Standard library only. The figures are measured (docs/operations.md).
"""

from __future__ import annotations

import resource
from pathlib import Path

from fraud_detection.errors import OutOfMemory

# Measured peak RSS (docs/operations.md): the population and imports, plus the blocks in
# flight; flat above a million rows. Virtual memory is ~3 GB whatever the rows (thread
# stacks, allocator arenas), so an address-space limit (ulimit -v) is no way to cap it.
ADDRESS_SPACE_NEEDED = 4 * 1024**3


def memory_needed(rows: int) -> int:
    # Imports and populations, then one row group's rows (default 262,144) and the blocks
    # generated ahead; above a million rows the day's fraud plan and card lifecycle, which
    # every slice of the day holds (episodes follow payments). The measured peaks
    # (docs/operations.md) and some headroom; dags/daily_synthetic_job/limits.py restates it.
    first, beyond = min(rows, 1_000_000), max(rows - 1_000_000, 0)
    return int((400 + 700 * first / 1_000_000 + 140 * beyond / 1_000_000) * 1024**2)


def _cgroup_memory_limit() -> int | None:
    """The container's memory limit: cgroup v2, else v1 (v1 says "no limit" with ~2^63)."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        return int(text) if text.isdigit() and int(text) < 1 << 60 else None
    return None


def check_memory(rows: int) -> None:
    """Refuse to start (exit 9) where the limits are known to be too small."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft < ADDRESS_SPACE_NEEDED:
        raise OutOfMemory(
            f"the address-space limit (ulimit -v) is {soft // 1024**2:,} MB; the job maps about "
            "3 GB of virtual memory: lift it and cap memory with a cgroup (docker --memory)"
        )
    limit, need = _cgroup_memory_limit(), memory_needed(rows)
    if limit is not None and limit < need:
        raise OutOfMemory(
            f"the container's memory limit is {limit // 1024**2:,} MB; {rows:,} rows need about "
            f"{need // 1024**2:,} MB (see docs/operations.md)"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or the native libraries' ways of saying the same (threads, allocations)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    native = type(exc).__name__ == "PanicException" or isinstance(exc, RuntimeError)
    return native and any(
        sign in text
        for sign in ("could not spawn threads", "can't start new thread", "memory allocation")
    )
