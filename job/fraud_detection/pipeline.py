"""One run of the job: preflight, generate + validate to a temp file, publish, finalise.

The pipeline drives: it pulls blocks from the simulator, checks each one
(`validation.SliceStats.add`) and hands it to the Parquet writer, which only encodes.

Publishing order makes a re-run replace the day and never duplicate it: parts are
uploaded whole (same key = atomic overwrite), then stale objects of the day (from
a run with more shards or another layout) are deleted, then the manifest is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fraud_detection import GENERATOR_VERSION
from fraud_detection.errors import IncompleteDay, UsageError, ValidationFailed
from fraud_detection.manifest import Manifest, PartInfo
from fraud_detection.schema import SCHEMA
from fraud_detection.settings import DEFAULT_ROW_GROUP_ROWS, Compression, JobSettings
from fraud_detection.simulator import DaySpec, PopulationSizes, Shard, iter_blocks
from fraud_detection.sinks.destination import Destination, parse_destination
from fraud_detection.sinks.layout import DayLayout
from fraud_detection.sinks.parquet import WrittenFile, write_parquet
from fraud_detection.tempfiles import work_dir
from fraud_detection.validation import SliceStats, Totals, check_totals

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    spec: DaySpec
    shard: Shard = field(default_factory=Shard)
    compression: Compression = "zstd"
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS


def run_job(job: JobSettings) -> Manifest:
    """The command line's one entry: a slice (or whole day), or --finalize."""
    dest = parse_destination(job.dest)
    spec = DaySpec(
        day=job.day,
        rows=job.rows,
        seed=job.seed,
        fraud_rate=job.fraud_rate,
        population=PopulationSizes(customers=job.customers, merchants=job.merchants),
    )
    try:
        shard = Shard(job.shard_index, job.shard_count)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    opts = RunOptions(spec, shard, job.compression, job.row_group_rows)
    return finalize(opts, dest) if job.finalize else run(opts, dest)


class _Progress:
    """A progress line at every 10 % of the slice (tests and operators key on them)."""

    def __init__(self, expected_rows: int, n_blocks: int) -> None:
        self.expected, self.n_blocks = expected_rows, n_blocks
        self.started = time.monotonic()
        self.next_share = 0.0

    def report(self, stats: SliceStats) -> None:
        rows = stats.totals.rows
        share = rows / self.expected if self.expected else 1.0
        if share < self.next_share and rows != self.expected:
            return
        elapsed = time.monotonic() - self.started
        log.info(
            "generated %s/%s rows (%.0f%%), block %d/%d validated, %s fraud, %.0f rows/s",
            f"{rows:,}", f"{self.expected:,}", 100 * share, stats.blocks, self.n_blocks,
            f"{stats.totals.fraud_rows:,}", rows / elapsed if elapsed > 0 else 0.0,
        )  # fmt: skip
        self.next_share = share + 0.1


def generate_slice(opts: RunOptions, path: Path) -> tuple[WrittenFile, SliceStats]:
    """Generate the slice block by block, check each block, and encode it into `path`."""
    spec, shard = opts.spec, opts.shard
    stats = SliceStats(spec.day)
    progress = _Progress(spec.shard_rows(shard), len(spec.blocks(shard)))
    started = time.monotonic()

    def checked_blocks() -> Iterator[pl.DataFrame]:
        # iter_blocks makes the next block on a worker thread while this one is
        # checked and encoded.
        for frame in iter_blocks(spec, shard):
            stats.add(frame)
            progress.report(stats)
            yield frame

    written = write_parquet(
        checked_blocks(), SCHEMA, path, compression=opts.compression,
        row_group_rows=opts.row_group_rows,
    )  # fmt: skip
    log.info(
        "wrote %s (%s rows, %.1f MB, %s) in %.1f s",
        path.name, f"{stats.totals.rows:,}", written.bytes / 1e6, opts.compression,
        time.monotonic() - started,
    )  # fmt: skip
    return written, stats


def _metadata(opts: RunOptions, part: PartInfo) -> dict[str, str]:
    spec = opts.spec
    return {
        "rows": str(part.rows),
        "fraud-rows": str(part.fraud_rows),
        "seed": str(spec.seed),
        "date": spec.day.isoformat(),
        "sha256": part.sha256,
        "fingerprint": part.fingerprint,
        "shard": part.shard,
        "day-rows": str(spec.rows),
        "fraud-rate": repr(spec.fraud_rate),
        "generator-version": GENERATOR_VERSION,
    }


def _manifest(
    opts: RunOptions, dest: Destination, layout: DayLayout, parts: list[PartInfo], *, complete: bool
) -> Manifest:
    spec = opts.spec
    return Manifest.from_parts(
        parts,
        date=spec.day.isoformat(),
        seed=spec.seed,
        target_fraud_rate=spec.fraud_rate,
        uri=dest.uri(layout.partition),
        generator_version=GENERATOR_VERSION,
        shards=opts.shard.count,
        complete=complete,
        shard=None if complete else str(opts.shard),
        customers=spec.population.customers,
        merchants=spec.population.merchants,
        compression=opts.compression,
        manifest_key=layout.manifest_key if complete else None,
    )


def run(opts: RunOptions, dest: Destination) -> Manifest:
    """Generate and publish one slice; with a single slice, also finalise the day."""
    spec, shard = opts.spec, opts.shard
    layout = DayLayout(dest.prefix, spec.day)
    log.info(
        "daily-synthetic %s: date=%s rows=%s seed=%s fraud-rate=%s shard=%s dest=%s",
        GENERATOR_VERSION, spec.day, f"{spec.rows:,}", spec.seed, spec.fraud_rate, shard, dest.describe(),
    )  # fmt: skip
    dest.preflight()
    key = layout.part_key(shard.index, shard.count)
    with work_dir() as tmp:
        written, stats = generate_slice(opts, tmp / Path(key).name)
        totals = stats.totals
        if shard.count == 1:
            check_totals(totals, spec.rows, spec.fraud_rate)
        elif totals.rows != spec.shard_rows(shard):
            # Fraud is not spread evenly over slices (night-time takeovers), so the
            # fraud-rate band is checked for the whole day, at --finalize.
            raise ValidationFailed(
                f"row count check failed: slice {shard} has {totals.rows} rows, "
                f"expected {spec.shard_rows(shard)}"
            )
        part = PartInfo(
            key=key, rows=totals.rows, fraud_rows=totals.fraud_rows, bytes=written.bytes,
            sha256=written.sha256, fingerprint=stats.fingerprint, shard=str(shard),
        )  # fmt: skip
        dest.publish(written.path, key, _metadata(opts, part))
    if shard.count > 1:
        log.info(
            "published slice %s; the day is complete after --finalize --shards %d",
            shard,
            shard.count,
        )
        return _manifest(opts, dest, layout, [part], complete=False)
    return _finish_day(opts, dest, layout, [part])


def finalize(opts: RunOptions, dest: Destination) -> Manifest:
    """After K slices were published: check them, drop stale objects, write the manifest."""
    spec, count = opts.spec, opts.shard.count
    layout = DayLayout(dest.prefix, spec.day)
    log.info("finalising %s: %d slices under %s", spec.day, count, dest.uri(layout.partition))
    dest.preflight()
    parts: list[PartInfo] = []
    problems: list[str] = []
    for index, key in enumerate(layout.part_keys(count)):
        obj = dest.head(key)
        if obj is None:
            problems.append(f"{Path(key).name} missing")
            continue
        m = obj.metadata
        expected_rows = spec.shard_rows(Shard(index, count))
        if m.get("seed") != str(spec.seed) or m.get("day-rows") != str(spec.rows):
            problems.append(
                f"{Path(key).name} was written with seed={m.get('seed')} rows={m.get('day-rows')}"
            )
        elif m.get("rows") != str(expected_rows):
            problems.append(f"{Path(key).name} has {m.get('rows')} rows, expected {expected_rows}")
        elif m.get("generator-version") != GENERATOR_VERSION:
            problems.append(f"{Path(key).name} came from generator {m.get('generator-version')}")
        else:
            parts.append(
                PartInfo(
                    key=key,
                    rows=int(m["rows"]),
                    fraud_rows=int(m.get("fraud-rows", "0")),
                    bytes=obj.size,
                    sha256=m.get("sha256", ""),
                    fingerprint=m.get("fingerprint", "0"),
                    shard=f"{index}/{count}",
                )
            )
    if problems:
        raise IncompleteDay(f"cannot finalise {spec.day}: " + "; ".join(problems))
    totals = Totals(rows=sum(p.rows for p in parts), fraud_rows=sum(p.fraud_rows for p in parts))
    check_totals(totals, spec.rows, spec.fraud_rate)
    return _finish_day(opts, dest, layout, parts)


def _finish_day(
    opts: RunOptions, dest: Destination, layout: DayLayout, parts: list[PartInfo]
) -> Manifest:
    keep = {p.key for p in parts} | {layout.manifest_key}
    stale = [k for k in dest.list_keys(layout.partition) if k not in keep]
    if stale:
        log.info("removing %d stale object(s) of an earlier run: %s", len(stale), ", ".join(stale))
        dest.delete(stale)
    manifest = _manifest(opts, dest, layout, parts, complete=True)
    dest.put_text(layout.manifest_key, manifest.to_json() + "\n", "application/json")
    log.info(
        "published %s: %s rows (%.3f%% fraud), %.1f MB in %d object(s)",
        manifest.uri, f"{manifest.rows:,}", 100 * manifest.fraud_rate, manifest.bytes / 1e6, len(parts),
    )  # fmt: skip
    return manifest
