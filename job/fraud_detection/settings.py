"""What one run is asked to do, and the defaults: standard library only.

`daily-synthetic --help` reads its defaults from here, so it never loads polars,
numpy, dataframely or boto3. The simulator keeps its own copies of the row-shaping
defaults (it imports nothing outside itself but `schema`); a unit test keeps the
two equal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Literal

DEFAULT_ROWS = 1_000_000
MAX_ROWS = 50_000_000  # one container; shard above this (see --shard)
DEFAULT_SEED = 42
DEFAULT_FRAUD_RATE = 0.005  # the default profile's rate
# Fraud presets (simulator/profiles.py defines them); a run's --fraud-rate overrides the rate.
PROFILES = ("realistic", "training")
DEFAULT_PROFILE = "training"
MAX_FRAUD_RATE = 0.2
DEFAULT_CUSTOMERS = 400_000
DEFAULT_MERCHANTS = 40_000
MAX_POPULATION = 20_000_000
MAX_SHARDS = 1024

Compression = Literal["zstd", "snappy", "lz4", "gzip", "uncompressed"]
COMPRESSIONS: tuple[Compression, ...] = ("zstd", "snappy", "lz4", "gzip", "uncompressed")
# polars' writer holds a row group's rows until it is full (about 300 bytes a row): a
# million-row group adds ~300 MiB to the peak for ~4 bytes a row less than this one.
DEFAULT_ROW_GROUP_ROWS = 262_144
# The whole run's budget (generation, upload, publishing).
MAX_DEADLINE_SECONDS = 86_400.0
# The day's lease only avoids duplicate work (the table's log fences stale writers): a run
# renews it every third of this, so a killed run blocks its day for no longer than this.
DEFAULT_LEASE_TTL_SECONDS = 30.0


def default_deadline(rows: int) -> float:
    """Two minutes plus 100 µs a row: ~30x what a 1 M-row run takes on 2 cores."""
    return 120.0 + rows / 10_000


@dataclass(frozen=True)
class JobSettings:
    """One invocation of the job, as parsed from arguments and environment."""

    day: date
    rows: int = DEFAULT_ROWS
    dest: str | None = None
    labels_dest: str | None = None  # where the fraud_reports feed goes; None: not published
    seed: int = DEFAULT_SEED
    fraud_rate: float | None = None  # None: the profile's rate
    profile: str = DEFAULT_PROFILE
    customers: int = DEFAULT_CUSTOMERS
    merchants: int = DEFAULT_MERCHANTS
    shard_index: int = 0
    shard_count: int = 1
    finalize: bool = False
    compression: Compression = "zstd"
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS
    deadline_seconds: float | None = None  # None: default_deadline(rows)
    lease_ttl_seconds: float = DEFAULT_LEASE_TTL_SECONDS


def settings_digest(fields: dict[str, str]) -> str:
    """A short, stable digest of the settings that shape a slice's bytes."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
