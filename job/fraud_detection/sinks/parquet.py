"""Encode frames into one local Parquet file; nothing else.

The frames come from the caller (the pipeline generates and checks them); this
module only writes them, and leaves a complete file or none. It writes through
arrow-rs's Parquet writer (`arro3.io`), the Parquet engine of delta-rs, which the
table needs anyway: the image ships no second engine (no pyarrow). Each column gets
a dictionary unless the caller's encodings (the schema's policy) say otherwise.

The file carries no embedded Arrow schema: readers take each column's type from the
Parquet types, so text (Enums included) is `string`, not the `string_view` or
`large_string` polars hands over (Feast reads `large_string` as Json), and no text
column is copied to change its Arrow type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import arro3.core as a3
import polars as pl
from arro3.io import write_parquet as write_arrow_parquet

from fraud_detection.errors import DiskFull, JobError, is_disk_full
from fraud_detection.settings import DEFAULT_ROW_GROUP_ROWS, Compression

# zstd level 1 writes ~4x faster than the default level, at the same size on this data.
DEFAULT_ZSTD_LEVEL = 1
# A row group's dictionaries may exceed the writer's 1 MiB default (a day's customers),
# which would otherwise silently fall back to PLAIN for the rest of the row group.
DICTIONARY_PAGE_BYTES = 64 << 20
_Encoding = Literal[
    "plain", "plain_dictionary", "rle", "bit_packed", "delta_binary_packed",
    "delta_length_byte_array", "delta_byte_array", "rle_dictionary", "byte_stream_split",
]  # fmt: skip
_ENCODINGS: tuple[_Encoding, ...] = get_args(_Encoding)
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


def column_encodings(schema: pl.Schema, encodings: Mapping[str, str]) -> dict[str, _Encoding]:
    """The encodings checked against the schema, in arrow-rs's spelling."""
    unknown = sorted(set(encodings) - set(schema))
    if unknown:
        raise ValueError(f"encodings name columns the schema lacks: {unknown}")
    return {c: _encoding(e) for c, e in encodings.items()}


def _encoding(name: str) -> _Encoding:
    for known in _ENCODINGS:
        if name.lower() == known:
            return known
    raise ValueError(f"unknown Parquet encoding {name!r}; one of {', '.join(_ENCODINGS)}")


def _as_written(frame: pl.DataFrame) -> a3.Table:
    """The frame as the writer takes it: Enums (and Categoricals) stay dictionaries.

    polars hands them over as dictionaries of string views, which arrow-rs's writer
    does not take; only the dictionary's few values are cast to `string`. The codes
    are kept, so no per-row copy of the text is made, and the writer encodes them
    without re-hashing every row's string. Other columns go as they are.
    """
    table = a3.Table.from_arrow(frame)
    for i, dtype in enumerate(frame.schema.dtypes()):
        if _is_text(dtype) and not isinstance(dtype, pl.String):
            column = table.column(i)
            codes = a3.dictionary_indices(column).field.type
            cast = column.cast(a3.DataType.dictionary(codes, a3.DataType.string()))
            table = table.set_column(i, table.schema.field(i).with_type(cast.type), cast)
    return table


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
    Row groups fill up to `row_group_rows` across frames: a larger row group shares one
    dictionary over more rows (a day's customers), and memory stays bounded by
    `row_group_rows`, whatever the file's size. The writer pulls the frames in the
    calling thread, one at a time, so the caller keeps control between frames (a signal
    handler runs, a deadline is checked); its exceptions come out as they went in.
    """
    # polars' own Arrow types: text as string views, which the writer takes as they are.
    target = _as_written(pl.DataFrame(schema=schema)).schema
    by_column = column_encodings(schema, encodings or {})
    codec = f"zstd({DEFAULT_ZSTD_LEVEL})" if compression == "zstd" else compression
    raised: list[BaseException] = []  # the caller's own exception, which arrow-rs wraps

    def batches() -> Iterator[a3.RecordBatch]:
        try:
            for frame in frames:
                yield from _as_written(frame).to_batches()
                del frame
        except BaseException as exc:
            raised.append(exc)
            raise

    try:
        write_arrow_parquet(
            a3.RecordBatchReader.from_batches(target, batches()), path,
            compression=codec, max_row_group_size=row_group_rows,
            # No embedded Arrow schema: readers take each column's type from the Parquet
            # types (text is `string`, not polars' `string_view`; see the module's doc).
            skip_arrow_metadata=True,
            # A dictionary for every column without an encoding of its own.
            dictionary_enabled=True, column_dictionary_enabled={c: False for c in by_column},
            column_encoding={c: e for c, e in by_column.items()},
            dictionary_page_size_limit=DICTIONARY_PAGE_BYTES,
        )  # fmt: skip
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if raised:
            raise raised[0] from None
        if is_disk_full(exc):  # arrow-rs panics on ENOSPC (pyo3's PanicException)
            raise DiskFull(
                f"no space left on device while writing {path}; free space or point TMPDIR "
                "at a larger volume"
            ) from None
        if isinstance(exc, OSError) and not isinstance(exc, JobError):
            raise JobError(f"cannot write {path}: {exc.strerror or exc}") from None
        if type(exc).__name__ == "PanicException":  # arrow-rs's I/O errors, as pyo3 raises them
            raise JobError(f"cannot write {path}: {exc}") from None
        raise
    return WrittenFile(path=path, bytes=path.stat().st_size, sha256=sha256_of(path))
