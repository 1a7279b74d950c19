"""The staged-slice metadata contract: what a slice carries to `--finalize`, written and read here.

A slice run uploads its file to the staging area with these object metadata (S3 user
metadata; a sidecar locally). `--finalize` reads them back, refuses a slice made with
other settings (naming each differing field) or with the wrong row count, and takes the
slice's numbers from them: it never reads the staged file itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fraud_detection.deadline import Deadline
from fraud_detection.errors import IncompleteDay
from fraud_detection.manifest import PartInfo
from fraud_detection.settings import settings_digest
from fraud_detection.sinks.destination import Destination, StoredObject
from fraud_detection.sinks.layout import DayLayout
from fraud_detection.sinks.publish import StagedPart


def slice_metadata(settings: dict[str, str], part: PartInfo) -> dict[str, str]:
    """The metadata a slice is staged with: its numbers and the settings that shaped it."""
    return {
        "rows": str(part.rows),
        "fraud-rows": str(part.fraud_rows),
        "sha256": part.sha256,
        "fingerprint": part.fingerprint,
        "shard": part.shard,
        "settings": json.dumps(settings, sort_keys=True, separators=(",", ":")),
        "settings-digest": settings_digest(settings),
    }


def settings_differences(expected: dict[str, str], metadata: dict[str, str]) -> list[str]:
    """`field=theirs (expected ours)` for every setting a staged slice disagrees on."""
    try:
        theirs = json.loads(metadata.get("settings", ""))
    except ValueError:
        return ["its settings are unreadable"]
    if not isinstance(theirs, dict):
        return ["its settings are unreadable"]
    return [
        f"{name}={theirs.get(name, '(unset)')} (expected {value})"
        for name, value in expected.items()
        if str(theirs.get(name)) != value
    ]


def check_slice(
    metadata: dict[str, str], expected: dict[str, str], want_rows: int, label: str
) -> str | None:
    """Why a staged slice (`label`, e.g. "slice 1/2") cannot be finalised, or None."""
    if metadata.get("settings-digest") != settings_digest(expected):
        differences = settings_differences(expected, metadata) or ["its settings digest differs"]
        return f"{label} was made with " + ", ".join(differences)
    if metadata.get("rows") != str(want_rows):
        return f"{label} has {metadata.get('rows')} rows, expected {want_rows}"
    return None


def slice_part(metadata: dict[str, str], key: str, size: int, shard: str) -> PartInfo:
    """A checked slice's numbers, as the day's part at `key`."""
    return PartInfo(
        key=key, rows=int(metadata["rows"]), fraud_rows=int(metadata.get("fraud-rows", "0")),
        bytes=size, sha256=metadata.get("sha256", ""),
        fingerprint=metadata.get("fingerprint", "0"), shard=shard,
    )  # fmt: skip


def staged_slices(
    dest: Destination,
    layout: DayLayout,
    count: int,
    expected: dict[str, str],
    rows_of: Callable[[int], int],
    run_id: str,
    deadline: Deadline,
) -> tuple[list[StagedPart], list[PartInfo]]:
    """All K staged slices of the day, checked, as the parts `--finalize` publishes.

    `rows_of(i)` is the row count slice i must have. Raises IncompleteDay naming every
    slice that is missing or was made with other settings.
    """
    staged: list[StagedPart] = []
    parts: list[PartInfo] = []
    problems: list[str] = []
    for index in range(count):
        key = layout.staged_key(index, count)
        name = Path(key).name
        obj = deadline.call(f"checking {name}", _head(dest, key))
        label = f"slice {index}/{count}"
        if obj is None:
            problems.append(f"{label} was never staged ({name} missing)")
            continue
        problem = check_slice(obj.metadata, expected, rows_of(index), label)
        if problem is not None:
            problems.append(problem)
            continue
        part = slice_part(
            obj.metadata, layout.part_key(index, count, run_id), obj.size, f"{index}/{count}"
        )
        parts.append(part)
        staged.append(StagedPart(obj, part.key, part.rows))
    if problems:
        raise IncompleteDay(f"cannot finalise {layout.day}: " + "; ".join(problems))
    return staged, parts


def _head(dest: Destination, key: str) -> Callable[[], StoredObject | None]:
    return lambda: dest.head(key)
