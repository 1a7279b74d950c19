"""Stream a slice of the day into one local Parquet file, validating as it goes."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from fraud_detection.errors import DiskFull, JobError, is_disk_full
from fraud_detection.simulator.dataset import DaySpec, Shard, lazy_blocks
from fraud_detection.validation import Totals, validate_block

log = logging.getLogger(__name__)

Compression = Literal["zstd", "snappy", "lz4", "gzip", "uncompressed"]
COMPRESSIONS: tuple[Compression, ...] = ("zstd", "snappy", "lz4", "gzip", "uncompressed")
DEFAULT_ROW_GROUP_ROWS = 250_000
# zstd level 1 writes ~4x faster than polars' default level, at the same size on this data.
DEFAULT_ZSTD_LEVEL = 1


# What the fingerprint hashes: each row's key, time, amount, place and label. The
# entity-key strings are left out: hashing them cost as much as generating them.
FINGERPRINT_COLUMNS = (
    "transaction_id", "event_timestamp", "amount", "amount_eur", "latitude", "longitude",
    "distance_from_home_km", "is_fraud", "fraud_scenario",
)  # fmt: skip


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    fraud_rows: int
    bytes: int
    sha256: str
    fingerprint: str


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_slice(
    spec: DaySpec,
    shard: Shard,
    path: Path,
    *,
    compression: Compression = "zstd",
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    compression_level: int | None = None,
) -> WrittenFile:
    """Generate, validate and write one slice; the file is complete or absent."""
    totals = Totals()
    fingerprint = np.uint64(0)
    expected = spec.shard_rows(shard)
    started = time.monotonic()
    next_report = 0.0
    failure: list[BaseException] = []
    blocks_done, n_blocks = 0, len(spec.blocks(shard))

    def check(frame: pl.DataFrame) -> pl.DataFrame:
        nonlocal fingerprint, next_report, blocks_done
        blocks_done += 1
        try:
            validate_block(frame, spec.day)
        except BaseException as exc:  # polars may wrap it; keep the original to re-raise
            failure.append(exc)
            raise
        totals.add(frame)
        with np.errstate(over="ignore"):
            fingerprint += (
                frame.select(FINGERPRINT_COLUMNS).hash_rows(seed=0).to_numpy().sum(dtype=np.uint64)
            )
        share = totals.rows / expected if expected else 1.0
        if share >= next_report or totals.rows == expected:
            elapsed = time.monotonic() - started
            rate = totals.rows / elapsed if elapsed > 0 else 0.0
            log.info(
                "generated %s/%s rows (%.0f%%), block %d/%d validated, %s fraud, %.0f rows/s",
                f"{totals.rows:,}", f"{expected:,}", 100 * share, blocks_done, n_blocks,
                f"{totals.fraud_rows:,}", rate,
            )  # fmt: skip
            next_report = share + 0.1
        return frame

    frame = lazy_blocks(spec, shard, transform=check)
    try:
        frame.sink_parquet(
            path,
            compression=compression,
            compression_level=(
                compression_level
                if compression_level is not None
                else (DEFAULT_ZSTD_LEVEL if compression == "zstd" else None)
            ),
            row_group_size=row_group_rows,
            statistics=True,
        )
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if failure:
            raise failure[0] from None
        if is_disk_full(exc):
            raise DiskFull(
                f"no space left on device while writing {path}; free space or point TMPDIR "
                "at a larger volume"
            ) from None
        if isinstance(exc, OSError):
            raise JobError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    size = path.stat().st_size
    log.info(
        "wrote %s (%s rows, %.1f MB, %s) in %.1f s",
        path.name, f"{totals.rows:,}", size / 1e6, compression, time.monotonic() - started,
    )  # fmt: skip
    return WrittenFile(
        path=path,
        rows=totals.rows,
        fraud_rows=totals.fraud_rows,
        bytes=size,
        sha256=sha256_of(path),
        fingerprint=f"{int(fingerprint):016x}",
    )
