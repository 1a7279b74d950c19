"""Publishing one day of a dataset (payments, fraud reports, features): one Delta commit.

The one helper every dataset publishes through. The caller holds the day's lease
(sinks.lease) and has uploaded the day's file(s) to the staging area; then:

    publication = DayPublication.under(lease, dest, layout, deadline, data_schema, run_id)
                                    # reads the table's version: the base of the commit
    ...                             # generate, stage
    publication.publish(staged, manifest_for)   # manifest_for(version) -> manifest JSON

`publish` takes these steps, in this order:

1. promote: server-side copy of each staged object to its key in the day folder, a key
   unique to this run (`part-RUN-…`), so no file a reader may be reading is overwritten;
2. commit: one Delta commit removes the day's previous files and adds the new ones
   (sinks/table.py). If the log moved on under a day this run replaces, the commit is
   rejected (`CommitRejected`) and this run removes only its own new files;
3. write `_manifests/YYYY-MM-DD.json`, naming the table version;
4. delete the files the commit removed (and any file of the day folder the table does not
   list: leftovers of a killed run), for the glob readers. They are not kept for time travel:
   a version from before a day was replaced no longer reads (vacuum's job, done at once);
5. delete the staged objects (a failure here is only logged: the next run removes them).

A reader of the table sees the old day until step 2 and the new day after it. A reader
that globs the day folder's `*.parquet` sees the old and the new files together between
steps 1 and 4: `window_seconds` measures that window.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import arro3.core as a3

from fraud_detection.deadline import Deadline
from fraud_detection.errors import CommitRejected, DeadlineExceeded, DestinationError
from fraud_detection.sinks.destination import Destination, StoredObject
from fraud_detection.sinks.layout import DayLayout
from fraud_detection.sinks.table import NewFile, TableView

if TYPE_CHECKING:
    from fraud_detection.sinks.lease import Lease

log = logging.getLogger(__name__)
T = TypeVar("T")


class DayState(StrEnum):
    UNTOUCHED = "untouched"
    PUBLISHED = "published"
    UNKNOWN = "unknown"

    def explain(self, day: str) -> str:
        return {
            DayState.UNTOUCHED: f"day {day} left untouched (as it was before this run)",
            DayState.PUBLISHED: f"day {day} is published",
            DayState.UNKNOWN: (
                f"day {day} is either as it was or published by this run (the commit could "
                "not be confirmed); re-run to be sure"
            ),
        }[self]


@dataclass(frozen=True)
class StagedPart:
    staged: StoredObject  # as checked in the staging area (its tag pins the content)
    key: str  # where it goes in the day folder (unique to the run)
    rows: int


@dataclass
class DayPublication:
    dest: Destination
    layout: DayLayout
    deadline: Deadline
    data_schema: a3.Schema  # the Arrow schema of the day's files (without partition columns)
    # Recorded in the commit (commitInfo), unique to the run: how it finds its version.
    operation: str = field(default_factory=lambda: f"run {uuid.uuid4().hex[:12]}")
    state: DayState = DayState.UNTOUCHED
    view: TableView | None = None
    version: int | None = None  # the table version that published the day
    window_seconds: float = 0.0  # a glob reader may see old and new files together
    commit_seconds: float = 0.0
    # Called right before the commit (the lease's `confirm`): may stop the run there.
    before_commit: Callable[[], None] | None = None
    _promoted: list[str] = field(default_factory=list)

    @classmethod
    def under(
        cls, lease: Lease, dest: Destination, layout: DayLayout, deadline: Deadline,
        data_schema: a3.Schema, operation: str,
    ) -> DayPublication:  # fmt: skip
        """The day's publication for the holder of `lease`: the table as read now is the
        base its commit is checked against, and the lease is confirmed right before it."""
        publication = cls(
            dest, layout, deadline, data_schema, operation, before_commit=lease.confirm
        )
        publication.begin()
        return publication

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        return self.deadline.call(doing, fn)

    def begin(self) -> TableView:
        """Read the table: the version this run's commit is checked against."""
        if self.view is None:
            view = self._call("reading the table", lambda: TableView.open(self.dest, self.layout))
            log.info(
                "table %s at version %s", self.dest.table_uri(self.layout.prefix),
                "(none yet)" if view.version is None else view.version,
            )  # fmt: skip
            self.view = view
        return self.view

    def publish(self, parts: Sequence[StagedPart], manifest_for: Callable[[int], str]) -> int:
        view = self.begin()
        dest, layout = self.dest, self.layout
        day = layout.day.isoformat()
        keys = [p.key for p in parts]
        started = time.monotonic()
        try:
            for part in parts:
                log.info("publish: promoting %s -> %s", part.staged.key, part.key)
                self._promoted.append(part.key)
                self._call(f"promoting {part.key}", _copier(dest, part))
            if self.before_commit is not None:
                self._call("checking the day is still this run's", self.before_commit)
            self.state = DayState.UNKNOWN
            commit_started = time.monotonic()
            files = [NewFile(p.key, p.staged.size, p.rows) for p in parts]
            self.version = self._call(
                "committing the day", lambda: view.commit(files, self.data_schema, self.operation)
            )
            self.commit_seconds = time.monotonic() - commit_started
        except BaseException as exc:
            self._after_failed_commit(keys, exc)
            raise
        self.state = DayState.PUBLISHED
        log.info("publish: %s committed as table version %d", day, self.version)
        text = manifest_for(self.version)
        self._call(
            "writing the manifest",
            lambda: dest.put_text(layout.manifest_key, text, "application/json"),
        )
        self._remove_old_files(set(keys))
        self.window_seconds = time.monotonic() - started
        log.info(
            "publish: %s published (commit %.3f s, glob window %.3f s)",
            day, self.commit_seconds, self.window_seconds,
        )  # fmt: skip
        self._remove_staged([p.staged.key for p in parts])
        return self.version

    def _after_failed_commit(self, keys: list[str], exc: BaseException) -> None:
        """Find out whether the commit landed; if not, remove this run's own files only."""
        if self.state is DayState.UNKNOWN and not isinstance(exc, CommitRejected):
            landed = self.view.committed(keys) if self.view is not None else None
            if landed:
                self.state = DayState.PUBLISHED
                return
            if landed is None or isinstance(exc, (DeadlineExceeded, KeyboardInterrupt)):
                # The commit call may still be under way: its files stay (the next run
                # removes whatever the table does not list).
                return
        self.state = DayState.UNTOUCHED
        if self._promoted:
            try:
                promoted = list(self._promoted)
                Deadline(3.0).call("removing this run's files", lambda: self.dest.delete(promoted))
            except Exception as cleanup:
                log.warning("this run's files are left for the next run to remove: %s", cleanup)

    def _remove_old_files(self, keep: set[str]) -> None:
        """The files the commit removed, and any other file of the day the table does not list.

        A failure here fails the run (the day is published): until a re-run removes them, a
        glob reader sees the old files beside the new ones.
        """
        dest, layout = self.dest, self.layout
        listed = self._call("listing the day", lambda: dest.list_keys(layout.partition))
        old = [k for k in listed if k not in keep]
        if old:
            log.info("publish: removing %d file(s) the table no longer lists", len(old))
            self._call("removing old files", lambda: dest.delete(old))

    def _remove_staged(self, keys: list[str]) -> None:
        try:
            self._call("removing staged objects", lambda: self.dest.delete(keys))
        except DestinationError as exc:
            log.warning("staged objects left for the next run to remove: %s", exc)


def _copier(dest: Destination, part: StagedPart) -> Callable[[], None]:
    return lambda: dest.copy(part.staged, part.key)


def publish_file(
    publication: DayPublication,
    path: Path,
    rows: int,
    metadata: dict[str, str],
    run_id: str,
    manifest_for: Callable[[int], str],
) -> int:
    """One local file as the day's only part: stage it, then publish (lease held by caller).

    `publication.state` tells, also after an exception, what the day was left as.
    """
    dest, layout, deadline = publication.dest, publication.layout, publication.deadline
    publication.begin()
    staged_key = layout.staged_key(0, 1)
    deadline.call(f"staging {path.name}", lambda: dest.upload(path, staged_key, metadata))
    staged = deadline.call("checking the staged file", lambda: dest.head(staged_key))
    if staged is None:
        raise DestinationError(f"the staged file {dest.uri(staged_key)} vanished after its upload")
    part = StagedPart(staged, layout.part_key(0, 1, run_id), rows)
    return publication.publish([part], manifest_for)
