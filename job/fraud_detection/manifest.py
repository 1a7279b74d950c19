"""The manifest: the one-line JSON summary of a published day (or shard).

Every dataset's manifest (payments, fraud reports, features) starts with the same
core (`table_fields`): the dataset, the day, the Delta table's root and the version
that published the day, the day's files, a glob for the dataset's Parquet files, the
timestamp field, the partition columns with their types and the schema (column ->
Arrow type). Each dataset adds its own numbers, each as a typed record: the payments'
are `Manifest`, the fraud reports' `ReportsBody`, the features' `FeaturesBody`
(`with_core` puts the core first).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

DATASET = "card_payments_raw"
# The labels feed, a sibling dataset in the sub-folder of the same name (schema.REPORT_COLUMNS).
REPORTS_DATASET = "fraud_reports"
TIMESTAMP_FIELD = "event_timestamp"
# Hive partition columns, as the Delta table types them; the folders hold them unpadded
# (`month=6`), so readers that infer types from folder names agree on one integer type.
PARTITION_COLUMNS = {"year": "int32", "month": "int32", "day": "int32"}
TABLE_FORMAT = "delta"


def table_fields(
    *,
    dataset: str,
    date: str,
    root: str,
    uri: str,
    keys: list[str],
    manifest_key: str | None,
    table_version: int | None,
    timestamp_field: str,
    schema: dict[str, str],
) -> dict[str, Any]:
    """The core every dataset's manifest shares, in this order."""
    return {
        "dataset": dataset,
        "date": date,
        "table_format": TABLE_FORMAT,
        "table_version": table_version,
        "root": root,
        "uri": uri,
        "glob": f"{root}/year=*/month=*/day=*/*.parquet",
        "keys": keys,
        "manifest_key": manifest_key,
        "timestamp_field": timestamp_field,
        "partition_columns": dict(PARTITION_COLUMNS),
        "schema": schema,
    }


@dataclass(frozen=True)
class PartInfo:
    key: str
    rows: int
    fraud_rows: int
    bytes: int
    sha256: str
    fingerprint: str  # order-independent hash of the rows (same rows ⇔ same value)
    shard: str  # "i/K"


def combine_fingerprints(values: list[str]) -> str:
    """Sum of the parts' row-hash sums (mod 2^64): independent of the slicing."""
    return f"{sum(int(v, 16) for v in values) % (1 << 64):016x}"


def combine_sha256(parts: list[PartInfo]) -> str:
    """One part: its file's sha256. Several: sha256 over 'key sha256' lines, by key."""
    if len(parts) == 1:
        return parts[0].sha256
    lines = "".join(f"{p.key} {p.sha256}\n" for p in sorted(parts, key=lambda p: p.key))
    return hashlib.sha256(lines.encode()).hexdigest()


@dataclass(frozen=True)
class Manifest:
    date: str
    rows: int
    seed: int
    fraud_rows: int
    fraud_rate: float
    target_fraud_rate: float
    uri: str  # the day's partition folder
    keys: list[str]
    bytes: int
    sha256: str
    fingerprint: str
    generator_version: str
    shards: int
    complete: bool  # False for one shard's output before the day is finalised
    shard: str | None = None
    customers: int = 0
    merchants: int = 0
    objects: list[dict[str, Any]] = field(default_factory=list)
    dataset: str = DATASET
    format: str = "parquet"
    compression: str = "zstd"
    manifest_key: str | None = None
    root: str = ""  # the dataset root URI (what Feast, DuckDB or Athena point at)
    glob: str = ""  # every Parquet file of the dataset, under `root`
    timestamp_field: str = TIMESTAMP_FIELD
    partition_columns: dict[str, str] = field(default_factory=lambda: dict(PARTITION_COLUMNS))
    schema: dict[str, str] = field(default_factory=dict)  # column -> Arrow type
    settings: dict[str, str] = field(default_factory=dict)
    settings_digest: str = ""
    labels_root: str | None = None  # the fraud_reports feed of the same run, if published
    table_format: str = TABLE_FORMAT
    table_version: int | None = None  # the Delta version that published the day

    @classmethod
    def from_parts(cls, parts: list[PartInfo], core: dict[str, Any], **kw: Any) -> Manifest:
        """`core` from table_fields (its `keys` are the parts')."""
        rows = sum(p.rows for p in parts)
        fraud = sum(p.fraud_rows for p in parts)
        return cls(
            **{k: v for k, v in core.items() if k != "keys"},
            rows=rows,
            fraud_rows=fraud,
            fraud_rate=round(fraud / rows, 6) if rows else 0.0,
            keys=[p.key for p in parts],
            bytes=sum(p.bytes for p in parts),
            sha256=combine_sha256(parts),
            fingerprint=combine_fingerprints([p.fingerprint for p in parts]),
            objects=[asdict(p) for p in parts],
            **kw,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=False)


@dataclass(frozen=True)
class ReportsBody:
    """The fraud reports' own numbers, after the table core."""

    rows: int
    bytes: int
    sha256: str
    generator_version: str
    settings: dict[str, str]
    settings_digest: str
    complete: bool = True


@dataclass(frozen=True)
class FeaturesBody:
    """The features' own numbers, after the table core."""

    rows: int
    fraud_rows: int
    bytes: int
    sha256: str
    entity_keys: list[str]
    label: str
    features: list[str]
    windows_days: list[int]
    label_delay_days: int
    source: str
    source_days: list[str]
    history_missing: list[str]
    generator_version: str
    seconds: float
    complete: bool = True


def with_core(core: dict[str, Any], body: ReportsBody | FeaturesBody) -> dict[str, Any]:
    """A dataset's manifest: the table core first, then the dataset's own record."""
    return {**core, **asdict(body)}
