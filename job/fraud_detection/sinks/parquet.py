"""Encode frames into one local Parquet file; nothing else.

The frames come from the caller (the pipeline generates and checks them); this
module only writes them, and leaves a complete file or none. It writes through
delta-rs's Parquet writer (arrow-rs): the `deltalake` package the table needs anyway,
so the image ships one Parquet engine, not two. delta-rs writes tables, not loose
files: the frames go into a scratch table beside `path`, whose one data file becomes
`path` (the scratch log is dropped; the day's real commit is sinks/table.py's).

delta-rs plans a write over as many partitions as the calling thread has CPUs and
hands the batches to them round-robin, so with more than one CPU the rows land out of
order (delta-io/delta-rs's writer does not promise order; pola-rs/polars#26912). The
writer thread therefore runs on one CPU while it plans the write: one partition, the
frames' order, the same bytes for the same frames. The encoding itself runs on
delta-rs's own threads, whose CPUs are left alone.

Text reaches the writer as Arrow `string` (Enums included), so the file's embedded
Arrow schema says `string`, not the `large_string`/`string_view` polars hands over
(Feast reads `large_string` as Json), and readers see strings, never dictionaries.
Columns get a dictionary unless the caller's encodings (the schema's policy) say
otherwise; zstd, statistics and the row-group cap come from `WriterProperties`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import arro3.core as a3
import polars as pl
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake

from fraud_detection.errors import DiskFull, JobError, is_disk_full
from fraud_detection.settings import DEFAULT_ROW_GROUP_ROWS, Compression

# zstd level 1 writes ~4x faster than the default level, at the same size on this data.
DEFAULT_ZSTD_LEVEL = 1
# A row group's dictionaries may exceed the writer's 1 MiB default (a day's customers),
# which would otherwise silently fall back to PLAIN for the rest of the row group.
DICTIONARY_PAGE_BYTES = 64 << 20
# delta-rs's codec names; the job's are Parquet's lower-case spellings.
_CODECS: dict[Compression, Literal["ZSTD", "SNAPPY", "LZ4_RAW", "GZIP", "UNCOMPRESSED"]] = {
    "zstd": "ZSTD", "snappy": "SNAPPY", "lz4": "LZ4_RAW", "gzip": "GZIP",
    "uncompressed": "UNCOMPRESSED",
}  # fmt: skip
_Encoding = Literal[
    "PLAIN", "RLE", "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
    "BYTE_STREAM_SPLIT",
]  # fmt: skip
# Arrow's own names of the types the schemas use (the manifest's `schema`, as pyarrow,
# DuckDB and Spark print them), by the polars type of the column.
_ARROW_NAMES: dict[type[pl.DataType], str] = {
    pl.String: "string", pl.Enum: "string", pl.Categorical: "string", pl.Boolean: "bool",
    pl.Int8: "int8", pl.Int16: "int16", pl.Int32: "int32", pl.Int64: "int64",
    pl.UInt8: "uint8", pl.UInt16: "uint16", pl.UInt32: "uint32", pl.UInt64: "uint64",
    pl.Float32: "float", pl.Float64: "double", pl.Date: "date32[day]",
}  # fmt: skip
# Frames waiting for the writer thread: bounds memory to a few blocks beyond the row group.
_QUEUED_FRAMES = 2
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    bytes: int
    sha256: str


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _is_text(dtype: pl.DataType) -> bool:
    return isinstance(dtype, (pl.String, pl.Enum, pl.Categorical))


def arrow_schema(schema: pl.Schema) -> a3.Schema:
    """The Arrow schema readers see in the file: text (Enums included) is `string`."""
    exported = a3.Table.from_arrow(pl.DataFrame(schema=schema)).schema
    fields = [
        exported.field(name).with_type(a3.DataType.string()).remove_metadata()
        if _is_text(dtype)
        else exported.field(name)
        for name, dtype in schema.items()
    ]
    return a3.Schema(fields)


def arrow_type_names(schema: pl.Schema) -> dict[str, str]:
    """column -> Arrow type as the written files declare it (for the manifest)."""
    names = {}
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Datetime):
            zone = f", tz={dtype.time_zone}" if dtype.time_zone else ""
            names[name] = f"timestamp[{dtype.time_unit}{zone}]"
        elif type(dtype) in _ARROW_NAMES:
            names[name] = _ARROW_NAMES[type(dtype)]
        else:
            raise ValueError(f"no Arrow name for column {name}'s type {dtype}")
    return names


def writer_properties(
    schema: pl.Schema,
    encodings: Mapping[str, str],
    compression: Compression = "zstd",
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> WriterProperties:
    """delta-rs's switches: a dictionary for every column without an encoding."""
    unknown = sorted(set(encodings) - set(schema))
    if unknown:
        raise ValueError(f"encodings name columns the schema lacks: {unknown}")
    columns = {
        name: ColumnProperties(dictionary_enabled=False, encoding=_encoding(encoding))
        for name, encoding in encodings.items()
    }
    return WriterProperties(
        compression=_CODECS[compression],
        compression_level=DEFAULT_ZSTD_LEVEL if compression == "zstd" else None,
        max_row_group_size=row_group_rows,
        dictionary_page_size_limit=DICTIONARY_PAGE_BYTES,
        default_column_properties=ColumnProperties(
            dictionary_enabled=True, statistics_enabled="PAGE"
        ),
        column_properties=columns,
    )


def _encoding(name: str) -> _Encoding:
    allowed: tuple[_Encoding, ...] = (
        "PLAIN", "RLE", "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "BYTE_STREAM_SPLIT",
    )  # fmt: skip
    for known in allowed:
        if name == known:
            return known
    raise ValueError(f"unknown Parquet encoding {name!r}; one of {', '.join(allowed)}")


def _one_partition() -> None:
    """Pin the calling thread to one CPU, so delta-rs plans one partition (rows in order).

    delta-rs's runtime is started first, on every CPU, so that its threads (which
    inherit the mask of the thread that starts them) never share the pin.
    """
    DeltaTable.is_deltatable("memory:///")
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})


def _as_file_table(frame: pl.DataFrame, target: a3.Schema) -> a3.Table:
    """The frame in the file's Arrow types: text cast to `string` (a copy of text only)."""
    table = a3.Table.from_arrow(frame)
    for i, name in enumerate(target.names):
        field = target.field(name)
        if not table.schema.field(i).type.equals(field.type):
            table = table.set_column(i, field, table.column(i).cast(field.type))
    return table


class _Aborted(Exception):
    """The caller stopped feeding frames (its own error, a signal, a deadline)."""


class _Feed:
    """Frames from the calling thread to the writer thread, a few at a time."""

    _END = object()

    def __init__(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue(_QUEUED_FRAMES)
        self.aborted = threading.Event()

    def put(self, item: object, writer: threading.Thread) -> None:
        # A timed wait: the calling thread stays responsive to signals, and notices a
        # writer that has stopped taking frames (its own error).
        while writer.is_alive():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def close(self, writer: threading.Thread) -> None:
        self.put(self._END, writer)

    def abort(self) -> None:
        self.aborted.set()

    def batches(self) -> Iterator[a3.RecordBatch]:
        """Runs in the writer thread, called by delta-rs for the next batch."""
        while True:
            try:
                item = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self.aborted.is_set():
                    raise _Aborted from None
                continue
            if item is self._END:
                return
            if self.aborted.is_set():
                raise _Aborted
            assert isinstance(item, a3.Table)
            yield from item.to_batches()


def write_parquet(
    frames: Iterable[pl.DataFrame],
    schema: pl.Schema,
    path: Path,
    *,
    compression: Compression = "zstd",
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    encodings: Mapping[str, str] | None = None,
) -> WrittenFile:
    """Write `frames` (in order) into `path`, at most `row_group_rows` rows per row group.

    `encodings` maps columns to a Parquet encoding (PLAIN, BYTE_STREAM_SPLIT,
    DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, ...); other columns get a dictionary.
    A larger row group shares one dictionary over more rows (a day's customers), and
    memory stays bounded by `row_group_rows`, whatever the file's size. Frames are
    taken in the calling thread and handed to the writer's thread a few at a time, so
    the caller keeps control between frames (a signal handler runs, a deadline is
    checked) while delta-rs encodes.
    """
    target = arrow_schema(schema)
    properties = writer_properties(schema, encodings or {}, compression, row_group_rows)
    scratch = path.with_name(f".{path.name}.table")
    feed = _Feed()
    failure: list[BaseException] = []

    def write() -> None:
        try:
            _one_partition()
            reader = a3.RecordBatchReader.from_batches(target, feed.batches())
            write_deltalake(
                str(scratch), reader, mode="overwrite", writer_properties=properties,
                target_file_size=2**62,  # one file, however large
            )  # fmt: skip
        except BaseException as exc:
            failure.append(exc)

    writer = threading.Thread(target=write, name="parquet-writer", daemon=True)
    try:
        shutil.rmtree(scratch, ignore_errors=True)
        writer.start()
        for frame in frames:
            item = _as_file_table(frame, target)
            del frame
            feed.put(item, writer)
            del item
        feed.close(writer)
        while writer.is_alive():
            writer.join(_POLL_SECONDS)
        if failure:
            raise failure[0]
        written = list(scratch.glob("*.parquet"))
        if len(written) != 1:
            raise JobError(f"the Parquet writer left {len(written)} files for {path}, not one")
        written[0].replace(path)
    except BaseException as exc:
        feed.abort()
        while writer.is_alive():
            writer.join(_POLL_SECONDS)
        path.unlink(missing_ok=True)
        if isinstance(exc, Exception) and is_disk_full(exc):
            raise DiskFull(
                f"no space left on device while writing {path}; free space or point TMPDIR "
                "at a larger volume"
            ) from None
        if isinstance(exc, OSError) and not isinstance(exc, JobError):
            raise JobError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return WrittenFile(path=path, bytes=path.stat().st_size, sha256=sha256_of(path))
