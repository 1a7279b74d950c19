"""Encode frames into one local Parquet file; nothing else.

The frames come from the caller (the pipeline generates and checks them); this
module only writes them, and leaves a complete file or none. It writes with polars'
own streaming Parquet sink, which encodes without Python's GIL and spreads a row group's
columns over the cores, so the caller's threads go on generating the next blocks while
one is encoded. Column encodings are polars' choice (a dictionary where it pays).

The file's embedded Arrow schema is replaced by one that declares text (Enums included)
as `string`, not the `string_view` or `large_string` polars works with: Feast reads
`large_string` as Json, and readers take the declared type without a cast.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import arro3.core as a3
import polars as pl
from arro3.io import write_ipc_stream
from polars.io.plugins import register_io_source

from fraud_detection.deadline import OnThread
from fraud_detection.errors import DiskFull, JobError, is_disk_full
from fraud_detection.settings import DEFAULT_ROW_GROUP_ROWS, Compression

# zstd level 1: less CPU than the default level (3), at about the same size on this data.
DEFAULT_ZSTD_LEVEL = 1
# After the caller is interrupted: how long the writer may take to notice and stop
# (it looks between frames) before the partial file is removed under it.
STOP_WAIT_SECONDS = 1.0
# Arrow's own names of the types the schemas use (the manifest's `schema`, as pyarrow,
# DuckDB and Spark print them), by the polars type of the column.
_ARROW_NAMES: dict[type[pl.DataType], str] = {
    pl.String: "string", pl.Enum: "string", pl.Categorical: "string", pl.Boolean: "bool",
    pl.Int8: "int8", pl.Int16: "int16", pl.Int32: "int32", pl.Int64: "int64",
    pl.UInt8: "uint8", pl.UInt16: "uint16", pl.UInt32: "uint32", pl.UInt64: "uint64",
    pl.Float32: "float", pl.Float64: "double", pl.Date: "date32[day]",
}  # fmt: skip


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


_IPC_END = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # continuation marker, zero length


def arrow_schema_entry(schema: pl.Schema) -> str:
    """`arrow_schema(schema)` as Parquet files embed it (`ARROW:schema`): base64 of the
    Arrow IPC schema message, here cut from an empty IPC stream (less its end marker)."""
    stream = io.BytesIO()
    write_ipc_stream(a3.Table.from_batches([], schema=arrow_schema(schema)), stream)
    return base64.b64encode(stream.getvalue()[: -len(_IPC_END)]).decode()


class _Stopped(Exception):
    """The caller stopped waiting: the writer's source ends the write."""


def write_parquet(
    frames: Iterable[pl.DataFrame],
    schema: pl.Schema,
    path: Path,
    *,
    compression: Compression = "zstd",
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> WrittenFile:
    """Write `frames` (in order) into `path`, at most `row_group_rows` rows per row group.

    Row groups fill up to `row_group_rows` across frames: a larger row group shares one
    dictionary over more rows (a day's customers), and memory stays bounded by
    `row_group_rows`, whatever the file's size. polars pulls the frames on a thread of
    its own; the calling thread waits, so a signal handler runs there at once. If the
    wait is interrupted, the writer stops at its next frame and the file is removed.
    The frames' exceptions come out as they went in.
    """
    level = DEFAULT_ZSTD_LEVEL if compression == "zstd" else None
    entry = arrow_schema_entry(schema)
    stop = threading.Event()
    raised: list[BaseException] = []  # the frames' own exception, whatever polars makes of it

    def source(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:  # fmt: skip
        try:
            for frame in frames:
                if stop.is_set():
                    raise _Stopped
                yield frame
                del frame
        except GeneratorExit:  # polars let go of the frames: its own failure says why
            raise
        except BaseException as exc:
            raised.append(exc)
            raise

    def write() -> None:
        register_io_source(io_source=source, schema=schema).sink_parquet(
            path, compression=compression, compression_level=level,
            row_group_size=row_group_rows, maintain_order=True,
            metadata={"ARROW:schema": entry},  # replaces polars' own (text as string)
        )  # fmt: skip

    writing = OnThread(f"writing {path.name}", write)
    try:
        writing.done.wait()
    except BaseException:  # a signal's exception, raised here by its handler
        stop.set()
        writing.done.wait(STOP_WAIT_SECONDS)
        path.unlink(missing_ok=True)
        raise
    try:
        writing.outcome()
    except BaseException as exc:
        path.unlink(missing_ok=True)
        raise (raised[0] if raised else _failure(exc, path)) from None
    return WrittenFile(path=path, bytes=path.stat().st_size, sha256=sha256_of(path))


def _failure(exc: BaseException, path: Path) -> BaseException:
    """The writer's own failure as the one-line error it is, else as it came."""
    if is_disk_full(exc):
        return DiskFull(
            f"no space left on device while writing {path}; free space or point TMPDIR "
            "at a larger volume"
        )
    if isinstance(exc, OSError):
        return JobError(f"cannot write {path}: {exc.strerror or exc}")
    if isinstance(exc, pl.exceptions.PolarsError):  # polars' I/O errors, as text
        return JobError(f"cannot write {path}: {str(exc).splitlines()[0]}")
    return exc
