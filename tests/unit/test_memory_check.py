"""The pre-start memory check: what a day of N rows needs, against the container's limit."""

from __future__ import annotations

import pytest

from fraud_detection import memory
from fraud_detection.errors import OutOfMemory

MIB = 1024**2


def test_the_need_grows_with_rows_above_a_million_too() -> None:
    sizes = [memory.memory_needed(r) for r in (1_000, 1_000_000, 10_000_000, 50_000_000)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert memory.memory_needed(1_000_000) == 1100 * MIB
    assert memory.memory_needed(11_000_000) == (1100 + 10 * 140) * MIB


@pytest.mark.parametrize(
    ("limit_mib", "rows", "refused"),
    [(2048, 1_000_000, False), (2048, 10_000_000, True), (4096, 10_000_000, False),
     (1024, 1_000_000, True), (None, 50_000_000, False)],
)  # fmt: skip
def test_a_container_too_small_for_the_day_is_refused_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, limit_mib: int | None, rows: int, refused: bool
) -> None:
    limit = None if limit_mib is None else limit_mib * MIB
    monkeypatch.setattr(memory, "_cgroup_memory_limit", lambda: limit)
    if not refused:
        memory.check_memory(rows)
        return
    with pytest.raises(OutOfMemory) as caught:
        memory.check_memory(rows)
    line = str(caught.value)
    assert f"{limit_mib:,} MB" in line and f"{rows:,} rows need" in line
    assert OutOfMemory.exit_code == 9
