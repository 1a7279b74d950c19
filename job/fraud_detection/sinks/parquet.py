"""Encode frames into one local Parquet file; nothing else.

The frames come from the caller (the pipeline generates and checks them); this
module only writes them, and leaves a complete file or none. It writes through
pyarrow, with the column encodings the caller passes (the schema's policy), and
without an embedded Arrow schema: readers then take each column's type from the
Parquet types, so text is `string`, not the `large_string` polars hands over (Feast
reads `large_string` as Json), and no column has to be cast (copied) to get there.
Enum columns reach the writer as Arrow dictionaries, which it writes as they are
(no hashing of the values): readers see strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from fraud_detection.errors import DiskFull, JobError, is_disk_full
from fraud_detection.settings import DEFAULT_ROW_GROUP_ROWS, Compression

# zstd level 1 writes ~4x faster than the default level, at the same size on this data.
DEFAULT_ZSTD_LEVEL = 1
# A row group's dictionaries may exceed pyarrow's 1 MiB default (a day's customers),
# which would otherwise silently fall back to PLAIN for the rest of the row group.
DICTIONARY_PAGE_BYTES = 64 << 20


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    bytes: int
    sha256: str


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _as_read(t: pa.DataType) -> pa.DataType:
    # Parquet stores an Enum as its values, and polars' large_string as string.
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.string() if t == pa.large_string() else t


def arrow_schema(schema: pl.Schema) -> pa.Schema:
    """The Arrow schema readers see in the file: text (Enums included) is `string`."""
    fields = pl.DataFrame(schema=schema).to_arrow().schema
    return pa.schema([f.with_type(_as_read(f.type)) for f in fields])


def arrow_type_names(schema: pl.Schema) -> dict[str, str]:
    """column -> Arrow type as the written files declare it (for the manifest)."""
    return {f.name: str(f.type) for f in arrow_schema(schema)}


def writer_options(schema: pl.Schema, encodings: Mapping[str, str]) -> dict[str, object]:
    """pyarrow's per-column switches: a dictionary for every column without an encoding."""
    unknown = sorted(set(encodings) - set(schema))
    if unknown:
        raise ValueError(f"encodings name columns the schema lacks: {unknown}")
    return {
        "use_dictionary": [c for c in schema if c not in encodings],
        "column_encoding": dict(encodings) or None,
        "dictionary_pagesize_limit": DICTIONARY_PAGE_BYTES,
    }


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
    Frames are gathered into row groups of whole frames: a larger row group shares
    one dictionary over more rows (a day's customers), and memory stays bounded by
    `row_group_rows`, whatever the file's size. Frames are taken and encoded in the
    calling thread, so the caller keeps control between frames (a signal handler
    runs, a deadline is checked).
    """
    source = pl.DataFrame(schema=schema).to_arrow().schema  # what frame.to_arrow() gives
    options = writer_options(schema, encodings or {})
    try:
        with pq.ParquetWriter(
            path,
            source,
            store_schema=False,  # readers see `string` and UTC timestamps from Parquet's types
            compression="none" if compression == "uncompressed" else compression,
            compression_level=DEFAULT_ZSTD_LEVEL if compression == "zstd" else None,
            write_statistics=True,
            **options,
        ) as writer:
            group: list[pa.Table] = []  # Arrow copies of the frames of the row group
            held = 0
            for frame in frames:
                table = frame.to_arrow()
                if group and held + table.num_rows > row_group_rows:
                    # Zero-copy concatenation: the frames stay chunks of one table.
                    writer.write_table(pa.concat_tables(group), row_group_rows)
                    group, held = [], 0
                group.append(table)
                held += table.num_rows
                del frame, table
            if group:
                writer.write_table(pa.concat_tables(group), row_group_rows)
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, Exception) and is_disk_full(exc):
            raise DiskFull(
                f"no space left on device while writing {path}; free space or point TMPDIR "
                "at a larger volume"
            ) from None
        if isinstance(exc, OSError) and not isinstance(exc, JobError):
            raise JobError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return WrittenFile(path=path, bytes=path.stat().st_size, sha256=sha256_of(path))
