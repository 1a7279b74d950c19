"""Publishing one day of a dataset: invalidate first, promote from staging, commit last.

API, for any dataset laid out by `DayLayout` (raw payments, fraud reports, features):

    layout = DayLayout("features", day)                      # keys under <root>/features/
    with_lease = Lease.acquire(dest, layout.lease_key, "features of " + day, ttl)  # sinks.lease
    dest.upload(local_file, layout.staged_key(0, 1), metadata)
    staged = [StagedPart(dest.head(layout.staged_key(0, 1)), layout.part_key(0, 1))]
    publication = publish_day(dest, layout, staged, manifest_text, Deadline(600))
    publication.state        # DayState; on failure: DayPublication(...).publish(...) and
                             # read .state in the except block
    with_lease.release()

`parts` are objects already uploaded to the staging area (`layout.staged_key`), each
with the key it must take in the day folder. The caller holds the day's lease
(`sinks.lease.Lease`) for the whole call. The steps, in this order:

1. delete the old `_manifest.json`: from here on the day is *incomplete*;
2. delete the day's objects that the new manifest will not list (stale parts);
3. server-side copy each staged object into the day folder (only if it is unchanged
   since it was checked: CopySourceIfMatch on S3, the file identity locally);
4. write the new manifest: the day is *published*;
5. delete the staged objects (a failure here is only logged: the next run removes them).

A reader that follows the manifest never sees a manifest that disagrees with the
objects. A reader that globs `*.parquet` can see a subset of the old or new parts, never
the same rows twice, during steps 2-3: `window_seconds` measures that window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from fraud_detection.deadline import Deadline
from fraud_detection.errors import DestinationError
from fraud_detection.sinks.destination import Destination, StoredObject
from fraud_detection.sinks.layout import DayLayout

log = logging.getLogger(__name__)
T = TypeVar("T")


class DayState(StrEnum):
    UNTOUCHED = "untouched"
    INCOMPLETE = "incomplete"
    PUBLISHED = "published"
    UNKNOWN = "unknown"

    def explain(self, day: str) -> str:
        return {
            DayState.UNTOUCHED: f"day {day} left untouched (as it was before this run)",
            DayState.INCOMPLETE: f"day {day} left incomplete (no manifest); re-run to repair",
            DayState.PUBLISHED: f"day {day} is published",
            DayState.UNKNOWN: (
                f"day {day} may be incomplete (a manifest change could not be confirmed); "
                "re-run to repair"
            ),
        }[self]


@dataclass(frozen=True)
class StagedPart:
    staged: StoredObject  # as checked in the staging area (its tag pins the content)
    key: str  # where it goes in the day folder


@dataclass
class DayPublication:
    dest: Destination
    layout: DayLayout
    deadline: Deadline
    state: DayState = DayState.UNTOUCHED
    window_seconds: float = 0.0  # a glob reader may see part of the day
    unpublished_seconds: float = 0.0  # a manifest reader finds no manifest

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        return self.deadline.call(doing, fn)

    def publish(self, parts: Sequence[StagedPart], manifest_text: str) -> None:
        dest, layout = self.dest, self.layout
        day = layout.day.isoformat()
        keep = {p.key for p in parts} | {layout.manifest_key}
        existing = self._call("listing the day", lambda: dest.list_keys(layout.partition))
        stale = [k for k in existing if k not in keep]

        started = time.monotonic()
        self.state = DayState.UNKNOWN
        log.info("publish: invalidating %s (manifest removed first)", day)
        try:
            self._call("removing the old manifest", lambda: dest.delete([layout.manifest_key]))
        except DestinationError:
            self._confirm_manifest(None)
            raise
        self.state = DayState.INCOMPLETE
        log.info("publish: old manifest removed; promoting %d part(s)", len(parts))
        promote_started = time.monotonic()
        if stale:
            log.info("publish: removing %d stale object(s): %s", len(stale), ", ".join(stale))
            self._call("removing stale objects", lambda: dest.delete(stale))
        for part in parts:
            log.info("publish: promoting %s -> %s", part.staged.key, part.key)
            self._call(f"promoting {part.key}", _copier(dest, part))
        self.window_seconds = time.monotonic() - promote_started
        self._write_manifest(manifest_text)
        self.unpublished_seconds = time.monotonic() - started
        log.info(
            "publish: manifest written; %s published (glob window %.3f s, no manifest for %.3f s)",
            day, self.window_seconds, self.unpublished_seconds,
        )  # fmt: skip
        self._remove_staged([p.staged.key for p in parts])

    def _write_manifest(self, text: str) -> None:
        key = self.layout.manifest_key
        self.state = DayState.UNKNOWN  # until the PUT is known to have landed or not
        try:
            self._call(
                "writing the manifest", lambda: self.dest.put_text(key, text, "application/json")
            )
        except DestinationError:
            self._confirm_manifest(text)
            raise
        self.state = DayState.PUBLISHED

    def _confirm_manifest(self, ours: str | None) -> None:
        """After a failed manifest change (the request is over): read back what is there."""
        key = self.layout.manifest_key
        try:
            landed = Deadline(3.0).call("checking the manifest", lambda: self.dest.get_text(key))
        except Exception:  # unreadable: the state stays UNKNOWN; the first error is raised
            self.state = DayState.UNKNOWN
            return
        if landed is None:
            self.state = DayState.INCOMPLETE
        elif ours is None:  # the old manifest is still there, and so is everything else
            self.state = DayState.UNTOUCHED
        else:
            self.state = DayState.PUBLISHED if landed == ours else DayState.UNKNOWN

    def _remove_staged(self, keys: list[str]) -> None:
        try:
            self._call("removing staged objects", lambda: self.dest.delete(keys))
        except DestinationError as exc:
            log.warning("staged objects left for the next run to remove: %s", exc)


def _copier(dest: Destination, part: StagedPart) -> Callable[[], None]:
    return lambda: dest.copy(part.staged, part.key)


def publish_day(
    dest: Destination,
    layout: DayLayout,
    parts: Sequence[StagedPart],
    manifest_text: str,
    deadline: Deadline,
) -> DayPublication:
    """Publish staged `parts` as `layout`'s day (the caller holds the day's lease)."""
    publication = DayPublication(dest, layout, deadline)
    publication.publish(parts, manifest_text)
    return publication


def publish_file(
    publication: DayPublication, path: Path, metadata: dict[str, str], manifest_text: str
) -> None:
    """One local file as the day's only part: stage it, then publish (lease held by caller).

    `publication.state` tells, also after an exception, what the day was left as.
    """
    dest, layout, deadline = publication.dest, publication.layout, publication.deadline
    staged_key = layout.staged_key(0, 1)
    deadline.call(f"staging {path.name}", lambda: dest.upload(path, staged_key, metadata))
    staged = deadline.call("checking the staged file", lambda: dest.head(staged_key))
    if staged is None:
        raise DestinationError(f"the staged file {dest.uri(staged_key)} vanished after its upload")
    publication.publish([StagedPart(staged, layout.part_key(0, 1))], manifest_text)
