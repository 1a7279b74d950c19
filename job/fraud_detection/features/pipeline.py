"""One features run: read the raw days through their manifests, compute, publish the day.

Only days with a `_manifest.json` are read (a day without one is not published yet). The day
itself must be published; a missing history day is skipped, logged, and named in the output
manifest (`history_missing`), because its payments are then missing from the windows.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from fraud_detection import GENERATOR_VERSION
from fraud_detection.deadline import Deadline
from fraud_detection.errors import IncompleteDay, UsageError
from fraud_detection.features.compute import (
    DEFAULT_LABEL_DELAY_DAYS,
    INPUT_COLUMNS,
    WINDOWS_DAYS,
    add_features,
    feature_columns,
    history_days,
)
from fraud_detection.features.source import RawFeed
from fraud_detection.manifest import FeaturesBody, table_fields, with_core
from fraud_detection.settings import DEFAULT_LEASE_TTL_SECONDS
from fraud_detection.sinks.destination import Destination
from fraud_detection.sinks.layout import DayLayout
from fraud_detection.sinks.lease import held_lease
from fraud_detection.sinks.parquet import arrow_schema, arrow_type_names, write_parquet
from fraud_detection.sinks.publish import DayPublication, publish_file
from fraud_detection.tempfiles import work_dir

log = logging.getLogger(__name__)

DATASET = "card_payments_features"
FEATURES_SUBDIR = "features"
PUBLISH_DEADLINE_SECONDS = 600.0  # staging + promotion of one file


@dataclass(frozen=True)
class FeaturesOptions:
    day: date
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS


def default_dest(source: str) -> str:
    """The features' root beside the raw feed's root, never inside it.

    `data/raw` → `<cwd>/data/features`, `s3://bucket/raw` → `s3://bucket/features`. Inside the
    raw root, a reader that globs `**/*.parquet` there would take features for payments. A
    bucket or filesystem root has no folder beside it: then --dest must be given.
    """
    if "://" in source:
        scheme, _, rest = source.partition("://")
        bucket, _, prefix = rest.partition("/")
        parts = [part for part in prefix.split("/") if part]
        if not parts:
            raise UsageError(
                f"the raw feed's root {source} is a bucket root, so the features have no "
                "default root beside it; pass --dest (a root outside the raw feed)"
            )
        dest = f"{scheme}://{'/'.join([bucket, *parts[:-1], FEATURES_SUBDIR])}"
        name = parts[-1]
    else:
        # abspath, not resolve(): `..` goes, but a symlinked root gets its folder beside the link
        path = Path(os.path.abspath(source))  # noqa: PTH100
        if path.parent == path:
            raise UsageError(
                f"the raw feed's root {source} is a filesystem root, so the features have no "
                "default root beside it; pass --dest (a root outside the raw feed)"
            )
        dest, name = str(path.parent / FEATURES_SUBDIR), path.name
    if name == FEATURES_SUBDIR:
        raise UsageError(
            f"the features' default root {dest} is the raw feed's root {source} itself; "
            "pass --dest (a root outside the raw feed)"
        )
    return dest


def _publish(
    dest: Destination,
    layout: DayLayout,
    written: Path,
    schema: pl.Schema,
    rows: int,
    metadata: dict[str, str],
    body: FeaturesBody,
) -> dict[str, Any]:
    """The raw feed's publishing, for one part: one commit of the features table, under
    the day's lease. Returns the manifest it published (table core, then `body`)."""
    deadline = Deadline(PUBLISH_DEADLINE_SECONDS)
    what = f"features of {layout.day} at {dest.uri(layout.partition)}"
    run_id = uuid.uuid4().hex[:12]
    key = layout.part_key(0, 1, run_id)
    published: list[dict[str, Any]] = []  # the manifest as written, once the commit is made

    def manifest_for(version: int) -> str:
        core = table_fields(
            dataset=DATASET, date=layout.day.isoformat(),
            root=dest.uri(layout.prefix).rstrip("/"), uri=dest.uri(layout.partition),
            keys=[key], manifest_key=layout.manifest_key, table_version=version,
            timestamp_field="event_timestamp", schema=arrow_type_names(schema),
        )  # fmt: skip
        published.append(with_core(core, body))
        return json.dumps(published[-1])

    with held_lease(dest, layout.lease_key, what, DEFAULT_LEASE_TTL_SECONDS, deadline) as lease:
        publication = DayPublication.under(
            lease, dest, layout, deadline, arrow_schema(schema), f"features run {run_id}"
        )
        publish_file(publication, written, rows, metadata, run_id, manifest_for)
    return published[-1]


def _scan(history_files: list[Path], day_files: list[Path]) -> pl.LazyFrame:
    """The day's rows, and history rows without their transaction_id (never needed, costly)."""
    today = pl.scan_parquet(day_files).select(INPUT_COLUMNS)
    if not history_files:
        return today
    history = (
        pl.scan_parquet(history_files)
        .select([c for c in INPUT_COLUMNS if c != "transaction_id"])
        .with_columns(pl.lit(None, dtype=pl.String).alias("transaction_id"))
        .select(INPUT_COLUMNS)
    )
    return pl.concat([history, today])


def run(opts: FeaturesOptions, source: Destination, dest: Destination) -> dict[str, Any]:
    """Compute and publish the features of `opts.day`; returns the features manifest."""
    started = time.monotonic()
    span = history_days(opts.day, opts.label_delay_days)
    days = [opts.day - timedelta(days=back) for back in range(span, -1, -1)]
    with work_dir() as tmp:
        feed = RawFeed(source, scratch=tmp / "raw")
        return _run(opts, feed, days, dest, tmp, started)


def _run(
    opts: FeaturesOptions,
    feed: RawFeed,
    days: list[date],
    dest: Destination,
    tmp: Path,
    started: float,
) -> dict[str, Any]:
    source = feed.source
    files: list[Path] = []  # the history days' files
    today_files: list[Path] = []
    used: list[str] = []
    missing: list[str] = []
    for day in days:
        day_files = feed.files(day)
        if day_files is None:
            if day == opts.day:
                raise IncompleteDay(
                    f"raw day {day} is not published under {source.describe()} (no "
                    "_manifest.json); run daily-synthetic for it first"
                )
            missing.append(day.isoformat())
            continue
        if day == opts.day:
            today_files = day_files
        else:
            files += day_files
        used.append(day.isoformat())
    if missing:
        log.warning(
            "%d of the %d history days are not published (%s ... %s): windows that reach "
            "them count fewer payments; backfill them first for complete features",
            len(missing), len(days) - 1, missing[0], missing[-1],
        )  # fmt: skip
    log.info(
        "features of %s from %d raw days (%d files)",
        opts.day,
        len(used),
        len(files) + len(today_files),
    )

    dest.preflight()
    layout = DayLayout(dest.prefix, opts.day)
    path = tmp / "features.parquet"
    frame = add_features(_scan(files, today_files), opts.day, opts.label_delay_days)
    # One day's rows (not the history) are collected, then written as the raw feed is:
    # Arrow `string` columns, which Feast and other readers take as they are.
    features = frame.collect()
    written = write_parquet([features], features.schema, path)
    rows = features.height
    fraud_rows = int(features["is_fraud"].sum())
    size, sha = written.bytes, written.sha256
    metadata = {
        "rows": str(rows), "date": opts.day.isoformat(), "sha256": sha,
        "generator-version": GENERATOR_VERSION,
    }  # fmt: skip
    body = FeaturesBody(
        rows=rows,
        fraud_rows=fraud_rows,
        bytes=size,
        sha256=sha,
        entity_keys=["transaction_id", "card_id", "customer_id", "terminal_id"],
        label="is_fraud",
        features=feature_columns(),
        windows_days=list(WINDOWS_DAYS),
        label_delay_days=opts.label_delay_days,
        source=source.describe(),
        source_days=used,
        history_missing=missing,
        generator_version=GENERATOR_VERSION,
        seconds=round(time.monotonic() - started, 2),
    )
    manifest = _publish(dest, layout, path, features.schema, rows, metadata, body)
    log.info("published %s rows of features for %s at %s", f"{rows:,}", opts.day, manifest["uri"])
    return manifest
