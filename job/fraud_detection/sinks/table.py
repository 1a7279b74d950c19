"""A dataset root as a Delta Lake table (delta-rs): each day is replaced by one commit.

The job writes the Parquet files itself (sinks/parquet.py) and commits them with
`deltalake`'s write transaction: in one commit, `mode="overwrite"` with the day's
partition filter removes the day's previous files and adds the new ones. The log at
`<root>/_delta_log/` is the table's truth; readers that go through it (deltalake, polars,
Feast's DeltaFormat, Spark, Trino) see the old day or the new day, never a mix.

Fencing: a run reads the table's version when it starts to publish (`TableView.open`)
and commits against that version. The next log entry is written with put-if-absent
(`If-None-Match: *` on S3, delta-rs's `conditional_put=etag`; an atomic rename locally).
If another run committed in between, delta-rs checks that commit against ours: one that
touched our day (it added or removed files of the partition we replace) rejects ours
(`CommitRejected`); a commit of another day does not. So a stale writer (a paused or
zombie run, one whose lease expired) can never double or mix a published day.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import arro3.core as a3
import polars as pl
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    create_table_with_add_actions,
)

from fraud_detection.errors import CommitRejected, DestinationError
from fraud_detection.manifest import PARTITION_COLUMNS
from fraud_detection.sinks.destination import Destination
from fraud_detection.sinks.layout import DayLayout

log = logging.getLogger(__name__)

_ARROW_TYPES = {"int32": a3.DataType.int32()}
MARKER = "daily-synthetic"  # the commitInfo field naming the run that made a commit


@dataclass(frozen=True)
class NewFile:
    key: str  # the object's key under the destination (its prefix included)
    size: int
    rows: int


def table_schema(data: a3.Schema) -> DeltaSchema:
    """The files' columns and the partition columns, typed as PARTITION_COLUMNS says."""
    partition = [a3.Field(n, _ARROW_TYPES[t]) for n, t in PARTITION_COLUMNS.items()]
    return DeltaSchema.from_arrow(a3.Schema([*map(data.field, data.names), *partition]))


def _day_filter(layout: DayLayout) -> list[tuple[str, str, str]]:
    return [(name, "=", value) for name, value in layout.partition_values.items()]


@dataclass
class TableView:
    """The table as a run saw it when it started to publish; the base of its commit."""

    dest: Destination
    layout: DayLayout
    table: DeltaTable | None  # None: no table yet (the first day ever published)

    @classmethod
    def open(cls, dest: Destination, layout: DayLayout) -> TableView:
        try:
            table = DeltaTable(
                dest.table_uri(layout.prefix), storage_options=dest.storage_options()
            )
        except TableNotFoundError:
            table = None
        except OSError as exc:
            raise DestinationError(
                f"cannot read the table at {dest.table_uri(layout.prefix)}: {exc}"
            ) from None
        return cls(dest, layout, table)

    @property
    def version(self) -> int | None:
        return self.table.version() if self.table is not None else None

    def day_keys(self) -> list[str]:
        """The day's files in this view (keys under the destination)."""
        if self.table is None:
            return []
        actions = pl.DataFrame(self.table.get_add_actions(flatten=True)).to_dict(as_series=False)
        values = self.layout.partition_values
        prefix = f"{self.layout.prefix}/" if self.layout.prefix else ""
        return sorted(
            prefix + path
            for i, path in enumerate(actions["path"])
            if all(str(actions[f"partition.{k}"][i]) == v for k, v in values.items())
        )

    def commit(self, files: Sequence[NewFile], data_schema: a3.Schema, operation: str) -> int:
        """One commit: the day's previous files out, `files` in. Returns the new version."""
        layout, dest = self.layout, self.dest
        adds = [_add_action(layout, f) for f in files]
        schema = table_schema(data_schema)
        properties = CommitProperties(custom_metadata={MARKER: operation})
        started = time.monotonic()
        base = -1 if self.table is None else self.table.version()
        if self.table is None:
            try:
                create_table_with_add_actions(
                    dest.table_uri(layout.prefix), schema, adds, mode="error",
                    partition_by=list(PARTITION_COLUMNS), storage_options=dest.storage_options(),
                    commit_properties=properties,
                )  # fmt: skip
                version = 0
            except Exception as exc:
                if "exists" not in str(exc).lower():
                    raise
                # Another run created the table first (another day, or this one).
                raced = TableView.open(dest, layout)
                if raced.table is None or raced.day_keys():
                    raise self._rejected("another run created the table with this day") from None
                self.table = raced.table
        if self.table is not None:
            actions: list[AddAction | RemoveAction] = list(adds)
            try:
                self.table.create_write_transaction(
                    actions, mode="overwrite", schema=schema, partition_by=list(PARTITION_COLUMNS),
                    partition_filters=_day_filter(layout), commit_properties=properties,
                )  # fmt: skip
            except CommitFailedError as exc:
                raise self._rejected(str(exc)) from None
            version = _version_of(self, base, operation)
        log.info(
            "commit: table version %d replaces %s with %d file(s) (%.3f s)",
            version, layout.day, len(files), time.monotonic() - started,
        )  # fmt: skip
        return version

    def _rejected(self, why: str) -> CommitRejected:
        base = "none" if self.table is None else str(self.table.version())
        first_line = why.strip().splitlines()[0] if why.strip() else "conflict"
        return CommitRejected(
            f"the table at {self.dest.table_uri(self.layout.prefix)} moved on since this run read it (version "
            f"{base}): another run published {self.layout.day} first, so this run's commit "
            f"was rejected ({first_line}) and its own files were removed"
        )

    def committed(self, keys: Sequence[str]) -> bool | None:
        """After a commit whose outcome is unknown: are `keys` the day's files now?"""
        try:
            now = TableView.open(self.dest, self.layout)
            return set(now.day_keys()) == set(keys)
        except Exception:
            return None


def _version_of(view: TableView, base: int, operation: str) -> int:
    """The version our commit got: the log may have moved on since (other days' commits).

    Read from the log's own files: delta-rs's history() holds the GIL while it waits on
    the store, which stalls a store served from the same process (the tests' moto).
    """
    table = view.table
    assert table is not None
    table.update_incremental()
    latest = table.version()
    for version in range(base + 1, latest + 1):
        key = f"{view.layout.prefix}/_delta_log/{version:020d}.json".lstrip("/")
        for line in (view.dest.get_text(key) or "").splitlines():
            info = json.loads(line).get("commitInfo")
            if info is not None and info.get(MARKER) == operation:
                return version
    return latest


def _add_action(layout: DayLayout, f: NewFile) -> AddAction:
    return AddAction(
        path=layout.relative(f.key),
        size=f.size,
        partition_values=layout.partition_values,
        modification_time=int(time.time() * 1000),
        data_change=True,
        stats=json.dumps({"numRecords": f.rows}),
    )
